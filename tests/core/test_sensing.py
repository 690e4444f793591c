"""Light/motion sensing and the self-checks under CPython: the cases shared with MicroPython
(tests/upy/sensing_cases.py), then properties over generated traces. Every time below starts
near the 2**30 wrap of ticks_ms."""

import math
import statistics

import pytest
import sensing_cases as shared  # the cases shared with ring 2 (tests/upy is on sys.path)
from hypothesis import given, settings
from hypothesis import strategies as st
from units import WRAP  # tests/upy is on sys.path

from agent import selfcheck, sensing
from agent.sensing import ABSENT, OK, STUCK
from tests import shared_cases


@pytest.mark.parametrize("case", shared_cases.names(shared))
def test_shared_case(case, tmp_path):
    shared_cases.run(shared, case, tmp_path)


def wrap(t):
    return t % WRAP


finite = st.floats(-1e6, 1e6, allow_nan=False)
any_num = st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(2**40), 2**40)
starts = st.integers(WRAP - 600_000, WRAP - 1)  # the first tick a little before the wrap


# ---- LuxFilter ----

@given(st.integers(1, 9), st.lists(finite, min_size=1, max_size=60))
def test_lux_filter_is_median_of_last_n(n, values):
    f = sensing.LuxFilter(n)
    for i, v in enumerate(values):
        got = f.add(v)
        want = statistics.median(values[max(0, i + 1 - n):i + 1])
        assert got == pytest.approx(want, rel=1e-12, abs=1e-9)


@given(st.lists(any_num, max_size=40))
def test_lux_filter_never_raises(values):
    f = sensing.LuxFilter(5)
    for v in values:
        f.add(v)


# ---- DuskDawn ----

ON, OFF = 16.0, 27.0
dark = st.floats(-10, ON - 0.01)
bright = st.floats(OFF + 0.01, 200000)
delays = st.integers(0, 120_000)
steps = st.integers(1, 20_000)


def _run(d, samples, t0):
    """Feed (dt_ms, lux) pairs; return [(absolute ms, state)] after each sample."""
    t = 0
    out = []
    for dt, lux in samples:
        t += dt
        out.append((t, d.update(lux, wrap(t0 + t))))
    return out


@given(delays.filter(lambda d: d > 0), starts, st.lists(steps, min_size=1, max_size=30),
       st.booleans(), st.data())
def test_dusk_dawn_ignores_excursions_shorter_than_delay(delay, t0, gaps, start_on, data):
    # Off by day with a dark excursion (a storm cloud), or on at night with a bright one
    # (headlights): its samples span less than the delay, then the light is back.
    d = sensing.DuskDawn(ON, OFF, delay, wrap(t0))
    d.force(start_on, wrap(t0))
    normal, odd = (dark, bright) if start_on else (bright, dark)
    trace = [(1000, data.draw(normal)) for _ in range(3)]
    trace.append((1000, data.draw(odd)))
    span = 0
    for g in gaps:
        if span + g >= delay:
            break
        span += g
        trace.append((g, data.draw(odd)))
    trace.append((1000, data.draw(normal)))
    out = _run(d, trace, t0)
    assert all(on == start_on for _, on in out)


@given(delays, starts, st.lists(steps, min_size=1, max_size=200), st.data())
def test_dusk_dawn_switches_after_steady_level_for_delay(delay, t0, gaps, data):
    d = sensing.DuskDawn(ON, OFF, delay, wrap(t0))
    trace = [(g, data.draw(dark)) for g in gaps]
    trace[0] = (1, trace[0][1])
    out = _run(d, trace, t0)
    first = out[0][0]
    for t, on in out:
        assert on == (t - first >= delay)
        if on:
            break
    if out[-1][0] - first >= delay:
        assert out[-1][1]
        # And back off after bright for the delay.
        t_last = out[-1][0]
        back = _run(d, [(g, data.draw(bright)) for g in [1] + gaps], t0 + t_last)
        first = back[0][0]
        for t, on in back:
            assert on == (t - first < delay)
            if not on:
                break


def _reference(samples, delay, gates):
    """The rule written plainly on absolute times: state after each sample."""
    on = False
    run_start = None
    out = []
    t = 0
    for (dt, lux), (may_on, may_off) in zip(samples, gates, strict=True):
        t += dt
        if math.isnan(lux):
            out.append(on)
            continue
        beyond = lux > OFF if on else lux < ON
        if not beyond:
            run_start = None
        else:
            if run_start is None:
                run_start = t
            if t - run_start >= delay and (may_off if on else may_on):
                on = not on
                run_start = None
        out.append(on)
    return out


lux_values = st.sampled_from([ON - 1, ON, ON + 1, OFF - 1, OFF, OFF + 1, 0.0, 5000.0,
                              math.nan]) | st.floats(-5, 60)


@settings(max_examples=300)
@given(delays, starts, st.lists(st.tuples(st.integers(0, 40_000), lux_values), max_size=150),
       st.data())
def test_dusk_dawn_never_chatters_and_matches_the_rule(delay, t0, samples, data):
    gates = [(data.draw(st.booleans()), data.draw(st.booleans())) if data.draw(st.booleans())
             else (True, True) for _ in samples]
    d = sensing.DuskDawn(ON, OFF, delay, wrap(t0))
    t = 0
    states = []
    switches = []
    for (dt, lux), (may_on, may_off) in zip(samples, gates, strict=True):
        t += dt
        before = d.on
        states.append(d.update(lux, wrap(t0 + t), may_on, may_off))
        if d.on != before:
            assert d.last_switch_ms == wrap(t0 + t)
            switches.append(t)
    assert states == _reference(samples, delay, gates)
    for a, b in zip(switches, switches[1:], strict=False):
        assert b - a >= delay  # no switch on then off (or off then on) within the delay


# ---- Health ----

@given(starts, st.lists(st.tuples(st.integers(1, 3_600_000), st.integers(1, 65534)),
                        max_size=80), st.sampled_from([True, False, None]))
def test_adc_changing_signal_is_never_stuck(t0, samples, dark):
    h = sensing.AdcLightHealth()
    t = 0
    prev = None
    for dt, raw in samples:
        if raw == prev:
            raw = raw + 1 if raw < 65534 else raw - 1
        prev = raw
        t += dt
        assert h.update(raw, wrap(t0 + t), dark) == OK


@given(starts, st.lists(st.tuples(st.integers(0, 7_200_000), any_num, any_num,
                                  st.sampled_from([True, False, None])), max_size=60))
def test_health_never_raises(t0, samples):
    adc = sensing.AdcLightHealth()
    i2c = sensing.I2cLightHealth()
    t = 0
    for dt, raw, lux, dark in samples:
        t += dt
        assert adc.update(raw, wrap(t0 + t), dark, lux) in (OK, STUCK, sensing.OUT_OF_RANGE)
        assert adc.update(raw, wrap(t0 + t), dark) in (OK, STUCK, sensing.OUT_OF_RANGE)
        i2c.update(lux, wrap(t0 + t), dark)


@given(starts, st.lists(st.none() | st.floats(0, 1000), max_size=60))
def test_i2c_absent_exactly_after_three_failures_in_a_row(t0, reads):
    h = sensing.I2cLightHealth(absent_after=3)
    trailing = 0
    for i, r in enumerate(reads):
        trailing = trailing + 1 if r is None else 0
        q = h.update(r, wrap(t0 + i * 1000), None)
        assert (q == ABSENT) == (trailing >= 3)


# ---- Motion ----

@given(starts, st.integers(50, 2000), st.lists(st.tuples(st.integers(0, 3000), st.booleans()),
                                              max_size=80))
def test_motion_short_spikes_are_never_reported(t0, debounce, spikes):
    m = sensing.Motion(debounce)
    t = 0
    for gap, poll_mid in spikes:
        t += gap + 1
        m.edge(wrap(t0 + t), 1)
        width = gap % debounce  # shorter than the debounce
        if poll_mid:
            assert not m.poll(wrap(t0 + t + width // 2))
        t += width
        m.edge(wrap(t0 + t), 0)
        assert not m.poll(wrap(t0 + t))
    assert m.quality == OK


@given(starts, st.lists(st.tuples(st.integers(0, 20_000), st.booleans()), max_size=120))
def test_motion_matches_the_rule(t0, events):
    # The rule on absolute times: a high level held for the debounce is one detection (also
    # when it ended between polls), re-reported every retrigger_ms while it stays high.
    debounce, retrigger = 200, 5000
    m = sensing.Motion(debounce, stuck_ms=3_600_000, retrigger_ms=retrigger)
    t = 0
    level = False
    rise = 0
    reported = False  # the current high period has been reported
    last = 0
    pending = False  # a long enough pulse ended unreported
    for dt, flip in events:
        t += dt
        if flip:
            if level and t - rise >= debounce and not reported:
                pending = True
            if not level:
                rise = t
                reported = False
            level = not level
            m.edge(wrap(t0 + t), 1 if level else 0)
        if pending:
            pending = False
            want = True
        elif level and t - rise >= debounce and (not reported or t - last >= retrigger):
            reported = True
            last = t
            want = True
        else:
            want = False
        assert m.poll(wrap(t0 + t)) is want


@given(st.lists(st.tuples(st.integers(-(2**40), 2**40), st.integers(-1, 2)), max_size=40))
def test_motion_never_raises(events):
    # Ticks are ints (time.ticks_ms()), but any int, and any level value, is survived.
    m = sensing.Motion(200)
    for t, lvl in events:
        m.edge(t, lvl)
        m.poll(t)
    sensing.Motion(math.nan, math.inf, -5).poll(0)


# ---- selfcheck ----

@given(st.integers(5, 240), st.lists(st.tuples(st.sampled_from(["sunset", "sunrise", "x"]),
                                               any_num, any_num), max_size=30))
def test_photocell_drift_never_raises(max_min, records):
    p = selfcheck.PhotocellDrift(max_min)
    for kind, a, b in records:
        p.record(kind, a, b)
        assert p.median_min is None or abs(p.median_min) <= 12 * 60
        assert p.suspect == (p.median_min is not None and abs(p.median_min) > max_min)
    selfcheck.PhotocellDrift(math.nan, math.inf).record("sunset", 1, 2)


@given(st.integers(5, 240), st.lists(st.integers(-300, 300), min_size=3, max_size=12))
def test_photocell_drift_uses_the_median_of_recent_nights(max_min, devs_min):
    p = selfcheck.PhotocellDrift(max_min, nights=5)
    base = 700_000_000
    for i, dev in enumerate(devs_min):
        p.record("sunrise", base + i * 86400 + dev * 60, base + i * 86400)
    want = statistics.median(devs_min[-5:])
    assert p.median_min == pytest.approx(want)
    assert p.suspect == (abs(want) > max_min)


@given(starts, st.lists(st.tuples(st.integers(0, 600_000), any_num,
                                  st.sampled_from([True, False, None])), max_size=80))
def test_day_burner_flags_only_after_a_long_daytime_burn(t0, samples):
    after = 30 * 60 * 1000
    b = selfcheck.DayBurner(after_ms=after)
    t = 0
    run_start = None
    want = False
    for dt, level, day in samples:
        t += dt
        flag = b.update(level, day, wrap(t0 + t))
        if isinstance(level, float) and math.isnan(level):
            assert flag == want
            continue
        if day is True and level > 0:
            run_start = t if run_start is None else run_start
            if t - run_start >= after:
                want = True
        else:
            run_start = None
            if day is True:
                want = False
        assert flag == want
