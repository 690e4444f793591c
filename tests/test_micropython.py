"""Ring 2: each tests/upy/test_*.py runs in a fresh MicroPython unix-port process with the
simulated board (machine, network, virtual time) and the firmware on its module path."""

import os
import subprocess
from pathlib import Path

import pytest

from host_tools.upy import micropython_env, micropython_exe

UPY = Path(__file__).parent / "upy"
MODULES = sorted(p.stem for p in UPY.glob("test_*.py"))


@pytest.mark.parametrize("module", MODULES)
def test_under_micropython(module, tmp_path):
    env = micropython_env(extra=[UPY])
    env["UPY_TMP"] = str(tmp_path)  # scratch space the upy test may use, cleaned by pytest
    proc = subprocess.run(
        [micropython_exe(), "-X", "heapsize=64M", str(UPY / "run.py"), module],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=os.getcwd(),
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{module} failed under MicroPython:\n{out}"
    assert "PASS" in out
