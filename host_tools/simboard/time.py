# Shadows MicroPython's built-in `time` with the simulated board's virtual time (see simtime).
# Under CPython the built-in `time` wins; import `simtime` there instead.
from simtime import *  # noqa: F401,F403
