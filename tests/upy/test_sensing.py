# agent.sensing and agent.selfcheck under the MicroPython unix port: the shared cases
# (sensing_cases.py), then the allocation checks, which need MicroPython's gc.mem_alloc().
from heap import allocated
from sensing_cases import *  # noqa: F401,F403
from sensing_cases import S

from agent import selfcheck, sensing


def _no_alloc(fn):
    grew = allocated(fn)
    assert grew is None or grew == 0, "allocated %d bytes" % grew


# ---- allocation ----

def test_motion_edge_allocates_nothing():
    m = sensing.Motion(200)

    def isr(i):
        m.edge(i * 37, i & 1)

    _no_alloc(isr)
    m.edge(0, 1)

    def isr_high(i):
        m.edge(1000 + i, 1)

    _no_alloc(isr_high)


def test_steady_state_calls_allocate_nothing():
    m = sensing.Motion(200)
    f = sensing.LuxFilter(5)
    d = sensing.DuskDawn(16, 27, 60 * S, 0)
    adc = sensing.AdcLightHealth()
    i2c = sensing.I2cLightHealth()
    burner = selfcheck.DayBurner()
    lux = [3.5, 7.25, 40.0, 12.0, 1000.0, 0.5]
    for v in lux:
        f.add(v)  # until full: a median of an even count is a new float
    m.edge(0, 1)

    def tick(i):
        now = 1000 + i * 100
        v = lux[i % 6]
        f.add(v)
        d.update(v, now)
        adc.update(1000 + (i & 7), now, False, v)
        i2c.update(v, now, False)
        m.poll(now)
        burner.update(50, True, now)

    _no_alloc(tick)
