# agent.dimmer, agent.output and agent.energy under the MicroPython unix port: the shared
# cases (dimmer_cases.py, and energy_cases.py, which ride here because tests/test_chip.py runs
# this module on the chip by name), then the steady-state allocation checks.
# The unix port's floats are doubles; the meter's float32 safety rests on its integer sums
# (see agent/energy.py and tests/core/test_energy.py, which runs it under a float32 shim).
import gc

from dimmer_cases import *  # noqa: F401,F403
from dimmer_cases import NEAR_WRAP, light
from energy_cases import *  # noqa: F401,F403

from agent.dimmer import Dimmer
from agent.energy import EnergyMeter
from agent.output import Ramp
from agent.sched import ticks_add


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
    d = Dimmer(light())
    m = EnergyMeter([[0, 0.5], [10, 7], [50, 31], [100, 60]])
    r = Ramp(50)
    t0 = NEAR_WRAP
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
