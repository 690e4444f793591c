# The board's `os` (MicroPython): the interpreter's own, plus os.uname() as an ESP32 answers
# it (the unix port has none). `os` is an extensible built-in, so this file, imported first by
# _vboard from the folder of start.py, is what every later `import os` on the board gets.
import sys
from collections import namedtuple

from uos import *  # noqa: F401,F403  (every function of the built-in os)
from uos import getenv

_Uname = namedtuple("uname_result", ("sysname", "nodename", "release", "version", "machine"))
_release = "%d.%d.%d" % sys.implementation.version[:3]
_machine = "vboard (%s image) with %s" % (getenv("VBOARD_IMAGE") or "?",
                                          (getenv("VBOARD_CHIP") or "esp32").upper())


def uname():
    return _Uname("esp32", "esp32", _release, "v%s (virtual board)" % _release, _machine)
