"""Ultrasonic ranging under CPython: the cases shared with MicroPython (tests/upy/ranging_cases.py,
which also cover the thermometers and the simulated devices: the simulated board runs in
both), then properties of agent.ranging over generated pings."""

import math
import statistics

import pytest
import ranging_cases as shared  # the cases shared with ring 2 (tests/upy is on sys.path)
from hypothesis import assume, given
from hypothesis import strategies as st

from agent import ranging
from agent.ranging import BLIND, NO_ECHO, OK, OUT_OF_RANGE, OUTLIER
from tests import shared_cases


@pytest.mark.parametrize("case", shared_cases.names(shared))
def test_shared_case(case, tmp_path):
    shared_cases.run(shared, case, tmp_path)


def c_at(t):
    return 331.3 + 0.606 * t


def echo(d, t=20.0):
    return int(round(2 * d / c_at(t) * 1e6))


temps = st.floats(-40, 85)
any_num = st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(2**40), 2**40)
BLIND_M, MAX_M, SPREAD_M = 0.25, 4.0, 0.05


# ---- speed and distance ----

@given(any_num | st.none())
def test_speed_is_always_within_the_clamped_range(t):
    v = ranging.speed_of_sound(t)
    assert c_at(-40) <= v <= c_at(85)


@given(temps)
def test_speed_formula_inside_the_range(t):
    assert ranging.speed_of_sound(t) == pytest.approx(c_at(t), abs=1e-9)


@given(st.floats(0.02, 6.0), temps)
def test_echo_to_m_inverts_the_round_trip(d, t):
    assert ranging.echo_to_m(2 * d / c_at(t) * 1e6, t) == pytest.approx(d, rel=1e-9)


@given(st.floats(0.0, 50.0), st.floats(0.0, 50.0))
def test_timeout_covers_the_cold_round_trip_and_grows_with_range(a, b):
    lo, hi = sorted((a, b))
    assert ranging.ping_timeout_us(lo) >= 2 * lo / c_at(-40) * 1e6 + 500
    assert ranging.ping_timeout_us(lo) <= ranging.ping_timeout_us(hi)


# ---- Burst ----

def _result(echoes, temp=20.0, blind=BLIND_M, max_m=MAX_M, spread=SPREAD_M):
    b = ranging.Burst(len(echoes), blind, max_m, spread)
    for e in echoes:
        b.add(e, temp)
    return b.result()


garbage = (st.sampled_from([-2, -1, -7, 0, 10**7])
           | st.floats(0.0, 6.0).map(echo)  # anything from 0 to beyond range
           | st.integers(-(2**31), 2**31))


@given(st.floats(BLIND_M + 0.01, MAX_M - 0.06), st.lists(st.floats(0, SPREAD_M * 0.9),
                                                         min_size=1, max_size=9),
       st.data(), temps)
def test_a_minority_of_garbage_never_moves_the_median_out_of_the_good_pings(base, offsets,
                                                                            data, t):
    good = [base + o for o in offsets]
    k = data.draw(st.integers(0, len(good) - 1))  # the good pings stay a strict majority
    bad = data.draw(st.lists(garbage, min_size=k, max_size=k))
    pings = data.draw(st.permutations([echo(d, t) for d in good] + bad))
    d, q, nv = _result(pings, t)
    assert q == OK
    assert min(good) - 0.0005 <= d <= max(good) + 0.0005  # the echo's 1 us is 0.17 mm
    assert nv >= len(good)


@given(st.lists(st.integers(-(2**31), -2), min_size=1, max_size=12))
def test_every_ping_without_echo_is_no_echo(codes):
    assert _result(codes) == (None, NO_ECHO, 0)


@given(st.integers(1, 12))
def test_every_echo_that_never_ends_is_out_of_range(n):
    assert _result([-1] * n) == (None, OUT_OF_RANGE, 0)


@given(st.lists(garbage, min_size=1, max_size=12), temps, st.data())
def test_an_invalid_reading_never_carries_a_number(pings, t, data):
    d, q, nv = _result(pings, t)
    assert q in (OK, BLIND, NO_ECHO, OUT_OF_RANGE, OUTLIER)
    assert (d is None) == (q != OK)
    if q == OK:
        assert BLIND_M <= d <= MAX_M and 2 * nv > len(pings)
    # The order of the pings does not matter.
    assert _result(data.draw(st.permutations(pings)), t) == (d, q, nv)


def _reference(distances, codes):
    """The rule as the docstring states it, on float distances (None for the timeout
    codes given in `codes`)."""
    kinds = []
    valid = []
    for d, c in zip(distances, codes, strict=True):
        if c is not None:
            kinds.append(OUT_OF_RANGE if c == -1 else NO_ECHO)
        elif d < BLIND_M:
            kinds.append(BLIND)
        elif d > MAX_M:
            kinds.append(OUT_OF_RANGE)
        else:
            kinds.append(OK)
            valid.append(d)
    n = len(kinds)
    if 2 * len(valid) > n:
        med = statistics.median(valid)
        close = sum(1 for d in valid if abs(d - med) <= SPREAD_M)
        return (med, OK) if 2 * close > n else (None, OUTLIER)
    counts = [(kinds.count(NO_ECHO), 3, NO_ECHO), (kinds.count(BLIND), 2, BLIND),
              (kinds.count(OUT_OF_RANGE), 1, OUT_OF_RANGE)]
    return None, max(counts)[2]


ping_kinds = st.one_of(
    st.floats(0.3, 3.9),  # in range
    st.floats(1.0, 1.1),  # clustered, so agreement happens often
    st.floats(0.0, 0.2),  # blind
    st.floats(4.1, 6.0),  # beyond max_m
    st.sampled_from([-1, -2]),  # timeouts
)


@given(st.lists(ping_kinds, min_size=1, max_size=11), temps)
def test_burst_follows_its_rule(pings, t):
    codes = [p if isinstance(p, int) else None for p in pings]
    echoes = [p if isinstance(p, int) else echo(p, t) for p in pings]
    dists = [None if isinstance(p, int) else ranging.echo_to_m(e, t)
             for p, e in zip(pings, echoes, strict=True)]
    valid = [d for d in dists if d is not None and BLIND_M <= d <= MAX_M]
    if valid:  # stay clear of the spread's edge, where 1 um of rounding decides
        med = statistics.median(valid)
        assume(all(abs(abs(d - med) - SPREAD_M) > 1e-4 for d in valid))
    want_d, want_q = _reference([d if d is not None else 0.0 for d in dists], codes)
    d, q, nv = _result(echoes, t)
    assert q == want_q
    assert nv == len(valid)
    if want_d is None:
        assert d is None
    else:
        assert d == pytest.approx(want_d, abs=0.0005)


@given(st.lists(any_num | st.none(), max_size=12), any_num | st.none())
def test_burst_never_raises(pings, t):
    b = ranging.Burst(5, 0.02, 4.0, 0.05)
    for p in pings:
        b.add(p, t)
    b.result()


# ---- NTC ----

def ntc_mv(t, supply, series, r25, beta):
    r = r25 * math.exp(beta * (1 / (t + 273.15) - 1 / 298.15))
    return supply * series / (series + r)


@given(st.floats(-30, 70), st.floats(3000, 5000), st.floats(2000, 100_000),
       st.floats(2000, 100_000), st.floats(3000, 4500))
def test_ntc_round_trip(t, supply, series, r25, beta):
    mv = ntc_mv(t, supply, series, r25, beta)
    assert ranging.ntc_celsius(mv, supply, series, r25, beta) == pytest.approx(t, abs=0.1)


@given(any_num | st.none(), any_num, any_num, any_num, any_num)
def test_ntc_is_a_temperature_in_range_or_none(mv, supply, series, r25, beta):
    t = ranging.ntc_celsius(mv, supply, series, r25, beta)
    assert t is None or -40 <= t <= 85
