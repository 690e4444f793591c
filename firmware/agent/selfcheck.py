# Self-checks a streetlight runs against its own sun clock (pure: times come in as arguments).
#
# PhotocellDrift compares when the photocell actually switched with when the sun clock expected
# it, night after night: a dirty or shaded sensor sees dusk early and dawn late (lamp on early,
# off late), a damaged or sun-struck one the opposite. DayBurner notices a lamp burning in broad
# daylight, the classic fault a city finds only by driving round at noon.
# Neither raises on odd numbers (NaN, inf, negatives): such input is ignored.
from micropython import const

from agent.sched import ticks_diff

SUNSET = "sunset"
SUNRISE = "sunrise"
_MAX_DEV_MIN = const(12 * 60)  # further apart than this, the two times are not the same event
_MIN_RECORDS = const(3)  # nights needed before a median means anything


def _finite(v):
    return v == v and v - v == 0  # NaN fails the first, +-inf the second


class PhotocellDrift:
    """Deviation of the photocell's switching from the sun clock, per event kind.

    record(event_name, switch_utc_s, expected_utc_s): event_name is "sunset" (lamp switched
    on) or "sunrise" (switched off); both times in UTC seconds. Pass ints: on the chip a float
    of today's epoch seconds is only good to about 2 minutes. The deviation is
    (switch - expected) in minutes, positive when the photocell was late; dirt gives negative
    sunset and positive sunrise deviations, damage the reverse.

    suspect: True when, for either kind with at least 3 records, the median of its last
    `nights` deviations is further than max_min minutes from 0 (a median, so one foggy
    evening or one car parked under the pole does not raise it).
    median_min: that median (the kind furthest from 0) for reports; None before 3 records of
    a kind. Unknown event names, non-finite times and deviations beyond 12 h are ignored.
    """

    def __init__(self, max_min, nights=5):
        self.max_min = max_min if _finite(max_min) else 45
        n = int(nights) if _finite(nights) and nights < 1000 else 5
        self.nights = n if n >= 1 else 1
        self._dev = {SUNSET: [], SUNRISE: []}  # oldest first, at most `nights` each
        self.suspect = False
        self.median_min = None

    def record(self, event_name, switch_utc_s, expected_utc_s):
        ring = self._dev.get(event_name)
        if ring is None or not (_finite(switch_utc_s) and _finite(expected_utc_s)):
            return self.suspect
        dev = (switch_utc_s - expected_utc_s) / 60
        if not -_MAX_DEV_MIN <= dev <= _MAX_DEV_MIN:
            return self.suspect
        ring.append(dev)
        if len(ring) > self.nights:
            ring.pop(0)
        worst = None
        for kind in (SUNSET, SUNRISE):
            m = self.median_of(kind)
            if m is not None and (worst is None or abs(m) > abs(worst)):
                worst = m
        self.median_min = worst
        self.suspect = worst is not None and abs(worst) > self.max_min
        return self.suspect

    def median_of(self, event_name):
        """Median deviation in minutes of the kept records of one kind, None before 3."""
        ring = self._dev.get(event_name)
        if ring is None or len(ring) < _MIN_RECORDS:
            return None
        s = sorted(ring)
        mid = len(s) // 2
        if len(s) & 1:
            return s[mid]
        return (s[mid - 1] + s[mid]) / 2


class DayBurner:
    """A lamp commanded on while the sun clock says day.

    update(level_pct, day_by_clock, now_ms): level in percent (on when > 0), day_by_clock
    True/False/None (None: the clock is unknown), now_ms a ticks_ms value. flag turns True
    once the lamp has been on for after_ms continuously in daytime, and False when it is seen
    off in daytime. At night and with an unknown clock the timer restarts and the flag is left
    as it was (an unknown clock never raises it). A NaN level is ignored."""

    def __init__(self, after_ms=30 * 60 * 1000):
        if not _finite(after_ms):
            after_ms = 30 * 60 * 1000
        self.after_ms = int(min(max(after_ms, 0), (1 << 29) - 1))
        self.flag = False
        self._last_ms = None
        self._on_ms = -1  # how long the lamp has been on in daytime, -1 when it is not

    def update(self, level_pct, day_by_clock, now_ms):
        if level_pct != level_pct:
            return self.flag
        last = self._last_ms
        self._last_ms = now_ms
        if day_by_clock is None or not day_by_clock:
            self._on_ms = -1
            return self.flag
        if level_pct <= 0:
            self._on_ms = -1
            self.flag = False
            return False
        if self._on_ms < 0 or last is None:
            self._on_ms = 0
        else:
            d = ticks_diff(now_ms, last)
            if d > 0:
                self._on_ms = min(self._on_ms + d, (1 << 29) - 1)
        if self._on_ms >= self.after_ms:
            self.flag = True
        return self.flag
