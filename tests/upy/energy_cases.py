# Energy meter cases shared by the CPython ring (tests/core/test_energy.py, which adds random
# level traces and a float32 shim) and the MicroPython ring (tests/upy/test_dimmer.py runs
# them: that module is the one tests/test_chip.py runs on the chip). The cases with a clock
# run from each of STARTS, across the ticks_ms wrap.
from dimmer_cases import NEAR_WRAP, STARTS, close

from agent.energy import EnergyMeter, d60_level
from agent.sched import ticks_add

# --- energy ----------------------------------------------------------------------------------

H = 3600000  # ms in an hour


def test_energy_by_hand():
    for t0 in STARTS:
        energy_by_hand(t0)


def energy_by_hand(t0=NEAR_WRAP):
    m = EnergyMeter([[0, 0], [100, 100]])
    assert m.watts(50) == 50 and m.watts(0) == 0
    m.update(100, t0)
    m.update(50, ticks_add(t0, H))  # 1 h at 100 W = 100 Wh
    m.update(50, ticks_add(t0, 2 * H))  # 1 h at 50 W = 50 Wh
    assert close(m.wh, 150, 1e-9), m.wh
    assert m.burn_s == 7200 and m.switches == 1
    m.update(0, ticks_add(t0, 2 * H))  # off (standby 0 W here)
    m.update(10, ticks_add(t0, 3 * H))
    m.update(10, ticks_add(t0, 3 * H + 1500))  # 1.5 s at 10 W
    assert close(m.wh, 150 + 10 * 1.5 / 3600, 1e-9)
    assert m.switches == 2 and m.burn_s == 7201  # whole seconds: 7201.5 s lit


def test_power_curve_interpolation():
    m = EnergyMeter([[0, 0.5], [10, 7], [50, 31], [100, 60]])  # the config default
    assert m.watts(0) == 0.5  # off: the driver's standby power
    assert close(m.watts(30), 19) and close(m.watts(75), 45.5) and m.watts(100) == 60
    m2 = EnergyMeter([[20, 10], [100, 50]])  # no 0 % point: off draws nothing
    assert m2.watts(0) == 0 and m2.watts(5) == 10 and m2.watts(60) == 30
    # Standby is metered while off, but is no burn time.
    m.update(0, 0)
    m.update(0, H)
    assert close(m.wh, 0.5) and m.burn_s == 0 and m.switches == 0


def test_d60_schedule():
    assert d60_level(17 * 60) == 100 and d60_level(19 * 60 + 59) == 100
    assert d60_level(20 * 60) == 70 and d60_level(21 * 60 + 59) == 70
    assert d60_level(22 * 60) == 50 and d60_level(0) == 50 and d60_level(4 * 60 + 59) == 50
    assert d60_level(5 * 60) == 100 and d60_level(None) == 100


def run_night(meter, t0, start_minute, minutes, level_at, known=True):
    """A night of `minutes` minutes with one update a minute at level_at(minute of night)."""
    local = start_minute if known else None
    meter.night_begin(t0, local)
    meter.update(level_at(0), t0)
    for k in range(1, minutes + 1):
        local = (start_minute + k) % 1440 if known else None
        meter.night_update(level_at(min(k, minutes - 1)), ticks_add(t0, k * 60000), local)
    return meter.night_end(ticks_add(t0, minutes * 60000))


def test_night_vs_baselines():
    for t0 in STARTS:
        night_vs_baselines(t0)


def night_vs_baselines(t0=NEAR_WRAP):
    # A 12 h night, 18:00 to 06:00, power = level in W ([[0, 0], [100, 100]]), lamp at 40 %:
    #   actual     12 h * 40 W                                       = 480 Wh
    #   always on  12 h * 100 W                                      = 1200 Wh
    #   D60        18-20 2 h * 100 + 20-22 2 h * 70 + 22-05 7 h * 50 + 05-06 1 h * 100
    #              = 200 + 140 + 350 + 100                            = 790 Wh
    #   savings    (1200 - 480) / 1200 = 60.0 %;  (790 - 480) / 790 = 39.24... -> 39.2 %
    m = EnergyMeter([[0, 0], [100, 100]])
    night = run_night(m, t0, 18 * 60, 12 * 60, lambda k: 40)
    assert night is m.last_night
    assert close(night["wh"], 480) and close(night["always_on_wh"], 1200)
    assert close(night["d60_wh"], 790), night
    assert night["saving_vs_always_on_pct"] == 60.0
    assert night["saving_vs_d60_pct"] == 39.2
    assert night["burn_s"] == 12 * 3600
    assert close(m.wh, 480)
    assert m.night_end(ticks_add(t0, 13 * H)) is None  # no night open
    # Clock unknown all night: the D60 baseline counts 100 %, like always on.
    m2 = EnergyMeter([[0, 0], [100, 100]])
    night2 = run_night(m2, t0, 18 * 60, 12 * 60, lambda k: 40, known=False)
    assert close(night2["d60_wh"], 1200) and night2["saving_vs_d60_pct"] == 60.0
    # Dark for the first 2 h (0 %, standby 0 W), then 100 %: 10 h * 100 W = 1000 Wh, lit 10 h.
    m3 = EnergyMeter([[0, 0], [100, 100]])
    night3 = run_night(m3, t0, 18 * 60, 12 * 60, lambda k: 0 if k < 120 else 100)
    assert close(night3["wh"], 1000) and night3["burn_s"] == 10 * 3600
    assert close(night3["saving_vs_d60_pct"], round((790 - 1000) * 100 / 790, 1))


def test_twelve_hours_of_ticks():
    wh = twelve_hours_of_ticks()
    assert abs(wh - 720) < 1e-6, wh


def twelve_hours_of_ticks(meter=None, watts=60):
    """12 h of 100 ms updates at 60 W: 720 Wh within 0.1 % (432000 updates)."""
    m = meter or EnergyMeter([[0, 0.5], [100, watts]])
    now = NEAR_WRAP
    for _ in range(12 * 36000):
        m.update(100, now)
        now = ticks_add(now, 100)
    m.update(100, now)
    assert abs(m.wh - 720) <= 0.72, m.wh
    assert m.burn_s == 12 * 3600 and m.switches == 1
    return m.wh
