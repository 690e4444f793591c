"""Calendar, local time and the night profile: agent.civil against CPython's datetime and
zoneinfo, agent.profile's step lookup and its clock-less VirtualMidnight."""

import datetime as dt
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent import civil, profile
from agent.sched import TICKS_PERIOD, ticks_add

UTC = dt.timezone.utc
D2000 = dt.date(2000, 1, 1)
S2000 = 946684800
dates = st.dates(dt.date(1800, 1, 1), dt.date(2400, 12, 31))

try:
    from zoneinfo import ZoneInfo

    AMS, NYC = ZoneInfo("Europe/Amsterdam"), ZoneInfo("America/New_York")
except Exception:  # no tzdata on this machine: the known-date tests below still run
    AMS = NYC = None
needs_tz = pytest.mark.skipif(AMS is None, reason="no tz database (tzdata) here")


# --- calendar ----------------------------------------------------------------------------------

@given(dates)
def test_day_numbers_match_datetime(d):
    n = civil.days_from_civil(d.year, d.month, d.day)
    assert n == (d - D2000).days
    assert civil.civil_from_days(n) == (d.year, d.month, d.day)
    assert civil.weekday(n) == d.weekday()


@given(st.integers(-200000, 200000))
def test_civil_from_days_round_trips(n):
    y, m, d = civil.civil_from_days(n)
    assert civil.days_from_civil(y, m, d) == n
    assert (dt.date(y, m, d) - D2000).days == n


@given(st.integers(0, 2**32))
def test_split_utc_matches_datetime(s):
    day, sec = civil.split_utc(s)
    t = dt.datetime.fromtimestamp(s, UTC)
    assert day == (t.date() - D2000).days
    assert sec == t.hour * 3600 + t.minute * 60 + t.second
    assert isinstance(day, int) and isinstance(sec, int)


def test_known_days():
    assert civil.days_from_civil(2000, 1, 1) == 0
    assert civil.weekday(0) == 5  # a Saturday
    assert civil.days_from_civil(2000, 3, 1) == 60  # 2000 was a leap year
    assert civil.civil_from_days(-1) == (1999, 12, 31)
    assert civil.split_utc(S2000 - 1) == (-1, 86399)


# --- summer time -------------------------------------------------------------------------------

def _s(y, mo, d, h, mi=0):
    return int(dt.datetime(y, mo, d, h, mi, tzinfo=UTC).timestamp())


# (year, EU start, EU end, US start, US end) as UTC instants, from the published rules:
# EU 01:00 UTC on the last Sundays of March and October; New York 02:00 EST (07:00 UTC) on the
# second Sunday of March and 02:00 EDT (06:00 UTC) on the first Sunday of November.
KNOWN = [
    (2024, _s(2024, 3, 31, 1), _s(2024, 10, 27, 1), _s(2024, 3, 10, 7), _s(2024, 11, 3, 6)),
    (2025, _s(2025, 3, 30, 1), _s(2025, 10, 26, 1), _s(2025, 3, 9, 7), _s(2025, 11, 2, 6)),
    (2026, _s(2026, 3, 29, 1), _s(2026, 10, 25, 1), _s(2026, 3, 8, 7), _s(2026, 11, 1, 6)),
    (2030, _s(2030, 3, 31, 1), _s(2030, 10, 27, 1), _s(2030, 3, 10, 7), _s(2030, 11, 3, 6)),
]


@pytest.mark.parametrize("year,eu_on,eu_off,us_on,us_off", KNOWN)
def test_switch_instants_on_known_dates(year, eu_on, eu_off, us_on, us_off):
    eu = lambda t: civil.local_offset_min(t, 60, "eu")  # noqa: E731
    us = lambda t: civil.local_offset_min(t, -300, "us")  # noqa: E731
    assert (eu(eu_on - 1), eu(eu_on), eu(eu_off - 1), eu(eu_off)) == (60, 120, 120, 60)
    assert (us(us_on - 1), us(us_on), us(us_off - 1), us(us_off)) == (-300, -240, -240, -300)
    assert civil.local_offset_min(eu_on, 60, "none") == 60
    # Local clock: 02:00 CET jumps to 03:00 CEST; 01:59 EDT falls back to 01:00 EST.
    assert civil.local_minute(eu_on - 60, 60, "eu") == 119
    assert civil.local_minute(eu_on, 60, "eu") == 180
    assert civil.local_minute(us_off - 60, -300, "us") == 60 + 59
    assert civil.local_minute(us_off, -300, "us") == 60


@needs_tz
@settings(max_examples=500)
@given(st.integers(_s(2007, 1, 1, 0), _s(2037, 12, 31, 0)))
def test_local_time_matches_zoneinfo(t):
    for zone, tz, rule in ((AMS, 60, "eu"), (NYC, -300, "us")):
        local = dt.datetime.fromtimestamp(t, zone)
        assert civil.local_offset_min(t, tz, rule) * 60 == local.utcoffset().total_seconds()
        assert civil.local_minute(t, tz, rule) == local.hour * 60 + local.minute
        assert civil.local_day(t, tz, rule) == (local.date() - D2000).days


@needs_tz
@pytest.mark.parametrize("year", range(2007, 2038))
def test_switch_instants_match_zoneinfo(year):
    for zone, tz, rule in ((AMS, 60, "eu"), (NYC, -300, "us")):
        # Every offset change of the year per zoneinfo, found hour by hour then to the second.
        t, end = _s(year, 1, 1, 0), _s(year + 1, 1, 1, 0)
        off = dt.datetime.fromtimestamp(t, zone).utcoffset()
        while t < end:
            nxt = dt.datetime.fromtimestamp(t + 3600, zone).utcoffset()
            if nxt != off:
                lo, hi = t, t + 3600
                while hi - lo > 1:
                    mid = (lo + hi) // 2
                    if dt.datetime.fromtimestamp(mid, zone).utcoffset() == off:
                        lo = mid
                    else:
                        hi = mid
                assert civil.local_offset_min(lo, tz, rule) * 60 == off.total_seconds()
                assert civil.local_offset_min(hi, tz, rule) * 60 == nxt.total_seconds()
                off = nxt
            t += 3600


# --- profile -----------------------------------------------------------------------------------

STEPS = [["22:00", 60], ["05:00", 60], ["17:00", 100], ["00:00", 40]]


def test_level_at_holds_each_step_and_wraps():
    m = lambda hhmm: int(hhmm[:2]) * 60 + int(hhmm[3:])  # noqa: E731
    assert profile.level_at(STEPS, m("17:00")) == 100
    assert profile.level_at(STEPS, m("21:59")) == 100
    assert profile.level_at(STEPS, m("22:00")) == 60
    assert profile.level_at(STEPS, m("23:59")) == 60
    assert profile.level_at(STEPS, 0) == 40
    assert profile.level_at(STEPS, m("04:59")) == 40
    assert profile.level_at(STEPS, m("05:00")) == 60
    assert profile.level_at(STEPS, m("16:59")) == 60
    # Before the earliest step, the latest one still holds (from the evening before).
    late = [["18:00", 100], ["23:30", 50]]
    assert profile.level_at(late, 0) == 50
    assert profile.level_at(late, 17 * 60) == 50
    assert profile.level_at([["12:00", 70]], 5) == 70
    assert profile.level_at([[600, 30], [1200, 90]], 1300) == 90  # pre-parsed minutes
    assert profile.level_at([], 100) is None


@given(st.lists(st.tuples(st.integers(0, 1439), st.integers(0, 100)), min_size=1, max_size=8,
                unique_by=lambda p: p[0]),
       st.integers(0, 1439), st.randoms())
def test_level_at_is_the_latest_step_before_in_any_order(pairs, minute, rnd):
    steps = [["%02d:%02d" % divmod(t, 60), lv] for t, lv in pairs]
    rnd.shuffle(steps)
    # Oracle: walk back minute by minute (wrapping) to the first step time met.
    times = dict(pairs)
    back = minute
    while back not in times:
        back = (back - 1) % 1440
    assert profile.level_at(steps, minute) == times[back]


def test_in_window_wraps_over_midnight():
    f, t = 23 * 60, 5 * 60
    assert [civil.in_window(m, f, t) for m in (22 * 60 + 59, 23 * 60, 0, 299, 300, 12 * 60)] \
        == [False, True, True, True, False, False]
    assert civil.in_window(60, 0, 120) and not civil.in_window(120, 0, 120)
    assert not civil.in_window(600, 300, 300)


def test_solar_midnight_local():
    assert profile.solar_midnight_local(0.0, 0) == 0
    assert profile.solar_midnight_local(4.9, 60) == 40  # Amsterdam: 00:40 CET
    assert profile.solar_midnight_local(-74.0, -300) == 1436  # New York: 23:56 EST
    assert profile.solar_midnight_local(151.2, 600) == 1435  # Sydney: 23:55 AEST
    assert profile.solar_midnight_local(180.0, 0) == 720


# --- VirtualMidnight ---------------------------------------------------------------------------

H = 3600000
MIDNIGHT = 40  # local minute of solar midnight


def circ_diff(a, b):
    return abs((a - b + 720) % 1440 - 720)


def simulate(start_tick, nights, seed, check):
    """Nights centred on local minute MIDNIGHT (+/- jitter). Ticks count from start_tick, at
    a local time of 12:00; `check(vm, now_tick, true_local_minute)` runs through each day."""
    rnd = random.Random(seed)
    vm = profile.VirtualMidnight(MIDNIGHT)
    assert vm.local_minute(start_tick) is None
    elapsed = 0  # ms since start (local 12:00 of day 0)

    def at(ms):
        return ticks_add(start_tick, ms % TICKS_PERIOD)

    def true_minute(ms):
        return (12 * 60 + ms // 60000) % 1440

    for day, length_h in enumerate(nights):
        mid = (day + 1) * 24 * H - 12 * 60 * 60000 + MIDNIGHT * 60000  # next local MIDNIGHT
        mid += rnd.randint(-10, 10) * 60000  # photocell jitter, clouds
        on = mid - int(length_h * H) // 2
        off = on + int(length_h * H)
        vm.switched_on(at(on))
        vm.switched_off(at(off))
        for step in range(0, 24 * H, 37 * 60000):  # through the following day
            elapsed = off + step
            check(vm, at(elapsed), true_minute(elapsed))
    return vm


@pytest.mark.parametrize("start", [0, TICKS_PERIOD - 5 * H, TICKS_PERIOD - 1, 123456789])
@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(8, 16), min_size=1, max_size=30), st.integers(0, 1000))
def test_estimate_within_20_min_from_the_first_night_across_tick_wrap(start, nights, seed):
    def check(vm, now, true):
        got = vm.local_minute(now)
        assert got is not None and 0 <= got < 1440
        assert circ_diff(got, true) <= 20, (got, true)

    vm = simulate(start, nights, seed, check)
    assert vm.nights == len(nights)


def test_short_and_long_nights_are_ignored():
    vm = profile.VirtualMidnight(0)
    t = TICKS_PERIOD - H  # the tick counter wraps during the nights
    for length in (2 * H, 20 * H, 3 * H - 1, 18 * H + 1):
        vm.switched_on(t)
        t = ticks_add(t, length)
        vm.switched_off(t)
        t = ticks_add(t, 4 * H)
    assert vm.nights == 0 and vm.local_minute(t) is None
    vm.switched_off(t)  # off without on: nothing
    assert vm.nights == 0
    # A valid 10 h night centred on tick `mid` maps `mid` to local midnight (minute 0).
    mid = ticks_add(t, 20 * H)
    vm.switched_on(ticks_add(mid, -5 * H))
    vm.switched_off(ticks_add(mid, 5 * H))
    assert vm.nights == 1
    assert vm.local_minute(ticks_add(mid, 6 * H)) == 360
    # A 2 h "night" and a 20 h one afterwards change nothing.
    for length in (2 * H, 20 * H):
        vm.switched_on(ticks_add(mid, 7 * H))
        vm.switched_off(ticks_add(mid, 7 * H + length))
    assert vm.nights == 1
    assert vm.local_minute(ticks_add(mid, 30 * H)) == 360


def test_averages_the_last_four_nights():
    vm = profile.VirtualMidnight(0)
    t = 0
    # Midpoints at +40, -40, +20, -20 minutes from true midnight, then 4 nights at +0:
    for i, err in enumerate((40, -40, 20, -20, 0, 0, 0, 0)):
        mid = (i + 1) * 24 * H + err * 60000
        vm.switched_on(ticks_add(t, mid - 5 * H))
        vm.switched_off(ticks_add(t, mid + 5 * H))
        got = vm.local_minute(ticks_add(t, (i + 1) * 24 * H + 6 * H))
        if i == 0:
            assert got == 360 - 40
        if i == 3:
            assert got == 360  # mean of the four
        if i == 7:
            assert got == 360  # the old nights have aged out
    assert vm.nights == 8


def test_survives_many_days_of_wrap_with_regular_reads():
    # 40 days (more than three tick wraps) of nights, read every few hours.
    vm = simulate(TICKS_PERIOD - 7, [12.0] * 40, 3, lambda vm, now, true: None)
    assert vm.nights == 40
    # Ten more days with no valid night (lamp failed), read every 6 hours: still locked on.
    start = 41 * 24 * H
    for k in range(40):
        ms = start + k * 6 * H
        got = vm.local_minute(ticks_add(TICKS_PERIOD - 7, ms % TICKS_PERIOD))
        assert got is not None
        assert circ_diff(got, (12 * 60 + ms // 60000) % 1440) <= 20


@settings(max_examples=200, deadline=None)
@given(st.integers(946684800, 2524608000), st.sampled_from(["eu", "us", "none"]),
       st.integers(-720, 840).map(lambda m: m - m % 15),
       st.lists(st.integers(1, 40 * 86400), min_size=1, max_size=30))
def test_minute_clock_and_offset_span_agree_with_local_minute(t, dst, tz, steps):
    clock = civil.MinuteClock(tz, dst)
    for step in [0] + steps:
        t += step
        off, lo, hi = civil.offset_span(t, tz, dst)
        assert off == civil.local_offset_min(t, tz, dst)
        if lo is not None:
            assert lo <= t < hi
            assert civil.local_offset_min(lo, tz, dst) == off
            assert civil.local_offset_min(hi - 1, tz, dst) == off
            assert civil.local_offset_min(hi, tz, dst) != off
        assert clock.at(t) == civil.local_minute(t, tz, dst)
        assert clock.at(t + 59 - t % 60) == civil.local_minute(t + 59 - t % 60, tz, dst)
        assert clock.at(t - 3600) == civil.local_minute(t - 3600, tz, dst)  # backwards too
