"""`make test`'s runner: the three rings of tests, each under its own heading, on both cores.

    python tests/rings.py [--jobs N] ring1 [ring2 [ring3]]

Each ring is one pytest run with pytest-xdist (-n N; a work unit is a test file, or one
ring-2 MicroPython module, handed out longest first: see tests/conftest.py). The ring-3
day of inlets takes minutes of real time on its paced clock while using about half a core,
so when ring 3 is asked for with an earlier ring, that one file starts at once in a pytest of
its own beside rings 1 and 2, and its report is shown under ring 3's heading. Any failure,
and a ring that collects no test (pytest's exit 5), makes the exit status non-zero.
"""

import argparse
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTEST = [sys.executable, "-m", "pytest", "-o", "console_output_style=count"]
RINGS = {
    "ring1": ("ring 1: pure core and host tools under CPython (tests/core, tests/host, "
              "tests/sim)", ["tests/core", "tests/host", "tests/sim"], ["--dist", "loadfile"]),
    "ring2": ("ring 2: the firmware under MicroPython, the 64-bit unix port and the chip-like "
              "32-bit float32 build (tests/upy, one process per module; tests/test_chip.py)",
              ["tests/test_micropython.py", "tests/test_chip.py"],
              ["--dist", "load", "--verbosity=1"]),
    "ring3": ("ring 3: whole agents against a real Mosquitto (tests/broker)",
              ["tests/broker"], ["--dist", "loadfile", "--verbosity=1"]),
}
EARLY = "tests/broker/test_inlet_day.py"  # started beside rings 1 and 2 (see above)


def heading(text):
    print("\n==== %s ====" % text, flush=True)


def run(args):
    return subprocess.call(PYTEST + args, cwd=ROOT)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", "-j", default="2", help="pytest-xdist workers per ring (2)")
    ap.add_argument("rings", nargs="+", choices=sorted(RINGS))
    opts = ap.parse_args(argv)
    parallel = ["-n", opts.jobs, "--no-loadscope-reorder"]
    early = None
    if "ring3" in opts.rings and opts.rings[0] != "ring3":
        log = tempfile.TemporaryFile(mode="w+")
        print("(the day of inlets, %s, starts now beside the earlier rings; its report comes "
              "under ring 3)" % EARLY, flush=True)
        early = (subprocess.Popen(PYTEST + ["--verbosity=1", EARLY], cwd=ROOT, stdout=log,
                                  stderr=subprocess.STDOUT), log, time.monotonic())
    failed = []
    try:
        failed = run_rings(opts.rings, parallel, early)
    finally:
        if early and early[0].poll() is None:  # interrupted: stop our own pytest, by its PID,
            early[0].send_signal(signal.SIGINT)  # as Ctrl-C would: its broker and devices too
            try:
                early[0].wait(30)
            except subprocess.TimeoutExpired:
                early[0].kill()
                early[0].wait()
    if failed:
        print("\nFAILED: " + "; ".join(failed), flush=True)
        return 1
    return 0


def run_rings(rings, parallel, early):
    failed = []
    for ring in rings:
        title, paths, extra = RINGS[ring]
        heading(title)
        skip = ["--ignore", EARLY] if ring == "ring3" and early else []
        code = run(parallel + extra + skip + paths)
        if code != 0:
            failed.append("%s (pytest exit %d%s)" % (ring, code, ", no tests" if code == 5
                                                     else ""))
        if ring == "ring3" and early:
            proc, log, t0 = early
            heading("ring 3, continued: %s (started with ring 1)" % EARLY)
            code = proc.wait()
            early = None
            print("(%.0f s from its start)" % (time.monotonic() - t0), flush=True)
            log.seek(0)
            sys.stdout.write(log.read())
            sys.stdout.flush()
            if code != 0:
                failed.append("ring 3: %s (pytest exit %d)" % (EARLY, code))
    return failed


if __name__ == "__main__":
    sys.exit(main())
