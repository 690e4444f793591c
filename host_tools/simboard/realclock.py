# The host's own clock, which simclock.set_pace() paces virtual time against: time_ns() and
# sleep(s). Never the board's time.py (which stands for `time` under MicroPython and imports
# simtime -> simclock): MicroPython's `utime` is its built-in clock even where that file
# shadows `time`, and CPython's `time` is compiled in, so no file on sys.path can shadow it.
import sys

if sys.implementation.name == "micropython":
    from utime import sleep, time_ns  # noqa: F401
else:
    from time import sleep, time_ns  # noqa: F401  (CPython's built-in)
