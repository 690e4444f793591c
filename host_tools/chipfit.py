"""Does a role fit a board's heap as it is deployed?

Two ways onto a chip: the agent frozen into a custom image (its bytecode stays in flash) or as
.mpy files copied onto a stock image (its bytecode is loaded into the GC heap). NEED_KB is the
heap each role needs to run, measured on the chip-like interpreter (host_tools.setup.chipport:
32-bit, float32) over simulated days; tests/test_chip.py proves each figure (the role survives
with exactly that heap) so it cannot silently grow, and `make bench` measures the real minimum.
"""

import functools
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from host_tools.setup import chipport
from host_tools.setup.checks import compile_tree
from host_tools.upy import FIRMWARE, ROOT

DEPLOYS = ("frozen", "mpy")
DAY_SCRIPT = ROOT / "host_tools" / "bench" / "day_upy.py"
# KB of GC heap a role needs, as deployed (proven by tests/test_chip.py): the measured
# minimum to 1 KB over the test's day, with SNTP sync, the crash-loop record and light-ahead
# in (1 KB less fails; the inlet's frozen 52 KB lived most days but once ran out at the day's
# end: the simulated day is not bit-for-bit repeatable). The .mpy figures grew with the
# day's new code (bytecode in the heap).
NEED_KB = {
    ("streetlight", "frozen"): 49,
    ("inlet", "frozen"): 53,
    ("streetlight", "mpy"): 128,
    ("inlet", "mpy"): 130,
}
# What the chip-fit work aims at: inside the ESP32's first heap area, and a stock image.
GOAL_KB = {"frozen": 48, "mpy": 112}


def fit_warning(board: dict, role: str, deploy: str) -> str | None:
    """One line if `role` deployed as `deploy` will not fit `board`'s heap, else None."""
    mem = board.get("memory")
    if not isinstance(mem, dict) or mem.get("psram"):
        return None  # unknown, or megabytes of PSRAM
    need, have = NEED_KB[(role, deploy)], mem["gc_heap_kb"]
    if need <= have:
        return None
    how = ("as .mpy files on a stock image" if deploy == "mpy"
           else "frozen into the image")
    fix = ("freeze the agent into a custom image (`make firmware`, docs/chip.md)"
           if deploy == "mpy" else "use a board with PSRAM")
    return (f"the {role} role {how} needs about {need} KB of GC heap; {board['name']} has "
            f"about {have} KB (no PSRAM): it would run out of memory. {fix.capitalize()}")


def device_folder(d: Path, role: str) -> None:
    """A device as a city would install it: a place for the sun clock, a branch for an inlet,
    a command key (signed commands are the default). No access point: the link keeps looking."""
    (d / "board.json").write_text((ROOT / "boards" / "esp32-devkitc.json").read_text())
    cfg = {"device": {"id": "fit-1", "role": role}, "mqtt": {"host": "127.0.0.1"}}
    if role == "streetlight":
        cfg["light"] = {"lat": 52.37, "lon": 4.90, "tz_offset_min": 60, "dst": "eu"}
    else:
        cfg["inlet"] = {"branch": "north"}
    (d / "config.json").write_text(json.dumps(cfg))
    (d / "secrets.json").write_text(json.dumps({"wifi": {"ssid": "street", "password": "pw"},
                                                "cmd": {"key": "5a" * 32}}))


@functools.cache
def _interpreters() -> dict[str, Path]:
    """The chip-like builds, brought up to date once per process (the bisection of
    min_heap_kb runs a dozen days on the same firmware)."""
    return chipport.build()


class OutOfMemory(Exception):
    pass


def run_day(role: str, deploy: str, heap_kb: int, hours: float = 24,
            quiet_min: int = 0) -> dict:
    """Run one role for `hours` of virtual time on the chip-like interpreter with a GC heap of
    heap_kb, deployed as `deploy`; the day's figures (host_tools/bench/day_upy.py), or
    OutOfMemory with the interpreter's last lines. quiet_min: then count what that many more
    minutes allocate (quiet_bytes, quiet_ticks)."""
    exes = _interpreters()
    with tempfile.TemporaryDirectory() as tmp:
        dev = Path(tmp) / "device"
        dev.mkdir()
        device_folder(dev, role)
        path = ".frozen"
        if deploy == "mpy":  # the agent's .mpy files on the path, as `mpremote cp` puts them
            errors = compile_tree(FIRMWARE, Path(tmp) / "fw")
            if errors:
                raise RuntimeError("\n".join(errors))
            path = f"{Path(tmp) / 'fw'}:.frozen"
        exe = exes["frozen" if deploy == "frozen" else "stock"]
        extra = [str(quiet_min)] if quiet_min else []
        # Run from the temporary folder: the script's path is held on the heap, so a copy
        # under a fixed-length name keeps the figure independent of where the checkout lies.
        script = Path(tmp) / "day.py"
        shutil.copy(DAY_SCRIPT, script)
        proc = subprocess.run([str(exe), "-X", f"heapsize={heap_kb}K", str(script),
                               str(dev), str(hours), role, *extra],
                              env=dict(os.environ, MICROPYPATH=path), capture_output=True,
                              text=True, timeout=600)
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    if proc.returncode != 0:
        raise OutOfMemory(f"{role} as {deploy} with {heap_kb} KB: " + " | ".join(lines[-3:]))
    return json.loads(lines[-1])


def min_heap_kb(role: str, deploy: str, hours: float = 24, step_kb: int = 4) -> int:
    """The smallest heap (to step_kb) with which the role lives `hours`, by bisection."""
    lo, hi = 8, 1024  # lo fails, hi lives
    while hi - lo > step_kb:
        mid = (lo + hi) // 2 // step_kb * step_kb
        try:
            run_day(role, deploy, mid, hours)
            hi = mid
        except OutOfMemory:
            lo = mid
    return hi
