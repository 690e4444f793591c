"""The sun clock against astral 3.2 (NOAA formulas), in double and in ESP32 single precision.

The oracle is astral's time_of_transit for a zenith of 90.833 degrees without astral's own
refraction model: the same -0.833 degree apparent-horizon convention as agent.astro (astral's
sunrise() puts the sun at -0.789 degrees, which differs by minutes at high latitudes).
"""

import ast
import datetime as dt
import math
import struct
from pathlib import Path

import pytest
from astral import Observer
from astral.julian import julianday, julianday_to_juliancentury
from astral.sun import (
    SunDirection,
    elevation,
    eq_of_time,
    hour_angle,
    sun_declination,
    time_of_transit,
)
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from agent import astro
from agent.civil import days_from_civil

UTC = dt.timezone.utc
EPOCH2000 = dt.datetime(2000, 1, 1, tzinfo=UTC)
S2000 = 946684800  # 1970-epoch seconds of 2000-01-01 00:00 UTC
DAYS = st.integers(days_from_civil(2024, 1, 1), days_from_civil(2031, 12, 31))
TOLERANCE_S = 60  # the requirement
SAME_METHOD_S = 5  # what is reached (under 1 s measured): same formulas, rounding apart


# --- running astro.py in float32 -------------------------------------------------------------
# The firmware module carries no hooks: the test rewrites its syntax tree so that every float
# that exists while it runs is rounded to single precision, exactly as on an ESP32. Wrapped
# are every literal, every arithmetic result (+ - * / // % ** and unary minus, including
# augmented assignments) and every call result (math.sin etc., so each libm call behaves as a
# correctly rounded sinf). _f32 leaves non-floats alone, so integer day arithmetic stays exact
# as it does on the chip. Rounding each IEEE double result to float32 equals the float32
# operation itself for + - * / (double has more than twice the bits), so this is the chip's
# arithmetic, not an approximation of it.

def f32(x):
    if type(x) is float:
        return struct.unpack("f", struct.pack("f", x))[0]
    return x


class _Round32(ast.NodeTransformer):
    def _wrap(self, node):
        return ast.copy_location(
            ast.Call(func=ast.Name(id="_f32", ctx=ast.Load()), args=[node], keywords=[]), node)

    def visit_Constant(self, node):
        return self._wrap(node) if isinstance(node.value, float) else node

    def visit_BinOp(self, node):
        return self._wrap(self.generic_visit(node))

    def visit_UnaryOp(self, node):
        return self._wrap(self.generic_visit(node))

    def visit_Call(self, node):
        return self._wrap(self.generic_visit(node))

    def visit_AugAssign(self, node):
        # x op= v  ->  x = _f32(x op v)   (only plain names occur in the module)
        assert isinstance(node.target, ast.Name), ast.dump(node)
        value = ast.BinOp(left=ast.Name(id=node.target.id, ctx=ast.Load()), op=node.op,
                          right=self.visit(node.value))
        return ast.copy_location(
            ast.Assign(targets=[node.target], value=self._wrap(value)), node)


def load_float32(path, name):
    """Execute the module at `path` with float32 arithmetic; returns its namespace."""
    tree = _Round32().visit(ast.parse(Path(path).read_text()))
    ast.fix_missing_locations(tree)
    ns = {"__name__": name, "_f32": f32}
    exec(compile(tree, str(path), "exec"), ns)
    return ns


class _Module:
    def __init__(self, ns):
        self.__dict__.update(ns)


astro32 = _Module(load_float32(astro.__file__, "astro_f32"))
IMPLS = [pytest.param(astro, id="double"), pytest.param(astro32, id="float32")]


def test_the_float32_shim_really_rounds(tmp_path):
    # The pitfall the module avoids: a Julian date in one float keeps only ~1/8 day.
    p = tmp_path / "naive.py"
    p.write_text("def jd(day, frac):\n    return 2451544.5 + day + frac\n"
                 "def ok(day, frac):\n    x = 1.0\n    x *= frac\n    return day % 7 + x\n")
    ns = load_float32(p, "naive")
    assert ns["jd"](9000, 0.3) - 2460544.5 in (0.25, 0.5)  # 0.3 of a day lost
    assert abs(ns["ok"](9000, 0.3) - 5.3) < 1e-6
    # And the module itself does run through it: float32 results differ from double ones.
    d = days_from_civil(2027, 3, 20)
    assert astro32.sun_times(d, 52.37, 4.9)[1] != astro.sun_times(d, 52.37, 4.9)[1]


# --- the oracle --------------------------------------------------------------------------------

def astral_events(day, lat, lon, direction):
    """astral's event times (seconds since 2000) for the UTC dates around day number `day`."""
    out = []
    obs = Observer(latitude=lat, longitude=lon)
    for j in (day - 1, day, day + 1):
        date = (EPOCH2000 + dt.timedelta(days=j)).date()
        try:
            t = time_of_transit(obs, date, 90.833, direction, with_refraction=False)
        except ValueError:
            continue  # the sun does not cross -0.833 degrees that day
        out.append((t - EPOCH2000).total_seconds())
    # time_of_transit moves an event that falls just before 00:00 UTC of its date to the
    # next day, and the previous date's call finds the event of the day before that: one
    # event a year and place within a minute of midnight UTC has no date of its own. The
    # same two steps of astral's own formulas, without that move, fill the gap.
    try:
        out.append(_astral_unwrapped(day, lat, lon, direction))
    except ValueError:
        pass
    return out


def _astral_unwrapped(day, lat, lon, direction):
    jd = julianday((EPOCH2000 + dt.timedelta(days=day)).date())
    minute = 0.0
    for _ in range(2):
        jc = julianday_to_juliancentury(jd + minute / 1440)
        ha = hour_angle(lat, sun_declination(jc), 90.833, direction)
        minute = 720 + 4 * (-lon - math.degrees(ha)) - eq_of_time(jc)
    return day * 86400 + minute * 60


def error_s(mod, day, lat, lon):
    kind, rise, sett = mod.sun_times(day, lat, lon)
    assert kind == "normal", (kind, day, lat, lon)
    worst = 0.0
    for minute, direction in ((rise, SunDirection.RISING), (sett, SunDirection.SETTING)):
        mine = day * 86400 + minute * 60
        theirs = astral_events(day, lat, lon, direction)
        assert theirs, "astral found no event"
        worst = max(worst, min(abs(mine - t) for t in theirs))
    return worst


@pytest.mark.parametrize("mod", IMPLS)
@settings(max_examples=400, deadline=None)
@given(lat=st.floats(-65, 65), lon=st.floats(-180, 180), day=DAYS)
def test_sunrise_and_sunset_agree_with_astral(mod, lat, lon, day):
    if mod is astro32:
        lat, lon = f32(lat), f32(lon)
    assert error_s(mod, day, lat, lon) <= TOLERANCE_S


@pytest.mark.parametrize("mod", IMPLS)
@pytest.mark.parametrize("lat,lon", [(52.37, 4.9), (40.71, -74.0), (-33.87, 151.21),
                                     (64.15, -21.94), (-64.8, -64.0), (0.0, 179.9),
                                     (1.29, 103.85), (-17.7, 178.1), (21.3, -157.9)])
def test_known_places_every_ten_days_for_eight_years(mod, lat, lon):
    start = days_from_civil(2024, 1, 1)
    worst = max(error_s(mod, d, f32(lat), f32(lon)) for d in range(start, start + 2922, 10))
    assert worst <= SAME_METHOD_S


def test_rise_and_set_bracket_the_days_noon():
    # Minutes of the UTC day `day`, around that day's solar noon: far east the sunrise is on
    # the previous UTC date, far west the sunset on the next.
    d = days_from_civil(2025, 3, 20)
    kind, rise, sett = astro.sun_times(d, 0.0, 179.0)
    assert rise < 0 < sett < 1440
    kind, rise, sett = astro.sun_times(d, 0.0, -179.0)
    assert 0 < rise < 1440 < sett


# --- polar day and night -----------------------------------------------------------------------

def expected_kind(day, lat, lon):
    """From astral's declination at the day's solar noon: the sun's highest and lowest
    altitudes are 90 - |lat - decl| and |lat + decl| - 90. None when too close to call."""
    noon = EPOCH2000 + dt.timedelta(days=day, minutes=720 - 4 * lon)
    decl = sun_declination(julianday_to_juliancentury(julianday(noon.replace(tzinfo=None))))
    high = 90 - abs(lat - decl)
    low = abs(lat + decl) - 90
    if min(abs(high + 0.833), abs(low + 0.833)) < 0.01:
        return None
    if high < -0.833:
        return "polar_night"
    if low > -0.833:
        return "polar_day"
    return "normal"


@pytest.mark.parametrize("mod", IMPLS)
@settings(max_examples=300, deadline=None)
@given(lat=st.floats(66, 90), south=st.booleans(), lon=st.floats(-180, 180), day=DAYS)
def test_polar_kinds_are_right_and_never_raise(mod, lat, south, lon, day):
    lat = -lat if south else lat
    want = expected_kind(day, lat, lon)
    assume(want is not None)
    kind, rise, sett = mod.sun_times(day, f32(lat), f32(lon))
    assert kind == want
    assert (rise is None) == (sett is None) == (kind != "normal")
    if kind == "normal":
        assert rise <= sett


@pytest.mark.parametrize("mod", IMPLS)
@pytest.mark.parametrize("lat", [90.0, -90.0, 89.99, -89.99, 78.22, -78.22, 66.6])
def test_poles_at_the_solstices(mod, lat):
    june, december = days_from_civil(2026, 6, 21), days_from_civil(2026, 12, 21)
    north_summer = "polar_day" if lat > 0 else "polar_night"
    north_winter = "polar_night" if lat > 0 else "polar_day"
    if abs(lat) < 67:  # just inside the circle: the refraction-lifted sun still sets in winter
        assert mod.sun_times(june, lat, 15.0)[0] == north_summer
        return
    assert mod.sun_times(june, lat, 15.0)[0] == north_summer
    assert mod.sun_times(december, lat, 15.0)[0] == north_winter
    t = (june * 86400) + S2000 + 3600 * 5
    assert mod.is_night(t, lat, 15.0) is (north_summer == "polar_night")
    assert mod.nearest_event(t, lat, 15.0) == (None, None)
    assert mod.near_twilight(t, lat, 15.0, 720) is False


@pytest.mark.parametrize("mod", IMPLS)
@settings(max_examples=200, deadline=None)
@given(lat=st.floats(-90, 90), lon=st.floats(-180, 180), day=DAYS,
       sec=st.integers(0, 86399))
def test_nothing_raises_anywhere(mod, lat, lon, day, sec):
    t = S2000 + day * 86400 + sec
    mod.sun_times(day, lat, lon)
    assert mod.is_night(t, lat, lon, 30, -30) in (True, False)
    name, when = mod.nearest_event(t, lat, lon)
    assert (name is None) == (when is None)
    if when is not None:
        assert abs(when - t) <= 36 * 3600


# --- is_night, nearest_event, near_twilight ----------------------------------------------------

@pytest.mark.parametrize("mod", IMPLS)
@settings(max_examples=300, deadline=None)
@given(lat=st.floats(-60, 60), lon=st.floats(-180, 180), day=DAYS,
       sec=st.integers(0, 86399))
def test_is_night_matches_the_suns_altitude_across_date_lines(mod, lat, lon, day, sec):
    t = S2000 + day * 86400 + sec
    when = dt.datetime.fromtimestamp(t, UTC)
    alt = elevation(Observer(latitude=lat, longitude=lon), when, with_refraction=False)
    assume(abs(alt + 0.833) > 0.1)  # within ~half a minute of an event: too close to call
    assert mod.is_night(t, f32(lat), f32(lon)) is (alt < -0.833)


@settings(max_examples=200, deadline=None)
@given(lat=st.floats(-60, 60), lon=st.floats(-180, 180), day=DAYS,
       sec=st.integers(0, 86399), off=st.integers(-120, 120))
def test_equal_offsets_shift_the_night(lat, lon, day, sec, off):
    t = S2000 + day * 86400 + sec
    name, when = astro.nearest_event(t - off * 60, lat, lon)
    assume(when is not None and abs(when - (t - off * 60)) > 5)
    assert astro.is_night(t, lat, lon, off, off) is astro.is_night(t - off * 60, lat, lon)


@pytest.mark.parametrize("lat,lon", [(52.37, 4.9), (-17.7, 178.1), (-17.7, -178.1),
                                     (21.3, -157.9), (-36.85, 174.76), (60.17, 24.94)])
def test_is_night_flips_at_each_event_with_its_offset(lat, lon):
    start = days_from_civil(2025, 1, 1)
    for day in range(start, start + 365, 7):
        kind, rise, sett = astro.sun_times(day, lat, lon)
        r = S2000 + day * 86400 + int(rise * 60)
        s = S2000 + day * 86400 + int(sett * 60)
        assert astro.is_night(r - 60, lat, lon) and not astro.is_night(r + 60, lat, lon)
        assert not astro.is_night(s - 60, lat, lon) and astro.is_night(s + 60, lat, lon)
        # Lamps on 15 minutes after sunset, off 20 minutes before sunrise.
        assert not astro.is_night(s + 14 * 60, lat, lon, 15, -20)
        assert astro.is_night(s + 16 * 60, lat, lon, 15, -20)
        assert astro.is_night(r - 21 * 60, lat, lon, 15, -20)
        assert not astro.is_night(r - 19 * 60, lat, lon, 15, -20)


def test_nearest_event_and_twilight_in_amsterdam():
    lat, lon = 52.37, 4.9
    day = days_from_civil(2025, 6, 21)
    _, rise, sett = astro.sun_times(day, lat, lon)
    midnight = S2000 + day * 86400
    assert astro.nearest_event(midnight + 2 * 3600, lat, lon) == \
        ("sunrise", midnight + round(rise * 60))
    assert astro.nearest_event(midnight + 18 * 3600, lat, lon) == \
        ("sunset", midnight + round(sett * 60))
    # 23:59 UTC: sunset was 3 h 53 min ago, the next sunrise is 3 h 19 min away.
    name, when = astro.nearest_event(midnight + 86340, lat, lon)
    assert name == "sunrise" and when > midnight + 86400
    s = midnight + round(sett * 60)
    assert astro.near_twilight(s - 10 * 60, lat, lon, 15)
    assert astro.near_twilight(s + 14 * 60, lat, lon, 15)
    assert not astro.near_twilight(s + 16 * 60, lat, lon, 15)
    assert not astro.near_twilight(midnight + 12 * 3600, lat, lon, 90)


@settings(max_examples=200, deadline=None)
@given(lat=st.floats(-65, 65), lon=st.floats(-180, 180), day=DAYS,
       sec=st.integers(0, 86399))
def test_nearest_event_is_where_the_night_turns(lat, lon, day, sec):
    t = S2000 + day * 86400 + sec
    name, when = astro.nearest_event(t, lat, lon)
    assert name in ("sunrise", "sunset")
    assert abs(when - t) <= 13 * 3600  # a day and a night each hold one event
    assert astro.is_night(when - 30, lat, lon) is (name == "sunrise")
    assert astro.is_night(when + 30, lat, lon) is (name == "sunset")
    # No other event lies between now and the nearest one: the night does not flip there.
    inside = astro.is_night(when - 30 if when > t else when + 30, lat, lon)
    lo, hi = sorted((t, when))
    for probe in range(lo, hi, max(60, (hi - lo) // 12)):
        if abs(probe - when) > 60:
            assert astro.is_night(probe, lat, lon) is inside


def test_float32_error_is_small_against_double():
    # A direct look at what single precision costs, over a grid.
    worst = 0.0
    for day in range(days_from_civil(2024, 1, 1), days_from_civil(2032, 1, 1), 37):
        for lat in (-65.0, -40.0, 0.0, 35.0, 60.0, 65.0):
            for lon in (-180.0, -90.0, 0.0, 120.0, 180.0):
                _, r64, s64 = astro.sun_times(day, lat, lon)
                _, r32, s32 = astro32.sun_times(day, lat, lon)
                worst = max(worst, abs(r64 - r32) * 60, abs(s64 - s32) * 60)
    assert worst < 10, worst
    assert math.isfinite(worst)


# --- SunClock: the same answers, worked out only when they can change ---------------------------

@pytest.mark.parametrize("mod", IMPLS)
@settings(max_examples=60, deadline=None)
@given(lat=st.floats(-70, 70), lon=st.floats(-180, 180), day=DAYS,
       sec=st.integers(0, 86399), set_off=st.integers(-120, 120),
       rise_off=st.integers(-120, 120), window=st.integers(10, 720),
       inside=st.lists(st.floats(0, 1), min_size=40, max_size=40))
def test_sun_clock_answers_as_the_functions_do_across_its_spans(
        mod, lat, lon, day, sec, set_off, rise_off, window, inside):
    lat, lon = f32(lat), f32(lon)
    clock = mod.SunClock(lat, lon, set_off, rise_off, window)
    t = S2000 + day * 86400 + sec
    end = t + 40 * 3600
    spans = 0
    while t < end:
        assert clock.at(t) is True  # a new span begins here
        until = clock.valid_until
        assert until > t
        spans += 1
        # the span's first and last second and one inside it: the functions' own answers
        probes = {t, until - 1, t + int((until - 1 - t) * inside[spans % 40])}
        for p in sorted(probes):
            assert clock.at(p) is False or p == t
            assert clock.dark is mod.is_night(p, lat, lon, set_off, rise_off), (p, t, until)
            assert clock.near is mod.near_twilight(p, lat, lon, window), (p, t, until)
        t = until
    # a handful of spans a day, not one a minute
    assert spans <= 40
    # going back in time (a clock set back) works the answers out again
    back = clock.valid_from - 3600
    assert clock.at(back) is True
    assert clock.dark is mod.is_night(back, lat, lon, set_off, rise_off)
    assert clock.near is mod.near_twilight(back, lat, lon, window)
