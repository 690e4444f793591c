# The simulated board's clock and life cycle: one virtual monotonic clock (integer
# microseconds, "world time", never reset by a board reset), a scheduler for world events,
# the wall-clock offset, the watchdog deadline, the reset cause and the chip choice.
# Firmware code runs in zero virtual time: only sleeps and blocking calls move the clock.
import heapq

import simchip

# Reset causes, same values as machine.*_RESET on the ESP32 port.
PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5

_NEVER = 1 << 62  # "no deadline": compares as an int and keeps the fast path one comparison


class BoardReset(BaseException):
    """The simulated chip reset (watchdog, machine.reset(), deepsleep...). A BaseException so
    firmware's `except Exception` cannot swallow it; the test catches it and boots again."""

    def __init__(self, cause):
        super().__init__(cause)
        self.cause = cause


_hooks = []  # fn(pristine): modules that hold board state clear it on reset()/chip reset


def on_reset(fn):
    """Register fn(pristine: bool), called by reset() (True) and by every chip reset (False)."""
    _hooks.append(fn)


def reset():
    """Pristine board and world: clock 0, no events, no pins or devices, power-on cause."""
    global _now, _boot, _events, _seq, _due, _wdt_deadline, _wdt_timeout, _cause
    global _wall_offset_us, chip, cpu_hz, rtc_memory, _woke, wake_reason, _caught
    _now = 0
    _caught = 0
    _boot = 0
    _events = []
    _seq = 0
    _due = _NEVER
    _wdt_deadline = _NEVER
    _wdt_timeout = 0
    _cause = PWRON_RESET
    wake_reason = 0  # machine.wake_reason(): TIMER_WAKE after a timed deepsleep
    _wall_offset_us = 0  # wall epoch seconds * 1e6 at world time 0; 0 = clock never set
    chip = simchip.DEFAULT_CHIP
    cpu_hz = 160_000_000
    rtc_memory = b""  # machine.RTC().memory(): survives chip resets like the RTC slow memory
    _woke = False
    set_pace(0)
    release_pace()
    for fn in _hooks:
        fn(True)


# ---- reading the clock ----

def now_us():
    """World time in microseconds since reset()."""
    if _pace:
        _catch_up()
    return _now


def now_ms():
    return now_us() // 1000


def now_s():
    """World time in seconds (float): what world functions of time receive."""
    return now_us() / 1_000_000


def own_us():
    """World time less what pacing caught up (host time spent outside sleeps and waits,
    scaled by the pace): the time the firmware itself asked to pass. Figures that must not
    depend on how busy the host is (a reply's latency) are taken on this clock."""
    return now_us() - _caught


def boot_us():
    """Microseconds since the chip last booted: what ticks_us() counts (before wrapping)."""
    if _pace:
        _catch_up()
    return _now - _boot


# ---- wall clock ----

def wall_us():
    """Wall-clock time in microseconds since 1970-01-01 UTC."""
    return _wall_offset_us + now_us()


def set_wall_us(epoch_us):
    """Set the wall clock to read epoch_us (integer microseconds since 1970) now."""
    global _wall_offset_us
    _wall_offset_us = int(epoch_us) - _now


def set_wall_time(epoch_s):
    """Set the wall clock so that it reads epoch_s (1970 epoch) now, as an RTC/NTP set does."""
    global _wall_offset_us
    _wall_offset_us = int(round(epoch_s * 1_000_000)) - _now


# ---- chip choice ----

def set_chip(name):
    """Select the simulated chip ('esp32', 'esp32c3', 'esp32s3'); do it before making pins."""
    global chip
    if name not in simchip.CHIPS:
        raise ValueError("unknown chip %r" % (name,))
    chip = name


def chip_info():
    return simchip.CHIPS[chip]


# ---- scheduler ----

def _recompute_due():
    global _due
    d = _wdt_deadline
    if _events and _events[0][0] < d:
        d = _events[0][0]
    _due = d


def at_us(t_us, fn, *args):
    """Run fn(*args) when the clock reaches world time t_us (now if already past).
    Returns a handle for cancel(). Equal times run in scheduling order."""
    global _seq
    t_us = int(t_us)
    if t_us < _now:
        t_us = _now
    _seq += 1
    ev = [fn, args, True]
    heapq.heappush(_events, (t_us, _seq, ev))
    if t_us < _due:
        _recompute_due()
    return ev


def at_ms(t_ms, fn, *args):
    return at_us(round(t_ms * 1000), fn, *args)


def after_us(dt_us, fn, *args):
    return at_us(_now + int(dt_us), fn, *args)


def after_ms(dt_ms, fn, *args):
    return at_us(_now + round(dt_ms * 1000), fn, *args)


def cancel(handle):
    if handle is not None:
        handle[2] = False


def next_due_us():
    """World time of the next pending event or watchdog deadline, or None."""
    while _events and not _events[0][2][2]:  # drop cancelled heads
        heapq.heappop(_events)
    _recompute_due()
    return None if _due >= _NEVER else _due


def pending():
    """Number of live scheduled events (for tests)."""
    return sum(1 for e in _events if e[2][2])


# ---- pacing against the real clock (off by default) ----

_pace = 0.0
_real = None


def set_pace(factor):
    """0 (default): virtual time runs as fast as the CPU allows. 1.0: sleeps also take real
    time (tests against real processes such as a broker, whose timeouts are real); 0.1: ten
    times faster than real. Virtual time then never runs ahead of scaled real time."""
    global _pace, _real, _pace_real0, _pace_virt0
    _pace = float(factor)
    if _pace:
        if _real is None:
            import realclock as _real  # the host's clock, never the board's time.py
        _pace_real0 = _real.time_ns()
        _pace_virt0 = _now


_held = 0.0  # the pace set aside by hold_pace(), 0 when not held
_caught = 0  # world time added by catch-ups (see own_us)


def hold_pace():
    """Stop pacing until release_pace(): for a span the chip times to the microsecond in one
    busy-waiting C call (an ultrasonic echo), host slowness must not leak into virtual time."""
    global _held
    if _pace and not _held:
        _held = _pace
        set_pace(0)


def release_pace():
    """Pace again (from now: the host time spent while held does not pass on the board)."""
    global _held
    if _held and not _pace:
        p, _held = _held, 0.0
        set_pace(p)
    else:
        _held = 0.0


_depth = 0  # _run_until calls in progress (world callbacks may read pins)


def sync():
    """Paced: run the world's events that a catch-up has overtaken, so a pin read sees the
    world as it is now (a valve's limit switch that moved while the host was busy). Never
    from inside a world callback."""
    if _pace and not _depth and now_us() >= _due:
        _run_until(_now, False)


def _catch_up():
    """Paced: real time spent outside sleeps (a blocking socket call, a slow computation)
    passes on the board too, so loop timings and the watchdog see it as they would."""
    global _now, _caught
    t = _pace_virt0 + int((_real.time_ns() - _pace_real0) / (1000 * _pace))
    if t > _now:
        _caught += t - _now
        _now = t


def pace():
    """The pace in force (0: unpaced or held)."""
    return _pace


def caught_us():
    return _caught


def waited_since(caught):
    """What pacing caught up since caught_us() read `caught` was the board waiting (a poll
    that the host served by waiting on a real socket), not host slowness: own time."""
    global _caught
    now_us()
    _caught = caught


def _wait_real(t):
    ahead = _pace_real0 + int((t - _pace_virt0) * _pace * 1000) - _real.time_ns()
    if ahead > 0:
        _real.sleep(ahead / 1e9)


# ---- advancing the clock ----

def _run_until(target, stop_on_irq):
    global _depth
    _depth += 1
    try:
        _run_events(target, stop_on_irq)
    finally:
        _depth -= 1


def _run_events(target, stop_on_irq):
    global _now, _woke
    _woke = False
    while _due <= target:
        t = _due
        if _pace:
            _wait_real(t)
        if t == _wdt_deadline and (not _events or _events[0][0] >= t):
            if t > _now:
                _now = t
            board_reset(WDT_RESET)
        t, _, ev = heapq.heappop(_events)
        _recompute_due()
        if not ev[2]:
            continue
        ev[2] = False
        if t > _now:  # never backwards, even if a callback slept (nested advance)
            _now = t
        ev[0](*ev[1])
        if stop_on_irq and _woke:
            return
    if _pace:
        _wait_real(target)
    if target > _now:
        _now = target


def advance_us(us):
    """Let us microseconds of virtual time pass, running due events in time order."""
    global _now
    target = _now + int(us)
    if _due > target and not _pace:  # the steady-state path: nothing happens meanwhile
        _now = target
        return
    _run_until(target, False)


def advance_ms(ms):
    advance_us(round(ms * 1000))


def advance_s(s):
    advance_us(round(s * 1_000_000))


def run_until_us(t_us):
    """Advance to world time t_us, running events due by then. A time already past still
    runs what is due: paced, the clock may have caught up beyond t_us meanwhile."""
    advance_us(t_us - _now if t_us > _now else 0)


def sleep_until_irq_us(us):
    """Advance up to us, returning early right after a pin irq handler ran (light sleep)."""
    global _now
    target = _now + int(us)
    if _due > target and not _pace:
        _now = target
        return
    _run_until(target, True)


def note_irq():
    """Called by the simulated machine when an irq handler runs: wakes a light sleep."""
    global _woke
    _woke = True


# ---- watchdog ----

def wdt_start(timeout_ms):
    global _wdt_timeout
    _wdt_timeout = int(timeout_ms) * 1000
    wdt_feed()


def wdt_feed():
    global _wdt_deadline
    if _wdt_timeout:
        _wdt_deadline = _now + _wdt_timeout
        _recompute_due()


def wdt_deadline_us():
    return None if _wdt_deadline >= _NEVER else _wdt_deadline


# ---- resets ----

def reset_cause():
    return _cause


def set_reset_cause(cause):
    global _cause
    _cause = cause


def chip_reset(cause):
    """What a reset does to the chip (the world goes on): watchdog off, ticks restart,
    peripherals back to power-on state, reset cause recorded for the next boot."""
    global _boot, _cause, _wdt_deadline, _wdt_timeout, wake_reason
    _cause = cause
    wake_reason = 0
    _boot = _now
    _wdt_deadline = _NEVER
    _wdt_timeout = 0
    _recompute_due()
    for fn in _hooks:
        fn(False)


def board_reset(cause):
    chip_reset(cause)
    raise BoardReset(cause)


reset()
