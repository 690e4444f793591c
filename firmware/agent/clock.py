# Wall-clock time (shell: reads the RTC through time.time()). The pure modules take wall-clock
# seconds as an argument; the shells that feed them ask here.
import time

VALID_AFTER = 1704067200  # 2024-01-01: a wall clock before that was never set
# Older ESP32 ports count time.time() from 2000, the unix port from 1970.
EPOCH_SHIFT = 946684800 if time.gmtime(0)[0] == 2000 else 0


def wall_s():
    """Wall-clock epoch seconds (1970 epoch), or None when the clock is not set.
    A set clock's seconds are a long int on the 32-bit chip (an allocation): callers on a
    quiet path read it once a minute, not every tick."""
    t = time.time()
    if not EPOCH_SHIFT and type(t) is int and t < 0x40000000:
        return None  # a small int is before 2004: never set (and no long-int comparison)
    t += EPOCH_SHIFT
    return int(t) if t >= VALID_AFTER else None
