"""A virtual device: a device folder booted on the simulated board under the MicroPython unix
port, talking to a real broker. Used by the ring-3 tests (and the simulated street)."""

import json
import shutil
import subprocess
from pathlib import Path

from host_tools.upy import ROOT, SIMBOARD, micropython_env, micropython_exe

BOOT = SIMBOARD / "boot_device.py"


def make_device(folder: Path, config: dict, secrets: dict, board: str = "esp32-devkitc",
                extra_files: dict | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "boards" / f"{board}.json", folder / "board.json")
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "secrets.json").write_text(json.dumps(secrets))
    for name, data in (extra_files or {}).items():
        (folder / name).write_bytes(data)
    return folder


def start(folder: Path, run_s: float, heap: str = "2M", **opts) -> subprocess.Popen:
    args = [micropython_exe(), "-X", f"heapsize={heap}", str(BOOT), str(folder), str(run_s)]
    args += [f"{k}={v}" for k, v in opts.items()]
    return subprocess.Popen(args, env=micropython_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def finish(proc: subprocess.Popen, timeout_s: float = 60) -> tuple[dict, str]:
    """Wait for the device to end its run; (summary, console output)."""
    out, _ = proc.communicate(timeout=timeout_s)
    for line in reversed(out.splitlines()):
        if line.startswith("SUMMARY "):
            return json.loads(line[len("SUMMARY "):]), out
    raise AssertionError(f"device ended without a summary (exit {proc.returncode}):\n{out}")
