# Calendar and local time without `datetime` (pure: integers in, integers out).
#
# Day numbers count days since 2000-01-01 (day 0, a Saturday): small ints that fit the
# MicroPython small-int range and keep the astronomy's time argument short (see astro.py).
# Wall-clock seconds come in on the 1970 epoch; the caller converts from the board's epoch.

from micropython import const

_EPOCH_2000 = const(10957)  # days from 1970-01-01 to 2000-01-01
_DAY_S = const(86400)
# Days from 0000-03-01 (start of the proleptic Gregorian 400-year cycle, counted from March
# so the leap day falls at the end of the year) to 2000-01-01.
_SHIFT = const(730425)
_CYCLE_DAYS = const(146097)  # days in 400 Gregorian years


def days_from_civil(y, m, d):
    """Day number (days since 2000-01-01) of the Gregorian date y-m-d."""
    if m <= 2:
        y -= 1  # January and February belong to the previous March-based year
    cycle = y // 400
    yoc = y - cycle * 400  # year of the cycle, 0..399
    doy = (153 * ((m + 9) % 12) + 2) // 5 + d - 1  # day of the March-based year, 0..365
    doc = yoc * 365 + yoc // 4 - yoc // 100 + doy  # day of the cycle
    return cycle * _CYCLE_DAYS + doc - _SHIFT


def civil_from_days(n):
    """(year, month, day) of day number n; the inverse of days_from_civil."""
    z = n + _SHIFT
    cycle = z // _CYCLE_DAYS
    doc = z - cycle * _CYCLE_DAYS
    # Years of the cycle, correcting for the leap days of every 4th/100th/400th year.
    yoc = (doc - doc // 1460 + doc // 36524 - doc // 146096) // 365
    doy = doc - (365 * yoc + yoc // 4 - yoc // 100)
    mp = (5 * doy + 2) // 153  # month of the March-based year, 0 = March
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    y = cycle * 400 + yoc + (1 if m <= 2 else 0)
    return y, m, d


def weekday(n):
    """0 = Monday .. 6 = Sunday (2000-01-01 was a Saturday)."""
    return (n + 5) % 7


def split_utc(utc_s):
    """(day number, seconds into that UTC day) of 1970-epoch seconds, integers only."""
    q, r = divmod(int(utc_s), _DAY_S)
    return q - _EPOCH_2000, r


def _last_sunday(y, m, last_day):
    n = days_from_civil(y, m, last_day)
    return n - (weekday(n) + 1) % 7


def _nth_sunday(y, m, nth):
    n = days_from_civil(y, m, 1)
    return n + (6 - weekday(n)) % 7 + 7 * (nth - 1)


def _summer(t, tz_offset_min, dst):
    """Whether t (seconds since 2000-01-01 00:00 UTC) falls in summer time."""
    if dst == "eu":
        # One instant for the whole union: 01:00 UTC on the last Sundays of March/October.
        y = civil_from_days(t // _DAY_S)[0]
        start = _last_sunday(y, 3, 31) * _DAY_S + 3600
        end = _last_sunday(y, 10, 31) * _DAY_S + 3600
    elif dst == "us":
        # 02:00 local: standard time on the 2nd Sunday of March, daylight time on the 1st
        # Sunday of November.
        y = civil_from_days((t + tz_offset_min * 60) // _DAY_S)[0]
        start = _nth_sunday(y, 3, 2) * _DAY_S + 7200 - tz_offset_min * 60
        end = _nth_sunday(y, 11, 1) * _DAY_S + 7200 - (tz_offset_min + 60) * 60
    else:
        return False
    return start <= t < end


def local_offset_min(utc_s, tz_offset_min, dst):
    """Offset of local time from UTC in minutes at utc_s: standard offset, +60 in summer."""
    t = int(utc_s) - _EPOCH_2000 * _DAY_S
    return tz_offset_min + (60 if _summer(t, tz_offset_min, dst) else 0)


def local_minute(utc_s, tz_offset_min, dst):
    """Minute of the local day, 0..1439."""
    t = int(utc_s) + local_offset_min(utc_s, tz_offset_min, dst) * 60
    return (t // 60) % 1440


def in_window(minute, start, end):
    """True in [start, end) of a daily window of local minutes that may wrap midnight
    (23:00..05:00); empty when start == end."""
    if start <= end:
        return start <= minute < end
    return minute >= start or minute < end


def _transitions(y, tz_offset_min, dst):
    """(start, end) of summer time in year y, seconds since 2000-01-01 00:00 UTC."""
    if dst == "eu":
        return (_last_sunday(y, 3, 31) * _DAY_S + 3600,
                _last_sunday(y, 10, 31) * _DAY_S + 3600)
    return (_nth_sunday(y, 3, 2) * _DAY_S + 7200 - tz_offset_min * 60,
            _nth_sunday(y, 11, 1) * _DAY_S + 7200 - (tz_offset_min + 60) * 60)


def offset_span(utc_s, tz_offset_min, dst):
    """(offset_min, from_utc_s, until_utc_s): local_offset_min() at utc_s, and the span of
    1970-epoch seconds around it over which it holds (None, None: for ever, no DST)."""
    if dst not in ("eu", "us"):
        return tz_offset_min, None, None
    t = int(utc_s) - _EPOCH_2000 * _DAY_S
    local = tz_offset_min * 60 if dst == "us" else 0  # the rule's year is local for "us"
    y = civil_from_days((t + local) // _DAY_S)[0]
    edges = []
    for yy in (y - 1, y, y + 1):
        edges.extend(_transitions(yy, tz_offset_min, dst))
    i = 0
    while edges[i + 1] <= t:
        i += 1
    summer = i & 1 == 0  # edges alternate start, end, start...
    shift = _EPOCH_2000 * _DAY_S
    return (tz_offset_min + (60 if summer else 0), edges[i] + shift, edges[i + 1] + shift)


class MinuteClock:
    """local_minute() worked out at most once per wall-clock minute, and the DST rules only
    when the offset's span (from one transition to the next) is left: a control tick in the
    same minute only compares (no arithmetic, so no long int on a 32-bit chip either)."""

    def __init__(self, tz_offset_min, dst):
        self.tz_offset_min = tz_offset_min
        self.dst = dst
        self.minute = 0
        self._from = None  # the minute holds for _from <= utc_s < _until
        self._until = None
        self._off = tz_offset_min
        self._off_from = 0  # the offset holds for _off_from <= utc_s < _off_until
        self._off_until = 0  # (an empty span: worked out at the first call)
        self._span = self.dst in ("eu", "us")

    def at(self, utc_s):
        f = self._from
        if f is not None and f <= utc_s < self._until:
            return self.minute
        utc_s = int(utc_s)
        if self._span and not self._off_from <= utc_s < self._off_until:
            off, f, u = offset_span(utc_s, self.tz_offset_min, self.dst)
            self._off = off
            self._off_from = f if f is not None else 0
            self._off_until = u if u is not None else 0
        start = utc_s - utc_s % 60
        self._from = start
        until = start + 60
        if self._span and until > self._off_until:
            until = self._off_until
        self._until = until
        self.minute = ((start + self._off * 60) // 60) % 1440
        return self.minute


def local_day(utc_s, tz_offset_min, dst):
    """The local date as a day number."""
    t = int(utc_s) + local_offset_min(utc_s, tz_offset_min, dst) * 60
    return split_utc(t)[0]


def minutes(hhmm):
    """Minutes after midnight of "HH:MM", or None if it is not one."""
    if not isinstance(hhmm, str) or len(hhmm) != 5 or hhmm[2] != ":":
        return None
    h, m = hhmm[:2], hhmm[3:]
    if not (h.isdigit() and m.isdigit()):
        return None
    h, m = int(h), int(m)
    return h * 60 + m if h < 24 and m < 60 else None
