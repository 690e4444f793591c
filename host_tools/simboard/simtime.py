# Virtual time for the simulated board (`time.py` re-exports it: under MicroPython that file
# shadows the built-in `time`; CPython tests import `simtime` directly). Firmware sleeps
# move the simulated clock instead of waiting. Ticks count from the last
# (simulated) boot and wrap at 2**30 like the ESP32 port. Wall time uses a 1970 epoch like
# the unix port; the ESP32 has no time zone, so localtime == gmtime.
import simcivil
import simclock

TICKS_PERIOD = 1 << 30
_MASK = TICKS_PERIOD - 1
_HALF = TICKS_PERIOD >> 1


def ticks_us():
    return simclock.boot_us() & _MASK


def ticks_ms():
    return (simclock.boot_us() // 1000) & _MASK


def ticks_cpu():
    return (simclock.boot_us() * (simclock.cpu_hz // 1_000_000)) & _MASK


def ticks_add(ticks, delta):
    if not -_HALF <= delta < _HALF:
        raise OverflowError("ticks interval overflow")
    return (ticks + delta) & _MASK


def ticks_diff(ticks1, ticks2):
    """Signed difference ticks1 - ticks2 in [-2**29, 2**29), correct across one wrap."""
    return ((ticks1 - ticks2 + _HALF) & _MASK) - _HALF


# Called before each sleep when set (simnet: notes a socket that became readable, so a reply's
# latency counts from when the data was there, not from when the firmware looked).
sleep_hook = None


def sleep(seconds):
    if sleep_hook is not None:
        sleep_hook()
    simclock.advance_us(round(seconds * 1_000_000))


def sleep_ms(ms):
    if not isinstance(ms, int):  # the port takes ints only
        raise TypeError("can't convert %s to int" % type(ms).__name__)
    if sleep_hook is not None:
        sleep_hook()
    if ms > 0:
        simclock.advance_us(ms * 1000)


def sleep_us(us):
    if not isinstance(us, int):
        raise TypeError("can't convert %s to int" % type(us).__name__)
    if sleep_hook is not None:
        sleep_hook()
    if us > 0:
        simclock.advance_us(us)


def time():
    return simclock.wall_us() // 1_000_000


def time_ns():
    return simclock.wall_us() * 1000


def gmtime(secs=None):
    return simcivil.gmtime(time() if secs is None else secs)


def localtime(secs=None):
    return gmtime(secs)


def mktime(local_time):
    return simcivil.mktime(local_time)
