# The sun clock: sunrise and sunset from latitude, longitude and the date (pure).
#
# The solar position follows the NOAA spreadsheet formulas (mean longitude and anomaly,
# equation of centre, nutation and aberration, obliquity, equation of time); an event is
# when the sun's centre stands at -0.833 degrees (the apparent horizon: 34' of refraction
# plus the 16' semi-diameter).
#
# ESP32 floats are 32-bit (about 7 significant digits), so the time argument is never one
# float: the day number stays an int and only the fraction of a day is a float. Angles that
# grow with time (mean longitude and anomaly, the Moon's node) are split as
# `rate * days = days - small_rate * days`: `days % 360` is exact in integers and the
# remaining product stays below a few hundred degrees, so every angle is reduced before
# precision is lost. Event times come back in minutes of a UTC day, and comparisons with
# "now" are made in seconds relative to now, never as absolute epoch seconds in a float.
# tests/core/test_astro.py runs this file with every float operation rounded to float32.

from math import acos, asin, cos, sin, tan

from micropython import const

from agent.civil import split_utc

_RAD = 0.017453292519943295  # pi / 180
_SIN_H0 = -0.014538080502165  # sin(-0.833 deg): the apparent horizon
_DAY_S = const(86400)
_MAX_NEAREST_S = const(36 * 3600)

NORMAL = "normal"
SUNRISE = "sunrise"
SUNSET = "sunset"
POLAR_DAY = "polar_day"
POLAR_NIGHT = "polar_night"


def _sun(day, minute):
    """(declination in radians, equation of time in minutes) at `minute` of UTC day `day`."""
    f = minute / 1440.0 - 0.5  # days from the J2000.0 noon of that day number, a small float
    t = (day + f) / 36525.0  # Julian centuries: only in slowly varying terms
    dd = day % 360  # exact: the integer part of "days * ~1 degree per day"
    # Mean longitude 280.46646 + 0.98564736 deg/day, anomaly 357.52911 + 0.98560028 deg/day.
    l0 = (280.46646 + dd - (0.014352639836 * day) % 360.0 + 0.98564736016 * f
          + 0.0003032 * t * t) % 360.0
    ma = (357.52911 + dd - (0.014399718275 * day) % 360.0 + 0.98560028172 * f
          - 0.0001537 * t * t) % 360.0
    e = 0.016708634 - t * (0.000042037 + 0.0000001267 * t)  # orbit eccentricity
    mr = ma * _RAD
    sm = sin(mr)
    s2m = sin(mr + mr)
    centre = (sm * (1.914602 - t * (0.004817 + 0.000014 * t))
              + s2m * (0.019993 - 0.000101 * t) + sin(mr + mr + mr) * 0.000289)
    # Longitude of the Moon's ascending node: 125.04 - 0.0529537577 deg/day.
    om = (125.04 - (0.0529537577 * day) % 360.0 - 0.0529537577 * f) * _RAD
    lam = (l0 + centre - 0.00569 - 0.00478 * sin(om)) * _RAD  # apparent longitude
    eps = (23.0 + (26.0 + (21.448 - t * (46.815 + t * (0.00059 - t * 0.001813))) / 60.0)
           / 60.0 + 0.00256 * cos(om)) * _RAD  # obliquity of the ecliptic, corrected
    decl = asin(sin(eps) * sin(lam))
    y = tan(eps * 0.5)
    y *= y
    l2 = (l0 + l0) * _RAD
    eqt = (y * sin(l2) - 2.0 * e * sm + 4.0 * e * y * sm * cos(l2)
           - 0.5 * y * y * sin(l2 + l2) - 1.25 * e * e * s2m)
    return decl, eqt * (4.0 / _RAD)  # radians of hour angle -> minutes of time


def _hour_angle_min(sl, cl, decl):
    """Half the day's arc in minutes of time; clamped on the polar side (transition days)."""
    num = _SIN_H0 - sl * sin(decl)
    den = cl * cos(decl)
    if num >= den:
        return 0.0
    if num <= -den:
        return 720.0
    return acos(num / den) * (4.0 / _RAD)


def sun_times(day, lat, lon):
    """(kind, rise_min, set_min) for UTC day number `day`: minutes after 00:00 UTC of that
    day of the rise and set around that day's solar noon (so they may lie outside 0..1440
    far from Greenwich); kind "polar_day" / "polar_night" with None times when the sun
    does not cross the apparent horizon that day."""
    lat = max(-90.0, min(90.0, lat))
    sl = sin(lat * _RAD)
    cl = max(0.0, cos(lat * _RAD))  # at the poles float cos(90 deg) can come out below 0
    lon4 = 4.0 * lon
    decl, eqt = _sun(day, 720.0 - lon4)
    noon = 720.0 - lon4 - eqt
    num = _SIN_H0 - sl * sin(decl)
    den = cl * cos(decl)
    if num >= den:
        return POLAR_NIGHT, None, None
    if num <= -den:
        return POLAR_DAY, None, None
    half = acos(num / den) * (4.0 / _RAD)
    # The declination at noon puts the events within about 2 minutes (at 65 degrees of
    # latitude, less nearer the equator); re-evaluating the sun at the estimate twice
    # brings them below a second.
    rise = noon - half
    sett = noon + half
    for _ in range(2):
        decl, eqt = _sun(day, rise)
        rise = 720.0 - lon4 - eqt - _hour_angle_min(sl, cl, decl)
        decl, eqt = _sun(day, sett)
        sett = 720.0 - lon4 - eqt + _hour_angle_min(sl, cl, decl)
    return NORMAL, rise, sett


def _solar_day(utc_s, lon):
    """(UTC day, seconds into it, the day number whose solar noon is nearest to utc_s)."""
    day, sod = split_utc(utc_s)
    return day, sod, day + int((sod + lon * 240.0) // _DAY_S)


def _night(day, sod, k, times, sunset_offset_min, sunrise_offset_min, edges=None):
    """is_night's answer from `times(j)` = sun_times(j, lat, lon). With `edges` (a SunClock),
    also lowers edges.until_s to the first instant (seconds from now) the answer may change."""
    kind, _, _ = times(k)
    if kind != NORMAL:
        return kind == POLAR_NIGHT
    # The latest event (with offsets) at or before now decides; the neighbouring days are
    # needed around midnight and wherever the UTC date is far from the local one.
    last_t = first_t = None
    last_set = first_set = False
    for j in range(k - 1, k + 2):
        kind, rise, sett = times(j)
        if rise is None or sett is None:
            continue
        base = (j - day) * _DAY_S - sod  # start of UTC day j, seconds relative to now
        for i in range(2):
            is_set = i == 1
            t = base + ((sett + sunset_offset_min) if is_set else
                        (rise + sunrise_offset_min)) * 60.0
            if t <= 0:
                if last_t is None or t > last_t:
                    last_t, last_set = t, is_set
            else:
                if first_t is None or t < first_t:
                    first_t, first_set = t, is_set
                if edges is not None:
                    edges.edge(t)
    if last_t is not None:
        return last_set
    return not first_set  # nothing yet in the window: dark if a sunrise comes next


def _nearest(day, sod, k, times, window_s=None, edges=None):
    """(name, seconds from now) of the sun event nearest to now, or (None, None). With
    `edges`, also lowers edges.until_s to where |t| of an event may cross window_s."""
    best_t = None
    best_name = None
    far = 1 if times(k)[0] == NORMAL else 2  # with no event today, yesterday's may be nearest
    for j in range(k - far, k + far + 1):
        kind, rise, sett = times(j)
        if rise is None or sett is None:
            continue
        base = (j - day) * _DAY_S - sod
        for i in range(2):
            t = base + (sett if i else rise) * 60.0
            if best_t is None or abs(t) < abs(best_t):
                best_t, best_name = t, (SUNSET if i else SUNRISE)
            if edges is not None:
                # near flips where round(t - s) crosses +-window_s (s: seconds from now):
                # from s = t - window_s - 0.5 on, and after s = t + window_s + 0.5
                edges.edge(t - window_s)
                edges.edge(t + window_s + 1)
    if best_t is None or abs(best_t) > _MAX_NEAREST_S:
        return None, None
    return best_name, best_t


def is_night(utc_s, lat, lon, sunset_offset_min=0, sunrise_offset_min=0):
    """True between sunset + sunset_offset_min and the next sunrise + sunrise_offset_min."""
    day, sod, k = _solar_day(utc_s, lon)
    return _night(day, sod, k, lambda j: sun_times(j, lat, lon), sunset_offset_min,
                  sunrise_offset_min)


def nearest_event(utc_s, lat, lon):
    """("sunset" | "sunrise", event epoch seconds) of the event closest to utc_s, past or
    future, or (None, None) if there is none within 36 h (polar day or night)."""
    day, sod, k = _solar_day(utc_s, lon)
    name, t = _nearest(day, sod, k, lambda j: sun_times(j, lat, lon))
    if name is None or t is None:
        return None, None
    return name, int(utc_s) + int(round(t))


def near_twilight(utc_s, lat, lon, window_min):
    """True within window_min minutes of a sunrise or sunset."""
    name, when = nearest_event(utc_s, lat, lon)
    return when is not None and abs(when - int(utc_s)) <= window_min * 60


_CACHE_DAYS = const(8)


class SunClock:
    """is_night() and near_twilight() for one place, worked out only when their answers can
    change: each computation also finds the span of wall time over which both hold (until
    the next event, offset event, twilight-window edge or change of solar day), and sun_times
    are kept per day number, so a day costs a handful of computations and a control tick
    none (at(utc_s) in the span only compares). The answers are the functions' own, at every
    second."""

    def __init__(self, lat, lon, sunset_offset_min=0, sunrise_offset_min=0, window_min=90):
        self.lat = lat
        self.lon = lon
        self.set_off = sunset_offset_min
        self.rise_off = sunrise_offset_min
        self.window_s = window_min * 60
        self.dark = False
        self.near = False
        self.valid_from = None  # the answers hold for valid_from <= utc_s < valid_until
        self.valid_until = None
        self.until_s = 0.0  # scratch while computing: seconds from now of the next edge
        self.computed = 0  # computations so far (for tests and benchmarks)
        self._days = {}  # day number -> sun_times(...)
        self._times = self.times  # bound once

    def times(self, j):
        t = self._days.get(j)
        if t is None:
            if len(self._days) >= _CACHE_DAYS:
                self._days.clear()
            t = self._days[j] = sun_times(j, self.lat, self.lon)
        return t

    def edge(self, t):
        """An answer may change at the first whole second at or after t (seconds from now);
        worked out again a little before (float32 rounding of t), but never at now."""
        if t > 0:
            t -= 0.25
            if t < 0.5:
                t = 0.5
            if t < self.until_s:
                self.until_s = t

    def at(self, utc_s):
        """Bring dark and near up to date for utc_s (int epoch seconds); True if worked out
        anew."""
        vf = self.valid_from
        if vf is not None and vf <= utc_s < self.valid_until:
            return False
        utc_s = int(utc_s)
        day, sod, k = _solar_day(utc_s, self.lon)
        x = sod + self.lon * 240.0  # the solar day k ends where x reaches a day's multiple
        self.until_s = _DAY_S - x % _DAY_S
        self.dark = _night(day, sod, k, self._times, self.set_off, self.rise_off, self)
        name, t = _nearest(day, sod, k, self._times, self.window_s, self)
        self.near = t is not None and abs(int(round(t))) <= self.window_s
        step = int(self.until_s)  # edges rounded down: worked out early rather than late
        self.valid_from = utc_s
        self.valid_until = utc_s + (step if step > 0 else 1)
        self.computed = self.computed + 1
        return True
