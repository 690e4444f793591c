"""Ring 2 on the chip-like interpreter: MicroPython built 32-bit with float32 (the ESP32's object
sizes and arithmetic) and the agent frozen in, as in a production image (host_tools/setup/
chipport.py; built or refrozen here when firmware/ changed).

- The ring-2 modules whose results depend on numbers run here too, so float32 problems are found
  by the real arithmetic. Heaps: the board's (112 KB) where the test's own data allows; more
  where the simulated board keeps a whole night's pin log for the test to read (a cost of the
  simulator, not the agent: the budgets below run without it).
- Each role runs a simulated day with exactly the heap host_tools/chipfit.py says it needs, as a
  frozen image and as .mpy files: if an agent stops fitting its budget, this fails.
"""

import os
import subprocess
from pathlib import Path

import pytest

from host_tools import chipfit
from host_tools.setup import chipport

UPY = Path(__file__).parent / "upy"
BOARD_HEAP_KB = 112
# module: GC heap in KB (the board's, or what the simulator's logs need on top).
MODULES = {
    "test_astro": BOARD_HEAP_KB,
    "test_dimmer": BOARD_HEAP_KB,
    "test_fill": BOARD_HEAP_KB,
    "test_inlet": BOARD_HEAP_KB,
    "test_sensing": BOARD_HEAP_KB,
    "test_quiet_ticks": BOARD_HEAP_KB,  # 0 bytes per quiet tick, measured on the chip too
    "test_inlet_quiet": BOARD_HEAP_KB,
    "test_ranging": 256,  # the ranger's trigger and echo pins logged for every ping
    "test_streetlight_night": 8192,  # a night of lamp, LED and sensor pin logs
    "test_boot": 8192,  # 24 hours of status LED log
}


@pytest.fixture(scope="session")
def chip():
    return chipport.build()


@pytest.mark.parametrize("module", sorted(MODULES))
def test_ring2_module_on_the_chip(chip, module, tmp_path):
    env = dict(os.environ, MICROPYPATH=f"{UPY.resolve()}:.frozen", UPY_TMP=str(tmp_path))
    proc = subprocess.run([str(chip["frozen"]), "-X", f"heapsize={MODULES[module]}K",
                           str(UPY / "run.py"), module], env=env, capture_output=True,
                          text=True, timeout=300, cwd=chipport.ROOT)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "PASS" in out, f"{module} failed on the chip:\n{out}"


@pytest.mark.parametrize("role, deploy", sorted(chipfit.NEED_KB))
def test_each_role_lives_a_day_in_its_heap_budget(chip, role, deploy):
    need = chipfit.NEED_KB[(role, deploy)]
    day = chipfit.run_day(role, deploy, need)  # raises OutOfMemory if it does not fit
    assert day["now_ms"] == 24 * 3600 * 1000
    # Every module the running agent holds is one the boot loads leaf first (agent.app), so
    # no deep chain of imports can raise the boot's peak unnoticed; the validators are gone.
    from agent import app

    kept = {"agent", "agent.app", "agent.hal", "agent.pins", "agent.sched"}
    expected = kept | set(app.LINK_MODULES) | set(app.ROLE_MODULES[role])
    assert set(day["modules"]) <= expected, set(day["modules"]) - expected
    assert not set(day["modules"]) & set(app.BOOT_ONLY)
