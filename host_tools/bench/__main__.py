"""Run the benchmarks and print what they measured.

    python -m host_tools.bench

streetlight-day / inlet-day: a streetlight agent, then an inlet agent over a filling bin (its
role, link and comms loaded), lives 24 virtual hours on the simulated board under the
MicroPython unix port: wall time, loop passes, and the heap the agent's code (as .mpy) and
objects take.

About the heap: an ESP32 without PSRAM has about 112 KB of GC heap (MicroPython PR #13219).
This host port is 64-bit, so every pointer-sized slot (dict entries, list items, code
tables) takes twice the bytes it takes on the 32-bit chip; the bytes used here are an upper
bound for the chip, and half of them a lower one.
"""

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from host_tools.setup.checks import compile_tree
from host_tools.upy import MPLIB, ROOT, SIMBOARD, micropython_env, micropython_exe

ESP32_HEAP_KB = 112  # GC heap of an ESP32 without PSRAM (MicroPython PR #13219)
HOST_HEAP = "1M"  # room to measure; compare the result with the chip's heap, see above


def device_folder(d: Path, role: str) -> None:
    shutil.copy(ROOT / "boards" / "esp32-devkitc.json", d / "board.json")
    cfg = {"device": {"id": "bench-1", "role": role}, "mqtt": {"host": "127.0.0.1"}}
    if role == "inlet":
        cfg["inlet"] = {"branch": "north"}
    (d / "config.json").write_text(json.dumps(cfg))
    (d / "secrets.json").write_text(json.dumps({"wifi": {"ssid": "street"}}))


def precompiled_env(tmp: Path) -> dict:
    """Firmware and simulated board as .mpy, as a device runs them: compiling source on the
    fly would cost heap the chip never spends."""
    for src, name in ((ROOT / "firmware", "fw"), (SIMBOARD, "sim"), (MPLIB, "lib")):
        errors = compile_tree(src, tmp / name)
        if errors:
            raise SystemExit("\n".join(errors))
    env = micropython_env()
    env["MICROPYPATH"] = f"{tmp / 'fw'}:{tmp / 'sim'}:{tmp / 'lib'}"
    return env


def agent_day(role: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        dev = Path(tmp) / "device"
        dev.mkdir()
        device_folder(dev, role)
        out = subprocess.run(
            [micropython_exe(), "-X", f"heapsize={HOST_HEAP}",
             str(Path(__file__).parent / "day_upy.py"), str(dev), "24", role],
            env=precompiled_env(Path(tmp)), capture_output=True, text=True, timeout=600,
        )
    if out.returncode != 0:
        raise SystemExit(f"{role}-day failed:\n{out.stdout}{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def link_burst() -> dict:
    """A device makes an event every 10 ms for 6 s against a local Mosquitto: how many get
    through with QoS 1, and the worst loop pass meanwhile."""
    from host_tools import vdevice
    from host_tools.broker import Broker

    with tempfile.TemporaryDirectory() as tmp, Broker() as broker:
        cfg = {"device": {"id": "bench-2", "role": "streetlight"},
               "mqtt": {"host": "127.0.0.1", "port": broker.port, "queue_len": 512}}
        dev = vdevice.make_device(Path(tmp) / "dev", cfg, {"wifi": {"ssid": "street"}})
        summary, _ = vdevice.finish(vdevice.start(dev, run_s=6, events_ms=10))
    return summary


def main() -> int:
    b = link_burst()
    print(f"link-burst: {b['events_made']} events made in 6 s, {b['queued']} still queued, "
          f"{b['dropped']} dropped; worst loop pass {b['loop_us_max'] / 1000:.1f} ms")
    for role in ("streetlight", "inlet"):
        r = agent_day(role)
        print(f"{role}-day: 24 virtual hours in {r['wall_s']:.2f} s wall "
              f"({r['virtual_s_per_wall_s']}x real time), {r['ticks']} loop passes")
        print(f"{role}-day heap on this 64-bit host: agent code {r['heap_code_bytes']} B, "
              f"with its objects {r['heap_agent_bytes']} B; on the 32-bit chip between half "
              f"that and that, of its ~{ESP32_HEAP_KB} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
