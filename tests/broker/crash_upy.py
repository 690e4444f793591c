# Boots a device whose RTC memory holds a crash not yet published, as after a crash and the
# reset that follows it, then runs it as host_tools/simboard/boot_device.py does.
#   micropython crash_upy.py BOOT_DEVICE_PY DEVICE_DIR [run_s] [key=value ...]
import sys

import simclock

from agent import crashloop

rec = crashloop.after_crash(crashloop.empty(), 12, "run", "ZeroDivisionError: boom", 3, 600)
simclock.rtc_memory = crashloop.encode(rec)
boot = sys.argv.pop(1)  # boot_device.py reads DEVICE_DIR and the rest from sys.argv[1:]
with open(boot) as f:
    exec(f.read())
