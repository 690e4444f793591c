# Civil calendar arithmetic for the simulated time and RTC (the built-in time module is
# shadowed under MicroPython). Proleptic Gregorian, UTC, 1970 epoch, integers only so it is
# exact for any epoch second under both CPython and MicroPython.

_DAYS_BEFORE = (0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334)


def is_leap(y):
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)


def days_from_civil(y, m, d):
    """Days since 1970-01-01 of year y, month m (1-12), day d (may overflow the month).
    Counted in 400-year eras (146097 days each) starting on March 1st, so the leap day
    falls at the end of the counting year."""
    if m <= 2:
        y -= 1
    era = y // 400
    yoe = y - era * 400  # 0..399
    mp = (m + 9) % 12  # March = 0
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468  # 719468 days from 0000-03-01 to 1970-01-01


def civil_from_days(z):
    """(year, month, day) of day number z since 1970-01-01."""
    z += 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    y = yoe + era * 400 + (1 if m <= 2 else 0)
    return y, m, d


def gmtime(secs):
    """8-tuple (year, month, mday, hour, minute, second, weekday 0=Monday, yearday 1..366)."""
    secs = int(secs)
    days, rem = divmod(secs, 86400)
    y, m, d = civil_from_days(days)
    yday = _DAYS_BEFORE[m - 1] + d + (1 if m > 2 and is_leap(y) else 0)
    wday = (days + 3) % 7  # 1970-01-01 was a Thursday
    return (y, m, d, rem // 3600, rem % 3600 // 60, rem % 60, wday, yday)


def mktime(t):
    """Inverse of gmtime; fields out of range are normalised (month 13 = next January...)."""
    if len(t) not in (8, 9):
        raise TypeError("mktime needs a tuple of length 8 or 9")
    y, mo, d, h, mi, s = t[0], t[1], t[2], t[3], t[4], t[5]
    dy, mo0 = divmod(mo - 1, 12)
    days = days_from_civil(y + dy, mo0 + 1, 1) + d - 1
    return days * 86400 + h * 3600 + mi * 60 + s
