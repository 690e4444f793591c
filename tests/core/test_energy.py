"""Energy metering and night accounting under CPython. The hand-checked cases
(tests/upy/energy_cases.py) also run under MicroPython, in tests/upy/test_dimmer.py; here
hypothesis adds random level traces, and a float32 shim shows the meter keeps its accuracy
with the chip's 32-bit floats."""

from fractions import Fraction

import energy_cases as ec  # the cases shared with ring 2 (tests/upy is on sys.path)
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.energy import EnergyMeter
from agent.sched import TICKS_PERIOD, ticks_add
from tests import shared_cases
from tests.float32 import F32


@pytest.mark.parametrize("case", shared_cases.names(ec))
def test_shared_case(case, tmp_path):
    shared_cases.run(ec, case, tmp_path)


def test_shim_is_float32_and_a_naive_float32_sum_would_fail():
    # The threat is real: 432000 additions of 60 W * 100 ms into one float32 drift by -0.13 %.
    inc = F32(60) * 100 / 3.6e6
    assert isinstance(inc, F32)
    total = F32(0)
    for _ in range(12 * 36000):
        total = total + inc
    assert isinstance(total, F32)
    assert abs(total - 720) > 0.72, total


def test_twelve_hours_of_ticks_with_float32_power_curve():
    # The meter turns power into whole milliwatts once per level change and sums integers
    # (mW * ms, carried into [Wh, mWh, uJ]); were it to sum floats derived from the F32 curve,
    # they would be float32 and drift as above.
    m = EnergyMeter([[F32(0), F32(0.5)], [F32(37), F32(22.7)], [F32(100), F32(60)]])
    wh = ec.twelve_hours_of_ticks(m)
    assert abs(wh - 720) < 1e-6
    # Also at a level interpolated in float32: 50 % -> 22.7 + 37.3 * 13 / 63 W
    m2 = EnergyMeter([[F32(0), F32(0.5)], [F32(37), F32(22.7)], [F32(100), F32(60)]])
    now = ec.NEAR_WRAP
    for _ in range(12 * 36000):
        m2.update(F32(50), now)
        now = ticks_add(now, 100)
    m2.update(F32(50), now)
    exact = (22.7 + 37.3 * 13 / 63) * 12
    assert abs(m2.wh - exact) / exact < 1e-4


levels = st.one_of(st.sampled_from([0, 0, 10, 50, 100]), st.floats(0, 100))
curves = st.sampled_from([
    [[0, 0.5], [10, 7], [50, 31], [100, 60]],
    [[0, 0], [100, 100]],
    [[5, 3], [60, 40], [100, 250.5]],
])


@settings(max_examples=300, deadline=None)
@given(curves, st.integers(0, TICKS_PERIOD - 1),
       st.lists(st.tuples(levels, st.integers(0, 3 * 3600 * 1000)), min_size=1, max_size=30))
def test_piecewise_constant_integration(curve, t0, steps):
    """Each interval is booked at the level set at its start; burn time counts lit time only
    and switch-ons count 0 -> lit, across the tick wrap. The meter holds power in whole mW:
    within 0.5 mW of the curve, so within 0.5 mWh per hour booked."""
    m = EnergyMeter(curve)
    now = t0
    want = Fraction(0)
    lit_ms = 0
    switches = 0
    prev = 0
    for level, dt in steps:
        m.update(level, now)
        if level > 0 and prev <= 0:
            switches += 1
        now = ticks_add(now, dt)
        want += Fraction(m.watts(level)) * dt / (3600 * 1000)
        lit_ms += dt if level > 0 else 0
        prev = level
    m.update(prev, now)
    total_ms = sum(dt for _, dt in steps)
    assert abs(Fraction(m.wh) - want) <= Fraction(total_ms, 2 * 3600 * 10**6) + Fraction(1, 10**9)
    assert m.burn_s == lit_ms // 1000
    assert m.switches == switches


@given(curves, st.integers(0, TICKS_PERIOD - 1), levels, st.integers(1, 10**6))
def test_repeated_and_stale_updates_book_nothing(curve, t0, level, dt):
    m = EnergyMeter(curve)
    m.update(level, t0)
    m.update(level, ticks_add(t0, dt))
    wh, burn, sw = m.wh, m.burn_s, m.switches
    m.update(level, ticks_add(t0, dt))  # same time again
    m.update(level, ticks_add(t0, dt - 1))  # a stale reading
    m.update(level, ticks_add(t0, dt))
    assert (m.wh, m.burn_s, m.switches) == (wh, burn, sw)


@settings(deadline=None)
@given(st.integers(0, TICKS_PERIOD - 1), st.integers(0, 1439), st.integers(1, 16 * 60),
       st.lists(st.sampled_from([0, 10, 40, 70, 100]), min_size=1, max_size=5))
def test_night_baselines(t0, start, minutes, pattern):
    """Against a per-minute sum of the D60 table and of the 100 % power."""
    curve = [[0, 0], [100, 100]]  # power in W equals the level in %

    def level_at(k):
        return pattern[k * len(pattern) // minutes]

    m = EnergyMeter(curve)
    night = ec.run_night(m, t0, start, minutes, level_at)
    d60 = on = act = 0.0
    for k in range(minutes):
        mm = (start + k) % 1440
        d60 += 50 if (mm >= 1320 or mm < 300) else 70 if mm >= 1200 else 100
        on += 100
        act += level_at(min(k, minutes - 1))
    # the summary gives Wh to 3 decimals (1 mWh)
    assert abs(night["d60_wh"] - d60 / 60) <= 0.0005
    assert abs(night["always_on_wh"] - on / 60) <= 0.0005
    assert abs(night["wh"] - act / 60) <= 0.0005
    # percentages to 0.1, computed from the integer Wh meter: a tie may round either way
    assert abs(night["saving_vs_always_on_pct"] - (on - act) * 100 / on) <= 0.051
    assert abs(night["saving_vs_d60_pct"] - (d60 - act) * 100 / d60) <= 0.051
    assert set(night) >= {"wh", "always_on_wh", "d60_wh", "saving_vs_always_on_pct",
                          "saving_vs_d60_pct", "burn_s"}


def test_night_books_plain_updates_too():
    # The loop may call update() every tick and night_update() once a minute: the night's
    # books follow every update, and a duplicate call does not count twice.
    m = EnergyMeter([[0, 0], [100, 100]])
    m.night_begin(0, 23 * 60)
    m.update(100, 0)
    m.update(20, 1800000)  # 30 min at 100 W
    m.night_update(20, 1800000, 23 * 60 + 30)
    m.update(20, 3600000)  # 30 min at 20 W
    night = m.night_end(3600000)
    assert ec.close(night["wh"], 60)
    assert ec.close(night["d60_wh"], 50)  # 23:00-00:00 at 50 %
    assert night["burn_s"] == 3600
