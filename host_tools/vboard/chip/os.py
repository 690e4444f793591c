# The board's `os` (MicroPython): the interpreter's own, made to answer as an ESP32's does
# where the unix port differs. `os` is an extensible built-in, so this file, imported first by
# _vboard from the folder of start.py, is what every later `import os` on the board gets.
#   os.uname()     the unix port has none
#   os.stat('')    the current folder, as the chip's VFS takes it (mpremote `cp -r d :`)
#   os.ilistdir()  entries carry their size, as on LittleFS/FAT (mpremote `fs ls`)
import sys
from collections import namedtuple

import uos
from uos import *  # noqa: F401,F403  (every function of the built-in os)

_Uname = namedtuple("uname_result", ("sysname", "nodename", "release", "version", "machine"))
_release = "%d.%d.%d" % sys.implementation.version[:3]
_machine = "vboard (%s image) with %s" % (uos.getenv("VBOARD_IMAGE") or "?",
                                          (uos.getenv("VBOARD_CHIP") or "esp32").upper())
_FILE = 0x8000


def uname():
    return _Uname("esp32", "esp32", _release, "v%s (virtual board)" % _release, _machine)


def stat(path):
    return uos.stat(path or ".")


def ilistdir(path="."):
    path = path or "."
    sep = b"/" if isinstance(path, bytes) else "/"
    base = path.rstrip(sep) + sep
    for entry in uos.ilistdir(path):
        size = 0
        if entry[1] == _FILE:
            try:
                size = uos.stat(base + entry[0])[6]
            except OSError:
                pass
        yield (entry[0], entry[1], entry[2], size)
