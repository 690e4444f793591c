# Wall-clock time (shell: reads the RTC through time.time()). The pure modules take wall-clock
# seconds as an argument; the shells that feed them ask here.
import time

VALID_AFTER = 1704067200  # 2024-01-01: a wall clock before that was never set
# Older ESP32 ports count time.time() from 2000, the unix port from 1970.
EPOCH_SHIFT = 946684800 if time.gmtime(0)[0] == 2000 else 0


def wall_s():
    """Wall-clock epoch seconds (1970 epoch), or None when the clock is not set."""
    t = time.time() + EPOCH_SHIFT
    return int(t) if t >= VALID_AFTER else None
