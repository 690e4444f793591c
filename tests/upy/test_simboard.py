# Ring 2: the simulated board's behaviour under the MicroPython unix port. The cases are shared
# with the CPython ring (tests/sim/test_simboard.py); run.py resets the board before each.
from simboard_cases import *  # noqa: F401,F403
