"""Fill level, calibration and the time-to-full forecast under CPython: the cases shared with
MicroPython (tests/upy/fill_cases.py), then properties over generated traces. Clocks start
anywhere, mostly near the 2**30 wrap of ticks_ms."""

import json
import math
import random

import fill_cases as shared  # the cases shared with ring 2 (tests/upy is on sys.path)
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from units import HOUR, MIN, WRAP  # tests/upy is on sys.path

from agent import commands
from agent.fill import MIN_SPAN_M, TTF_CAP_S, Forecast, Level
from tests import shared_cases
from tests.float32 import F32


@pytest.mark.parametrize("case", shared_cases.names(shared))
def test_shared_case(case, tmp_path):
    shared_cases.run(shared, case, tmp_path)


starts = st.integers(WRAP - 6 * HOUR, WRAP - 1) | st.integers(0, WRAP - 1)
rates = st.floats(0.005, 0.2)
noises = st.floats(0.0, 0.005)  # level std: 0.005 is about 4 mm over a 0.85 m span


def rate_tol(rate):
    return 0.004 + 0.05 * rate


def feed(f, t0, levels, step=MIN):
    """Add levels one per step from tick t0; returns the level after each."""
    return [f.add((t0 + i * step) % WRAP, v) for i, v in enumerate(levels)]


def steady(rng, rate, sigma, hours, l0=0.05, step=MIN):
    n = int(hours * HOUR / step)
    true = [l0 + rate * i * step / HOUR for i in range(n)]
    return true, [v + rng.gauss(0, sigma) for v in true]


def hours_for(rate, l0=0.05):
    """Long enough for a rate (at least 2 h), short enough that the bin stays below 0.9."""
    return max(2.0, min(8.0, (0.85 - l0) / rate))


# ---- Level ----

distances = st.none() | st.floats(-5.0, 20.0) | st.sampled_from([math.nan, math.inf, -math.inf])

geometry = st.tuples(st.floats(0.3, 4.0), st.floats(0.02, 3.0)).filter(
    lambda g: g[1] + MIN_SPAN_M <= g[0])


@given(geometry, st.floats(-1.0, 6.0), st.floats(-1.0, 6.0))
def test_level_is_the_linear_map(g, d1, d2):
    empty, full = g
    lv = Level(empty, full, 0.15)
    assert lv.level(empty) == 0
    assert lv.level(full) == pytest.approx(1.0)
    mid = (empty + full) / 2
    assert lv.level(mid) == pytest.approx(0.5)
    # Affine: equal distance steps give equal level steps; nearer means fuller.
    a, b = lv.level(d1), lv.level(d2)
    assert a - b == pytest.approx((d2 - d1) / (empty - full), abs=1e-9)
    if d2 - d1 > 1e-6:
        assert a > b
    f = lv.filling(d1)
    assert 0.0 <= f <= 1.0
    assert f == min(1.0, max(0.0, a))


@given(geometry, st.floats(0.01, 0.5), st.lists(st.floats(-0.6, 0.6) | distances, max_size=40))
def test_relearnt_empty_stays_within_tolerance(g, tol, offsets):
    empty, full = g
    lv = Level(empty, full, tol)
    for off in offsets:
        # Mostly readings near the installed empty distance, some far or not numbers.
        d = empty + off if off is not None and -0.6 <= off <= 0.6 else off
        before = lv.empty_m
        ok = lv.relearn_empty(d)
        near = d is not None and math.isfinite(d) and abs(d - empty) <= tol
        assert ok == (near and (before + d) / 2 >= full + MIN_SPAN_M)
        if ok:
            assert lv.empty_m == pytest.approx((before + d) / 2)  # halfway, no further
        else:
            assert lv.empty_m == before
        assert abs(lv.empty_m - empty) <= tol + 1e-9
        assert lv.empty_m >= full + MIN_SPAN_M - 1e-9
        assert lv.installed_empty_m == empty


@given(geometry, st.floats(0.0, 0.4), st.sampled_from(["empty", "full"]), distances)
def test_calibration_ok_or_clear_error_and_unchanged(g, blind, which, d):
    # A calibration is a config change (the calibrate command and tech.calibrate both save
    # inlet.empty_m / inlet.full_m): judged by the config check, which Level shares.
    empty, full = g
    if full < blind:
        blind = full
    raw = {"device": {"id": "bin-1", "role": "inlet"}, "mqtt": {"host": "b"},
           "inlet": {"branch": "north", "empty_m": empty, "full_m": full, "blind_m": blind}}
    before = json.dumps(raw)
    new, errors = commands.check_set(raw, "inlet.%s_m" % which, d)
    assert json.dumps(raw) == before  # the raw config is never changed in place
    ok = new is not None
    if ok:
        assert errors == []
        lv = Level(new["inlet"]["empty_m"], new["inlet"]["full_m"], 0.15, blind_m=blind)
        assert lv.full_m + MIN_SPAN_M <= lv.empty_m and lv.full_m >= blind
        assert (lv.empty_m if which == "empty" else lv.full_m) == d
    else:
        assert errors and all(e.startswith("inlet.") and len(e) > 30 for e in errors), errors
    good = d is not None and math.isfinite(d) and d > 0
    if which == "empty":
        good = good and full + MIN_SPAN_M <= d and 0.1 <= d <= 4  # the schema's range, max_m
    else:
        good = good and blind <= d and d + MIN_SPAN_M <= empty and 0.02 <= d
    assert ok == good


# ---- Forecast ----

@settings(max_examples=60, deadline=None)
@given(rates, noises, starts, st.integers(0, 2**32))
def test_rate_of_a_steady_fill(rate, sigma, t0, seed):
    rng = random.Random(seed)
    _, levels = steady(rng, rate, sigma, hours_for(rate))
    f = Forecast()
    feed(f, t0, levels)
    assert f.rate_per_h is not None
    assert f.rate_per_h == pytest.approx(rate, abs=rate_tol(rate))


def test_ttf_is_within_its_stated_uncertainty_for_most_traces():
    rng = random.Random(20240611)
    hits = 0
    widths = []
    n = 200
    for _ in range(n):
        rate = rng.uniform(0.005, 0.2)
        sigma = rng.uniform(0.0, 0.008)
        hours = min(8.0, rng.uniform(0.35, 0.8) / rate)
        true, levels = steady(rng, rate, sigma, hours)
        f = Forecast()
        feed(f, rng.randrange(WRAP), levels)
        ttf, err = f.estimate(1.0)
        want = (1.0 - true[-1]) / rate * 3600
        assert ttf is not None and err is not None
        hits += abs(ttf - want) <= err
        widths.append(err / want)
    assert hits >= 0.9 * n  # a 95 % range, conservative by construction
    widths.sort()
    assert widths[n // 2] < 0.1  # ... yet narrow: half the traces within +-10 %


@settings(max_examples=60, deadline=None)
@given(rates, noises, starts, st.integers(0, 2**32), st.data())
def test_spikes_move_neither_rate_nor_level(rate, sigma, t0, seed, data):
    rng = random.Random(seed)
    true, levels = steady(rng, rate, sigma, hours_for(rate))
    # Single readings, or pairs, at 0.95..1.0 (a hand, a bag through the beam), with at least
    # three good readings between bursts.
    i = data.draw(st.integers(0, 5))
    while i < len(levels):
        for k in range(data.draw(st.integers(1, 2))):
            if i + k < len(levels):
                levels[i + k] = data.draw(st.floats(0.95, 1.0))
        i += data.draw(st.integers(5, 30))
    f = Forecast()
    got = feed(f, t0, levels)
    assert f.rate_per_h is not None
    assert f.rate_per_h == pytest.approx(rate, abs=rate_tol(rate))
    for n, (g, want) in enumerate(zip(got, true, strict=True)):
        if n >= 4:  # from a full median window on
            assert abs(g - want) < 0.03 + 4 * sigma


@settings(max_examples=60, deadline=None)
@given(st.floats(0.0, 0.6), st.floats(0.05, 0.35), st.integers(5, 200), starts)
def test_persistent_step_is_accepted_after_three_readings(base, step, before, t0):
    f = Forecast()
    feed(f, t0, [base] * before)
    got = feed(f, (t0 + before * MIN) % WRAP, [base + step] * 4)
    assert got[0] == pytest.approx(base, abs=1e-4) and got[1] == pytest.approx(base, abs=1e-4)
    assert got[2] == pytest.approx(base + step, abs=1e-4)
    assert f.restarts == 0


@settings(max_examples=60, deadline=None)
@given(starts, st.lists(st.none() | st.floats(0.0, 1.0) | st.just(math.nan), max_size=300),
       st.integers(1, 10 * MIN))
def test_no_valid_reading_for_stale_ms_means_none(t0, levels, step):
    stale = 30 * MIN
    f = Forecast(stale_ms=stale)
    quiet = None  # ms since the last valid reading, None before any
    for i, v in enumerate(levels):
        got = f.add((t0 + i * step) % WRAP, v)
        valid = v is not None and not math.isnan(v)
        quiet = 0 if valid else (None if quiet is None else quiet + step)
        if quiet is None or quiet > stale:
            assert got is None and f.level is None and f.rate_per_h is None
            assert f.estimate(1.0) == (None, None)
        else:
            assert got is not None
        if quiet is None or quiet > stale:
            quiet = None  # the old readings are gone for good
    assert f.invalid + f.valid == len(levels)


@settings(max_examples=40, deadline=None)
@given(rates, noises, st.integers(0, WRAP - 1), st.integers(0, 2**32))
def test_the_tick_origin_changes_nothing(rate, sigma, t0, seed):
    _, levels = steady(random.Random(seed), rate, sigma, 4)
    a, b = Forecast(), Forecast()
    assert feed(a, t0, levels) == feed(b, 0, levels)
    assert (a.rate_per_h, a.estimate(0.85), a.estimate(1.0)) == \
        (b.rate_per_h, b.estimate(0.85), b.estimate(1.0))




@settings(max_examples=30, deadline=None)
@given(rates, noises, starts, st.integers(0, 2**32))
def test_float32_levels_give_the_same_rate(rate, sigma, t0, seed):
    # Levels as the chip computes them (float32); the forecast's own arithmetic on them is
    # integer, so it lands within a unit of the double-precision run.
    _, levels = steady(random.Random(seed), rate, sigma, hours_for(rate))
    assert isinstance(F32(0.3) * 100000, F32)
    a, b = Forecast(), Forecast()
    feed(a, t0, [F32(v) for v in levels])
    feed(b, t0, levels)
    assert a.rate_per_h is not None and b.rate_per_h is not None
    assert a.rate_per_h == pytest.approx(b.rate_per_h, abs=2e-4)
    assert a.rate_per_h == pytest.approx(rate, abs=rate_tol(rate))


@settings(max_examples=40, deadline=None)
@given(st.floats(0.05, 0.2), st.floats(0.0, 0.1), st.integers(0, 2**32), starts)
def test_emptying_restarts_and_later_fill_is_estimated(rate, low, seed, t0):
    rng = random.Random(seed)
    _, first = steady(rng, rate, 0.003, 3, l0=0.4)
    _, second = steady(rng, 0.06, 0.003, 2, l0=low)
    f = Forecast()
    feed(f, t0, first + second)
    assert f.restarts == 1
    assert f.rate_per_h == pytest.approx(0.06, abs=rate_tol(0.06))


@settings(max_examples=60, deadline=None)
@given(rates, st.integers(0, 2**32), st.floats(0.0, 1.2), st.floats(0.0, 1.2))
def test_time_to_is_ordered_and_bounded(rate, seed, x, y):
    _, levels = steady(random.Random(seed), rate, 0.003, hours_for(rate))
    f = Forecast()
    feed(f, 0, levels)
    lo, hi = sorted((x, y))
    (t_lo, e_lo), (t_hi, e_hi) = f.estimate(lo), f.estimate(hi)
    if t_lo is None:
        assert f.rate_per_h is not None and f.rate_per_h < 0.0011
        return
    assert t_hi is not None and e_lo is not None and e_hi is not None
    assert 0 <= t_lo <= t_hi <= TTF_CAP_S
    assert 0 <= e_lo <= TTF_CAP_S and 0 <= e_hi <= TTF_CAP_S
    if f.level is not None and lo <= f.level - 0.01:
        assert t_lo == 0


any_num = (st.none() | st.booleans() | st.floats(allow_nan=True, allow_infinity=True)
           | st.integers(-(2**40), 2**40))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(-(2**31), 2**31), any_num), max_size=120), any_num,
       any_num)
def test_forecast_never_raises(events, target, level_now):
    f = Forecast()
    for t, v in events:
        got = f.add(t, v)
        assert got is None or -1.4 <= got <= 1.4
        assert f.rate_per_h is None or f.rate_per_h >= 0
    ttf, err = f.estimate(target, level_now)
    assert (ttf is None) == (err is None)
    f.estimate(target)
