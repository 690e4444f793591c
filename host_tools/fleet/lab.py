"""A lab to try the operator tools on, with no hardware: a private Mosquitto on a free
loopback port and device folders (default: examples/streetlight and examples/inlet) booted
on the simulated board against it, signed commands on as the folders say. It prints the
`street cmd` and `street monitor` lines to use, then runs until Ctrl-C and stops every
process it started by its PID.

    .venv/bin/python -m host_tools.fleet.lab [DEVICE_DIR ...] [--out DIR]
"""

import argparse
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from agent import config
from host_tools import vdevice
from host_tools.broker import Broker
from host_tools.upy import ROOT, micropython_env, micropython_exe

EXAMPLES = (ROOT / "examples" / "streetlight", ROOT / "examples" / "inlet")


def copy_devices(folders, out: Path, port: int) -> list[Path]:
    """Each folder copied under out/devices/<id>, its config pointed at 127.0.0.1:port
    (plain MQTT: the lab broker has no TLS). ValueError naming a folder that is no device."""
    made = []
    for src in map(Path, folders):
        try:
            cfg = json.loads((src / "config.json").read_text())
            dev_id = config.load(cfg, str(src / "config.json"))["device"]["id"]
        except (OSError, ValueError) as e:
            raise ValueError("%s: not a usable device folder: %s"
                             % (src, " ".join(str(e).split()))) from e
        dst = out / "devices" / dev_id
        shutil.copytree(src, dst, dirs_exist_ok=True)
        cfg["mqtt"].update({"host": "127.0.0.1", "port": port, "tls": False})
        (dst / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
        made.append(dst)
    return made


def boot(folder: Path, logs: Path) -> subprocess.Popen:
    """The device on the simulated board until stopped; its console goes to a log file
    (a pipe nobody reads would fill up and stall the device)."""
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / (folder.name + ".log"), "w") as log:
        return subprocess.Popen([micropython_exe(), "-X", "heapsize=2M", str(vdevice.BOOT),
                                 str(folder), "0"], env=micropython_env(),
                                stdout=log, stderr=subprocess.STDOUT)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m host_tools.fleet.lab",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("folders", nargs="*", default=[str(p) for p in EXAMPLES],
                    metavar="DEVICE_DIR", help="device folders (default: the examples)")
    ap.add_argument("--out", default=None, metavar="DIR",
                    help="where the copies and the counters go (default: a temporary folder)")
    ap.add_argument("--for", dest="for_s", type=float, default=0, metavar="S",
                    help="stop after S seconds (default: at Ctrl-C)")
    args = ap.parse_args(argv)
    tmp = None if args.out else tempfile.TemporaryDirectory(prefix="street-lab-")
    out = Path(args.out or tmp.name).absolute()
    broker = Broker().start()
    procs = []
    try:
        try:
            folders = copy_devices(args.folders, out, broker.port)
        except ValueError as e:
            print("error: %s" % e)
            return 2
        procs = [boot(f, out / "logs") for f in folders]
        common = "--port %d --keys %s --state-dir %s" % (broker.port, out / "devices",
                                                         out / "state")
        print("lab broker on 127.0.0.1:%d, devices: %s" % (
            broker.port, ", ".join(f.name for f in folders)))
        print("try, in another terminal:")
        print("  street cmd ping all %s" % common)
        print("  street monitor %s" % common)
        print("Ctrl-C stops the devices and the broker", flush=True)
        asked = []
        signal.signal(signal.SIGINT, lambda signum, frame: asked.append(signum))
        end = time.monotonic() + args.for_s if args.for_s > 0 else None
        while not asked and (end is None or time.monotonic() < end):
            if all(p.poll() is not None for p in procs):
                print("every device has stopped (a set or reboot ends a simulated run)")
                break
            time.sleep(0.2)
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)  # as Ctrl-C at the REPL: the agent stops
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        broker.close()
        if tmp is not None:
            tmp.cleanup()
    print("lab stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
