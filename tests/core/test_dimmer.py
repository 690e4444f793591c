"""Motion boost, light-ahead, override and the output curve under CPython: hypothesis draws
random traces of motion, neighbour and override events, base levels and tick starts (near the
2**30 wrap too) and checks them against an oracle. The fixed cases also run under MicroPython
(tests/upy/dimmer_cases.py)."""

import dimmer_cases as dc  # the cases shared with ring 2 (tests/upy is on sys.path)
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.dimmer import Dimmer
from agent.output import Ramp, duty_u16, perceived_to_output
from agent.sched import TICKS_PERIOD, ticks_add
from tests import shared_cases


@pytest.mark.parametrize("case", shared_cases.names(dc))
def test_shared_case(case, tmp_path):
    shared_cases.run(dc, case, tmp_path)


def test_fixed_seed_traces():
    dc.random_traces(200, 12345)


starts = st.one_of(st.sampled_from([0, dc.NEAR_WRAP, TICKS_PERIOD - 1]),
                   st.integers(0, TICKS_PERIOD - 1))
bases = st.one_of(st.sampled_from([0, 5, 10, 40, 60, 100]), st.floats(0, 100))
fields = st.fixed_dictionaries({
    "min_level_pct": st.sampled_from([1, 10, 25.5, 50]),
    "boost_pct": st.integers(1, 100),
    "late_boost_pct": st.integers(1, 100),
    "hold_s": st.integers(1, 90),
    "late_hold_s": st.integers(1, 90),
    "ramp_ms": st.sampled_from([0, 1, 499, 500, 10000]),
    "fade_s": st.sampled_from([0, 1, 20, 60]),
    "ahead_reach_m": st.sampled_from([0, 1, 90, 250.5]),
    "override_max_s": st.sampled_from([60, 300]),
})
event = st.one_of(
    st.tuples(st.just("motion"), st.booleans(), st.none()),
    st.tuples(st.just("peer"), st.floats(-300, 300), st.booleans()),
    st.tuples(st.just("override"), st.one_of(st.none(), st.integers(0, 100)),
              st.sampled_from([0, 1, 30, 59, 60, 61, 100000])),
)


@st.composite
def traces(draw):
    gaps = draw(st.lists(st.integers(0, 90000), max_size=15))
    kinds = draw(st.lists(event, min_size=len(gaps), max_size=len(gaps)))
    events, t = [], 0
    for gap, (kind, a, b) in zip(gaps, kinds, strict=True):
        t += gap
        events.append((t, kind, a, b))
    steps = draw(st.lists(st.tuples(st.integers(0, 8000), st.booleans(), bases),
                          min_size=1, max_size=80))
    checks, t = [], 0
    for gap, on, base in steps:
        t += gap
        checks.append((t, on, base))
    checks.append((t + 500000, True, draw(bases)))  # long after everything: on the base
    return draw(fields), draw(starts), events, checks


@settings(max_examples=400, deadline=None)
@given(traces())
def test_random_traces_keep_every_promise(trace):
    """When on: >= min_level_pct and >= base always, >= what any single event asks for (so a
    peer never shortens an own hold and a new detection never shortens one), <= the highest
    boost asked, exactly the base after the last hold + fade; not on: 0; an override wins,
    bounded by override_max_s; busy/next_change_ms agree with the level."""
    dc.verify_trace(*trace)


@given(fields, starts, st.floats(0, 400), bases, st.booleans())
def test_peer_boost_scaled_by_distance(f, t0, dist, base, late):
    lt = dc.light(**f)
    d = Dimmer(lt)
    got = d.peer(t0, dist, late)
    reach = lt["ahead_reach_m"]
    boost = lt["late_boost_pct"] if late else lt["boost_pct"]
    want = boost * (1 - dist / reach) if 0 < reach and dist <= reach else 0
    assert dc.close(got, want)
    # Fully up (after the ramp), still holding: exactly the scaled boost, or the base.
    t = ticks_add(t0, lt["ramp_ms"])
    floor = max(lt["min_level_pct"], base)
    assert dc.close(d.level(t, True, base), max(floor, want))
    if want == 0:
        assert d.next_change_ms(t) is None


@given(fields, starts, st.integers(0, 100), st.floats(0.001, 1e6), bases)
def test_override_bounded(f, t0, level, duration, base):
    lt = dc.light(**f)
    d = Dimmer(lt)
    granted = d.override(level, duration, t0)
    assert granted <= lt["override_max_s"]
    end = ticks_add(t0, int(min(duration, lt["override_max_s"]) * 1000))
    if granted > 0:
        assert d.level(t0, False, base) == level
        assert d.level(ticks_add(end, -1), True, base) == level
    assert d.level(end, True, base) == max(lt["min_level_pct"], base)
    assert d.level(end, False, base) == 0


@given(st.floats(0, 100), st.floats(0, 100))
def test_log_curve_monotonic(a, b):
    lo, hi = min(a, b), max(a, b)
    assert perceived_to_output(lo, "log") <= perceived_to_output(hi, "log")
    if 0 < lo and hi - lo >= 1e-6:  # strictly rising, wherever a double can tell
        assert perceived_to_output(lo, "log") < perceived_to_output(hi, "log")
    assert 0 <= perceived_to_output(lo, "log") <= 100
    assert duty_u16(lo, "log") <= duty_u16(hi, "log")


@given(st.floats(-10, 110), st.sampled_from(["log", "linear"]))
def test_inverted_duty(p, curve):
    d = duty_u16(p, curve, False)
    assert 0 <= d <= 65535
    assert duty_u16(p, curve, True) == 65535 - d


@given(starts, st.floats(0.1, 1000), st.lists(st.tuples(st.integers(0, 5000), st.floats(0, 100)),
                                             min_size=1, max_size=40))
def test_ramp_slew_limited(t0, rate, steps):
    r = Ramp(rate)
    now = t0
    prev = r.step(steps[0][1], now)
    for dt, target in steps:
        now = ticks_add(now, dt)
        cur = r.step(target, now)
        assert abs(cur - prev) <= rate * dt / 1000 + 1e-9
        # towards the target, never past it
        assert min(prev, target) - 1e-9 <= cur <= max(prev, target) + 1e-9
        prev = cur
    last_target = steps[-1][1]
    settle = int(100 / rate * 1000) + 2
    assert r.step(last_target, ticks_add(now, settle)) == last_target
