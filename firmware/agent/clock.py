# Wall-clock time (shell: reads the RTC through time.time(), sets it through machine.RTC). The
# pure modules take wall-clock seconds as an argument; the shells that feed them ask here.
import time

from machine import RTC

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


def wall_ms():
    """The RTC in ms since 1970, set or not (a long int: for the time sync, not per tick)."""
    return time.time_ns() // 1000000 + EPOCH_SHIFT * 1000


def set_wall_ms(ms):
    """Set the RTC to read `ms` (since 1970) now; it survives a soft reset on the chip."""
    t = time.gmtime(ms // 1000 - EPOCH_SHIFT)
    RTC().datetime((t[0], t[1], t[2], t[6], t[3], t[4], t[5], ms % 1000 * 1000))
