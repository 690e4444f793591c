# agent.dimmer, agent.output and agent.energy under the MicroPython unix port: the shared
# cases (light_cases.py), fixed-seed random traces, and the steady-state allocation checks.
# The unix port's floats are doubles; the meter's float32 safety rests on its integer sums
# (see agent/energy.py and tests/core/test_energy.py, which runs it under a float32 shim).
import gc

import light_cases as lc

from agent.dimmer import Dimmer
from agent.energy import EnergyMeter
from agent.output import Ramp
from agent.sched import TICKS_PERIOD, ticks_add

STARTS = (0, lc.NEAR_WRAP, TICKS_PERIOD - 1)


def test_boost_ramp_hold_fade():
    for t0 in STARTS:
        lc.check_boost_ramp_hold_fade(t0)


def test_new_detection_extends_never_shortens():
    for t0 in STARTS:
        lc.check_new_detection_extends_never_shortens(t0)


def test_light_ahead_scales_with_distance():
    for t0 in STARTS:
        lc.check_light_ahead_scales_with_distance(t0)


def test_override_bounded():
    for t0 in STARTS:
        lc.check_override_bounded(t0)


def test_random_traces():
    lc.check_random_traces(300, 2024)


def test_stuck_sensor_across_days():
    lc.check_stuck_sensor_across_days()


def test_log_curve():
    lc.check_log_curve()


def test_duty():
    lc.check_duty()


def test_ramp():
    lc.check_ramp()


def test_energy_by_hand():
    for t0 in STARTS:
        lc.check_energy_by_hand(t0)


def test_power_curve_interpolation():
    lc.check_power_curve_interpolation()


def test_d60_schedule():
    lc.check_d60_schedule()


def test_night_vs_baselines():
    for t0 in STARTS:
        lc.check_night_vs_baselines(t0)


def test_twelve_hours_of_ticks():
    wh = lc.check_twelve_hours_of_ticks()
    assert abs(wh - 720) < 1e-6, wh


def _allocated(fn, n=200):
    gc.collect()
    gc.disable()
    try:
        before = gc.mem_alloc()
        for i in range(n):
            fn(i)
        return gc.mem_alloc() - before
    finally:
        gc.enable()


def test_steady_state_allocates_nothing():
    # A quiet night: no boost running, level unchanged tick after tick.
    d = Dimmer(lc.light())
    m = EnergyMeter([[0, 0.5], [10, 7], [50, 31], [100, 60]])
    r = Ramp(50)
    t0 = lc.NEAR_WRAP
    m.night_begin(t0, 1200)
    lv = d.level(t0, True, 40)
    r.step(lv, t0)
    r.jump(lv)
    m.update(lv, t0)

    def tick(i):
        now = ticks_add(t0, 100 * (i + 1))
        level = d.level(now, True, 40)
        r.step(level, now)
        d.busy(now)
        d.next_change_ms(now)
        m.night_update(level, now, 1200)

    assert _allocated(tick) == 0, "a quiet tick allocated"
    # A boost holding (fully up) allocates nothing either; only ramps and fades compute.
    d.motion(t0, False)
    d.level(ticks_add(t0, 1000), True, 40)

    def holding(i):
        now = ticks_add(t0, 1000 + i)
        d.level(now, True, 40)
        d.busy(now)
        d.next_change_ms(now)

    assert _allocated(holding) == 0, "a tick during a hold allocated"
    # After a boost has come and gone, back to no allocation.
    for k in range(0, 90000, 250):
        d.level(ticks_add(t0, k), True, 40)
    assert _allocated(lambda i: d.level(ticks_add(t0, 90000 + i), True, 40)) == 0
