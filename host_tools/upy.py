"""Where the MicroPython unix port is and how to put firmware + simulated board on its path."""

import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the checkout
FIRMWARE = ROOT / "firmware"
SIMBOARD = ROOT / "host_tools" / "simboard"
MPLIB = ROOT / ".cache" / "mplib"


def micropython_exe() -> str:
    here = Path(sys.executable).parent / "micropython"
    if here.exists():
        return str(here)
    found = shutil.which("micropython")
    if not found:
        raise RuntimeError("micropython not found: run `make setup` first")
    return found


def micropython_env(extra=()) -> dict:
    # ".frozen": the port's own frozen modules (ssl, asyncio...), dropped when MICROPYPATH is set
    path = [str(p) for p in extra] + [str(FIRMWARE), str(SIMBOARD), str(MPLIB), ".frozen"]
    env = dict(os.environ)
    env["MICROPYPATH"] = ":".join(path)
    return env
