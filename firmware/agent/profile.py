# Night profile by local time, and a stand-in for local time when the clock is unknown (pure).

from micropython import const

from agent.civil import minutes
from agent.sched import ticks_add, ticks_diff

_DAY_MS = const(86400000)
_HALF_DAY_MS = const(_DAY_MS // 2)
_MIN_NIGHT_MS = const(3 * 3600000)  # shorter: a lamp test, a cloud burst, a technician
_MAX_NIGHT_MS = const(18 * 3600000)  # longer: a switch stuck on, a dark-day storm
_KEEP = const(4)  # nights averaged: smooths switching jitter, follows the seasons within days


def step_minute(t):
    # Steps come as "HH:MM" from the config; already-parsed minutes are accepted too.
    return t if isinstance(t, int) else minutes(t)


def level_at(steps, minute):
    """Level of the last step at or before `minute` (0..1439), wrapping over midnight: before
    the day's first step the last step of the previous evening still holds. Steps may be in
    any order; an empty list gives None."""
    at_t = at_level = None  # the latest step at or before minute
    top_t = top_level = None  # the latest step of all, which holds across midnight
    for t, level in steps:
        m = step_minute(t)
        if m is None:
            continue
        if m <= minute and (at_t is None or m > at_t):
            at_t, at_level = m, level
        if top_t is None or m > top_t:
            top_t, top_level = m, level
    return at_level if at_t is not None else top_level


def solar_midnight_local(lon, tz_offset_min):
    """Minute of the local standard-time day at which the middle of the night falls on
    average: solar midnight is at 00:00 UTC at Greenwich, 4 minutes earlier per degree east."""
    return int(round(1440 - lon * 4.0 + tz_offset_min)) % 1440


def _wrap_day(ms):
    """ms folded into [-12 h, 12 h): a time of day relative to a reference."""
    return (ms + _HALF_DAY_MS) % _DAY_MS - _HALF_DAY_MS


class VirtualMidnight:
    """Learns the local time of day from the lamp's own nights, for when no clock is valid
    (no network, no RTC): the middle of each night (between switch-on and switch-off) falls
    near solar midnight, which maps to `midnight_local_min` (solar_midnight_local).

    All times are ticks_ms. Ticks wrap after 2**30 ms (about 12.4 days) and a ticks_diff is
    only meaningful within half of that, so nothing holds an old tick: the reference is
    re-based to each new night's midpoint, the stored nights are kept as offsets from it
    within a day, and local_minute moves the reference forward by whole days as time passes.
    """

    def __init__(self, midnight_local_min):
        self.midnight = midnight_local_min
        self.nights = 0  # valid nights seen so far
        self._phase = [0] * _KEEP  # midpoints of the last nights, ms from _ref within a day
        self._next = 0  # ring-buffer slot for the next night
        self._ref = 0  # tick of the latest night's midpoint
        self._on = 0
        self._is_on = False

    def switched_on(self, now_ms):
        self._on = now_ms
        self._is_on = True

    def switched_off(self, now_ms):
        if not self._is_on:
            return
        self._is_on = False
        length = ticks_diff(now_ms, self._on)
        if not _MIN_NIGHT_MS <= length <= _MAX_NIGHT_MS:
            return
        mid = ticks_add(self._on, length // 2)
        if self.nights:
            # Re-base: express the kept nights relative to the new midpoint.
            shift = _wrap_day(ticks_diff(mid, self._ref))
            for i in range(_KEEP):
                self._phase[i] = _wrap_day(self._phase[i] - shift)
        self._ref = mid
        self._phase[self._next] = 0
        self._next = (self._next + 1) % _KEEP
        self.nights += 1

    def local_minute(self, now_ms):
        """Estimated local minute of the day now, or None before the first valid night."""
        if not self.nights:
            return None
        ahead = ticks_diff(now_ms, self._ref)
        if ahead >= _DAY_MS:
            # Keep the reference within a day of now, so ticks_diff never spans a wrap.
            self._ref = ticks_add(self._ref, (ahead // _DAY_MS) * _DAY_MS)
            ahead %= _DAY_MS
        n = min(self.nights, _KEEP)
        total = 0
        for i in range(n):
            # The most recent n slots; older ones may still hold values from before.
            total += self._phase[(self._next - 1 - i) % _KEEP]
        since_mid = ahead - total // n  # ms since the estimated middle of the night
        return (self.midnight + since_mid // 60000) % 1440
