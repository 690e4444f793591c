# Cases for agent.sensing and agent.selfcheck shared by the CPython ring
# (tests/core/test_sensing.py) and the MicroPython ring (tests/upy/test_sensing.py, which adds
# the allocation checks).

from units import HOUR, INF, MIN, NAN, WRAP, S

from agent import selfcheck, sensing
from agent.sensing import ABSENT, OK, OUT_OF_RANGE, STUCK


def _t(ms):
    """A ticks_ms value ms after a start just below the wrap."""
    return (WRAP - 5 * MIN + ms) % WRAP


# ---- LuxFilter ----

def test_lux_filter_median_and_spike():
    f = sensing.LuxFilter(5)
    assert f.add(10.0) == 10.0
    assert f.add(20.0) == 15.0
    assert f.add(12.0) == 12.0
    assert f.add(11.0) == 11.5
    assert f.add(13.0) == 12.0
    assert f.add(90000.0) == 13.0  # a camera flash: 11 12 13 20 [90000]
    assert f.add(NAN) == 13.0  # skipped
    f.reset()
    assert f.add(3) == 3
    assert f.value() == 3


def test_lux_filter_never_raises():
    f = sensing.LuxFilter(3)
    r = f.add(NAN)
    assert r != r
    for v in (INF, -INF, -5, 0, 1e30, NAN):
        f.add(v)
    assert f.value() == 0  # last three kept: 0, 1e30, -5 (the NaN skipped)
    sensing.LuxFilter(NAN).add(1.0)
    sensing.LuxFilter(0).add(1.0)


# ---- DuskDawn ----

def _dd(delay=60 * S, start=0):
    return sensing.DuskDawn(16, 27, delay, _t(start))


def test_dusk_dawn_switches_after_delay():
    d = _dd()
    for s in range(0, 60):
        assert d.update(5.0, _t(s * S)) is False
    assert d.update(5.0, _t(60 * S)) is True
    assert d.last_switch_ms == _t(60 * S)
    # Between the thresholds nothing happens.
    for s in range(61, 500):
        assert d.update(20.0, _t(s * S)) is True
    for s in range(500, 560):
        assert d.update(30.0, _t(s * S)) is True
    assert d.update(30.0, _t(560 * S)) is False


def test_dusk_dawn_excursion_restarts_delay():
    d = _dd()
    t = 0
    for _ in range(50):
        d.update(5.0, _t(t))
        t += S
    d.update(500.0, _t(t))  # headlights
    t += S
    for _ in range(60):  # the delay counts from the first dark sample after them
        assert d.update(5.0, _t(t)) is False
        t += S
    assert d.update(5.0, _t(t)) is True


def test_dusk_dawn_gate_and_force():
    d = _dd()
    for s in range(0, 200):
        assert d.update(5.0, _t(s * S), may_switch_on=False) is False
    assert d.update(5.0, _t(200 * S)) is True  # long dark already: switch when allowed
    d.force(False, _t(201 * S))
    assert d.on is False and d.last_switch_ms == _t(201 * S)
    d.force(False, _t(202 * S))
    assert d.last_switch_ms == _t(201 * S)  # no change, no switch
    d.force(True, _t(203 * S))
    for s in range(204, 400):
        assert d.update(1000.0, _t(s * S), may_switch_off=False) is True
    assert d.update(NAN, _t(400 * S)) is True
    assert d.update(1000.0, _t(401 * S)) is False


def test_dusk_dawn_zero_delay_and_odd_thresholds():
    d = sensing.DuskDawn(30, 10, 0, 5)  # off below on: raised to 30
    assert d.update(29, 6) is True
    assert d.update(29, 7) is True
    assert d.update(31, 8) is False
    d = sensing.DuskDawn(NAN, INF, NAN, 0)
    for v in (NAN, INF, -INF, -1, 0):
        d.update(v, 1)


# ---- AdcLightHealth ----

def _adc_feed(h, raw, dark, start_ms, dur_ms, step_ms=MIN, lux=None):
    t = start_ms
    while t < start_ms + dur_ms:
        h.update(raw, _t(t), dark, lux)
        t += step_ms
    return t


def test_adc_stuck_at_zero_by_day():
    h = sensing.AdcLightHealth()
    t = _adc_feed(h, 0, False, 0, 60 * MIN + 1)
    assert h.quality == OK  # exactly 1 h is not longer than 1 h
    h.update(0, _t(t), False)
    assert h.quality == STUCK


def test_adc_stuck_at_full_by_night():
    h = sensing.AdcLightHealth()
    t = _adc_feed(h, 65535, True, 0, 61 * MIN)
    assert h.quality == OK
    h.update(65535, _t(t + MIN), True)
    assert h.quality == STUCK


def test_adc_rails_the_clock_agrees_with_are_fine():
    h = sensing.AdcLightHealth()
    _adc_feed(h, 0, True, 0, 16 * HOUR)  # a long winter night
    assert h.quality == OK
    _adc_feed(h, 65535, False, 16 * HOUR, 8 * HOUR)  # a sunny day, saturated
    assert h.quality == OK


def test_adc_rail_without_clock_after_stuck_ms():
    h = sensing.AdcLightHealth(stuck_ms=2 * HOUR)
    t = _adc_feed(h, 0, None, 0, 2 * HOUR + MIN)
    assert h.quality == OK
    h.update(0, _t(t), None)
    assert h.quality == STUCK


def test_adc_constant_value_and_recovery():
    h = sensing.AdcLightHealth()
    t = _adc_feed(h, 1234, None, 0, 6 * HOUR + MIN)
    assert h.quality == OK
    t = _adc_feed(h, 1234, False, t, 2 * MIN)
    assert h.quality == STUCK
    # Moves again, but touches the stuck value after 9 minutes: the 10 min start over.
    for i in range(9):
        h.update(1300 + i, _t(t), False)
        t += MIN
    h.update(1234, _t(t), False)
    t += MIN
    for i in range(11):  # the window runs from the first good sample: 0..10 min
        h.update(1400 + i, _t(t), False)
        t += MIN
        assert h.quality == STUCK
    h.update(1500, _t(t), False)  # 11 min: longer than 10
    assert h.quality == OK


def test_adc_noisy_signal_never_stuck():
    h = sensing.AdcLightHealth()
    t = 0
    for i in range(3 * 24 * 60):
        h.update(20000 + (i * 7919) % 13, _t(t), None)
        t += MIN
        assert h.quality == OK


def test_adc_out_of_range():
    h = sensing.AdcLightHealth()
    h.update(1000, _t(0), False, 200000)
    assert h.quality == OUT_OF_RANGE
    t = _adc_feed(h, 1000, False, MIN, 10 * MIN, step_ms=MIN // 2, lux=100)
    assert h.quality == OUT_OF_RANGE  # not yet 10 min of good readings
    h.update(1001, _t(t + MIN), False, 100)
    assert h.quality == OK
    for bad in (70000, -1, NAN, INF, None):
        h = sensing.AdcLightHealth()
        assert h.update(bad, _t(0), True) == OUT_OF_RANGE
    h = sensing.AdcLightHealth()
    assert h.update(100, _t(0), True, NAN) == OUT_OF_RANGE


def test_adc_dawn_after_a_dark_night_is_not_stuck():
    h = sensing.AdcLightHealth(stuck_ms=6 * HOUR)
    t = _adc_feed(h, 0, True, 0, 14 * HOUR)
    t = _adc_feed(h, 0, False, t, 20 * MIN)  # the clock says day a little before the light
    assert h.quality == OK


# ---- I2cLightHealth ----

def test_i2c_absent_after_three_failures_and_cleared():
    h = sensing.I2cLightHealth()
    assert h.update(None, _t(0), None) == OK
    assert h.update(None, _t(1), None) == OK
    assert h.update(None, _t(2), None) == ABSENT
    assert h.update(None, _t(3), None) == ABSENT
    assert h.update(15.5, _t(4), None) == OK
    assert h.update(None, _t(5), None) == OK


def test_i2c_out_of_range_and_recovery():
    h = sensing.I2cLightHealth()
    assert h.update(130000, _t(0), False) == OUT_OF_RANGE
    assert h.update(None, _t(1), False) == OUT_OF_RANGE
    t = 0
    for i in range(11):
        t += MIN
        h.update(500 + i, _t(t), False)
    assert h.quality == OUT_OF_RANGE  # good for 10 min, not longer
    h.update(600, _t(t + MIN), False)
    assert h.quality == OK
    assert sensing.I2cLightHealth().update(-0.5, 0, None) == OUT_OF_RANGE
    assert sensing.I2cLightHealth().update(NAN, 0, None) == OUT_OF_RANGE


def test_i2c_constant_nonzero_is_stuck_zero_at_night_is_not():
    h = sensing.I2cLightHealth(stuck_ms=3 * HOUR)
    t = 0
    while t <= 16 * HOUR:
        h.update(0, _t(t), True)
        t += MIN
    assert h.quality == OK
    h = sensing.I2cLightHealth(stuck_ms=3 * HOUR)
    t = 0
    while t <= 3 * HOUR:
        h.update(42.5, _t(t), None)
        t += MIN
    assert h.quality == OK
    h.update(42.5, _t(t), None)
    assert h.quality == STUCK


def test_i2c_zero_by_day_is_stuck():
    h = sensing.I2cLightHealth()
    t = 0
    while t <= 61 * MIN:
        h.update(0, _t(t), False)
        t += MIN
    assert h.quality == STUCK


# ---- Motion ----

def test_motion_debounce():
    m = sensing.Motion(200)
    m.edge(_t(0), 1)
    m.edge(_t(50), 0)  # a spike
    assert m.poll(_t(60)) is False
    m.edge(_t(100), 1)
    assert m.poll(_t(250)) is False
    assert m.poll(_t(300)) is True
    assert m.poll(_t(400)) is False
    m.edge(_t(1000), 0)
    assert m.poll(_t(1100)) is False  # already reported while high
    # A pulse that rose and fell between two polls.
    m.edge(_t(2000), 1)
    m.edge(_t(2500), 0)
    assert m.poll(_t(9000)) is True
    assert m.poll(_t(9100)) is False


def test_motion_retrigger_every_5_s():
    m = sensing.Motion(200)
    m.edge(_t(0), 1)
    hits = [t for t in range(0, 20001, 100) if m.poll(_t(t))]
    assert hits == [200, 5200, 10200, 15200]


def test_motion_stuck_after_hours_high():
    m = sensing.Motion(200, stuck_ms=2 * HOUR)
    m.edge(_t(0), 1)
    n = 0
    t = 0
    while t < 2 * HOUR:
        n += m.poll(_t(t))
        t += S
    assert m.quality == OK
    assert n == 2 * HOUR // 5000
    t = 2 * HOUR
    while t < 3 * HOUR:
        assert m.poll(_t(t)) is False
        t += S
    assert m.quality == STUCK
    m.edge(_t(t), 0)
    assert m.poll(_t(t + 10)) is False
    assert m.quality == OK
    m.edge(_t(t + 1000), 1)
    assert m.poll(_t(t + 1300)) is True


def test_motion_stuck_clears_on_a_new_pulse_between_polls():
    m = sensing.Motion(0, stuck_ms=10 * S)
    m.edge(_t(0), 1)
    assert m.poll(_t(1)) is True
    assert m.poll(_t(11 * S)) is False
    assert m.quality == STUCK
    m.edge(_t(12 * S), 0)
    m.edge(_t(12 * S + 5), 1)
    assert m.poll(_t(12 * S + 10)) is True
    assert m.quality == OK


# ---- selfcheck ----

def test_photocell_drift():
    p = selfcheck.PhotocellDrift(45, nights=5)
    base = 800000000
    day = 86400
    assert p.record("sunset", base - 50 * 60, base) is False
    assert p.median_min is None
    p.record("sunset", base + day - 60 * 60, base + day)
    assert p.median_min is None
    p.record("sunset", base + 2 * day + 5 * 60, base + 2 * day)  # a bright evening
    assert p.median_min == -50.0
    assert p.suspect is True
    for i in range(3, 6):  # cleaned: on time again
        p.record("sunset", base + i * day + 60, base + i * day)
    assert p.median_of("sunset") == 1.0
    assert p.suspect is False
    for i in range(3):
        p.record("sunrise", base + i * day + 46 * 60, base + i * day)
    assert p.median_min == 46.0 and p.suspect is True
    p.record("noon", 0, 99999)
    p.record("sunrise", NAN, base)
    p.record("sunrise", base + 13 * 3600, base)  # not the same event
    assert p.median_of("sunrise") == 46.0


def test_day_burner():
    b = selfcheck.DayBurner(after_ms=30 * MIN)
    t = 0
    while t < 30 * MIN:
        assert b.update(100, True, _t(t)) is False
        t += MIN
    assert b.update(100, True, _t(t)) is True
    assert b.update(100, False, _t(t + MIN)) is True  # night: kept
    assert b.update(0, True, _t(t + 2 * MIN)) is False  # off by day: cleared
    b = selfcheck.DayBurner(after_ms=10 * MIN)
    for i in range(100):
        assert b.update(100, None, _t(i * MIN)) is False  # unknown clock never flags
    for i in range(100):
        b.update(100, True if i % 5 else False, _t(i * MIN))  # night breaks the run
    assert b.flag is False
