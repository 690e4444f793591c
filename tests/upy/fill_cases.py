# Cases for agent.fill shared by the CPython ring (tests/core/test_fill.py) and the MicroPython
# ring (tests/upy/test_fill.py, which adds the allocation checks). Traces come from a
# fixed-seed generator, so both interpreters see the same numbers; every clock starts a few
# minutes before the 2**30 tick wrap.

import json

from units import HOUR, INF, MIN, NAN, WRAP, S

from agent import commands, config
from agent.fill import TTF_CAP_S, Forecast, Level, clamp01

NEAR_WRAP = WRAP - 5 * MIN
# Exact to the last bit of a float32 near 1 (the chip's floats): what "equal" can mean there.
F32 = 1e-6


class Lcg:
    """A small fixed-seed generator giving the same traces under CPython and MicroPython."""

    def __init__(self, seed):
        self.x = seed & 0x7FFFFFFF or 1

    def unit(self):
        """Uniform in [-1, 1)."""
        self.x = (self.x * 1103515245 + 12345) & 0x7FFFFFFF
        return ((self.x >> 8) % 20001) / 10000 - 1

    def noise(self, sigma):
        """About normal: the sum of three uniforms has a standard deviation of 1."""
        return sigma * (self.unit() + self.unit() + self.unit())


def tick(t0, ms):
    return (t0 + ms) % WRAP


def ramp(f, rate_h, hours, sigma=0.0, seed=1, l0=0.05, t0=NEAR_WRAP, step=MIN, spike=None):
    """Feed a steady fill (rate per hour) from l0 for `hours`; spike(i) may replace reading i.
    Returns (ms of the last reading from t0, the true level then)."""
    rng = Lcg(seed)
    n = int(hours * HOUR / step)
    for i in range(n):
        ms = i * step
        v = l0 + rate_h * ms / HOUR + rng.noise(sigma)
        if spike is not None:
            v = spike(i, v)
        f.add(tick(t0, ms), v)
    ms = (n - 1) * step
    return ms, l0 + rate_h * ms / HOUR


def close(a, b, tol):
    return abs(a - b) <= tol


def rate_tol(rate):
    return 0.002 + 0.05 * rate


# ---- Level ----

def test_level_linear_map_and_clamp():
    lv = Level(1.2, 0.35, 0.15)
    assert lv.level(1.2) == 0
    assert close(lv.level(0.35), 1.0, F32)
    assert close(lv.level(0.775), 0.5, F32)
    assert lv.level(1.3) < 0 and lv.filling(1.3) == 0.0  # below the empty bottom (a hole)
    assert lv.level(0.3) > 1 and lv.filling(0.3) == 1.0  # above full, before the blind zone
    assert close(lv.filling(0.775), 0.5, F32)
    for bad in (None, NAN, INF, -INF, True, "1.0"):
        assert lv.level(bad) is None
        assert lv.filling(bad) is None
    assert clamp01(None) is None and clamp01(-0.2) == 0.0 and clamp01(7) == 1.0


def test_level_refuses_impossible_geometry():
    for empty, full in ((0.3, 0.35), (1.0, 0.95), (-1.0, 0.5), (1.0, 0.0), (NAN, 0.3),
                        (1.0, None)):
        try:
            Level(empty, full, 0.15)
        except ValueError:
            continue
        raise AssertionError("accepted empty %r full %r" % (empty, full))
    try:
        Level(1.2, 0.2, 0.15, blind_m=0.25)
    except ValueError as e:
        assert "blind zone" in str(e)
    else:
        raise AssertionError("full inside the blind zone accepted")


def test_relearn_accepts_small_drift_halfway():
    lv = Level(1.2, 0.35, 0.15)
    assert lv.relearn_empty(1.26) is True  # the bottom a little lower (a new liner)
    assert close(lv.empty_m, 1.23, F32)
    assert lv.installed_empty_m == 1.2
    assert lv.level(1.23) == 0
    assert lv.relearn_empty(1.18) is True
    assert close(lv.empty_m, 1.205, F32)
    # The same reading again and again converges to it but never past the tolerance.
    for _ in range(40):
        assert lv.relearn_empty(1.349) is True
        assert lv.empty_m <= 1.349 + F32
    assert close(lv.empty_m, 1.349, 1e-6)


def test_relearn_refuses_far_or_bad_readings():
    lv = Level(1.2, 0.35, 0.15)
    # Waste stuck in the chute (reads nearer), a reflection beyond the bottom, faults.
    for d in (0.9, 1.04, 1.36, 2.5, -1.0, None, NAN, INF):
        assert lv.relearn_empty(d) is False
        assert lv.empty_m == 1.2
    # A huge tolerance still cannot pull empty to within 0.1 m of full (0.35 m).
    wide = Level(1.2, 0.35, 2.0)
    accepted = [wide.relearn_empty(0.42) for _ in range(10)]  # 0.81 0.615 0.5175 0.46875
    assert accepted == [True] * 4 + [False] * 6
    assert close(wide.empty_m, 0.46875, F32)


# A calibration is a config change, saved then applied by a restart: the calibrate command
# (agent.chute, through comms.set_config) and tech.calibrate both go through the config
# check, the one judge of a geometry (agent.fill.geometry_error, which Level uses too).
INLET_RAW = {"device": {"id": "bin-1", "role": "inlet"}, "mqtt": {"host": "b"},
             "inlet": {"branch": "north", "empty_m": 1.2, "full_m": 0.35, "blind_m": 0.25}}


def _level(raw):
    inlet = config.load(raw)["inlet"]
    return Level(inlet["empty_m"], inlet["full_m"], inlet["relearn_tol_m"], inlet["blind_m"])


def test_calibration_errors_are_clear_and_change_nothing():
    before = json.dumps(INLET_RAW)
    cases = (
        ("empty", 0.4, "0.1 m nearer"),  # "empty" with the bin still nearly full
        ("empty", -1.0, "below the minimum"),
        ("empty", None, "must be a number"),
        ("empty", NAN, "must be a number"),
        ("full", 0.2, "blind zone"),
        ("full", 1.15, "0.1 m nearer"),
        ("full", 0.0, "below the minimum"),
        ("full", INF, "must be a number"),
    )
    for what, d, words in cases:
        new, errors = commands.check_set(INLET_RAW, "inlet.%s_m" % what, d)
        assert new is None
        msg = "; ".join(errors)
        assert words in msg and msg.startswith("inlet."), msg
        assert json.dumps(INLET_RAW) == before


def test_calibration_by_the_technician():
    lv = _level(INLET_RAW)
    lv.relearn_empty(1.3)
    raw, errors = commands.check_set(INLET_RAW, "inlet.empty_m", 1.0)
    assert errors == []
    lv = _level(raw)  # applied by the restart: the learnt value restarts from it
    assert lv.installed_empty_m == 1.0 and lv.empty_m == 1.0
    raw, errors = commands.check_set(raw, "inlet.full_m", 0.5)
    assert errors == []
    assert close(_level(raw).level(0.75), 0.5, F32)
    new, errors = commands.check_set(raw, "inlet.empty_m", 0.55)  # too near the new full
    assert new is None and "0.1 m nearer" in "; ".join(errors)


# ---- Forecast ----

def test_steady_fill_rate_and_ttf():
    for rate, seed in ((0.01, 3), (0.05, 4), (0.2, 5)):
        f = Forecast()
        hours = 6 if rate < 0.1 else 3
        ms, true = ramp(f, rate, hours, sigma=0.003, seed=seed)
        assert f.rate_per_h is not None and close(f.rate_per_h, rate, rate_tol(rate))
        assert close(f.level, true, 0.01)
        ttf, err = f.estimate(1.0)
        want = (1.0 - true) / rate * 3600
        assert ttf is not None and err is not None
        assert abs(ttf - want) <= err, (rate, ttf, want, err)
        assert err < 0.15 * want  # steady filling: a narrow range
        # The same through the agent's calls: seconds back, the error left in ttf_err_s.
        assert f.ttf_s() == ttf and f.ttf_err_s == err
        assert f.time_to(0.85) < ttf and f.ttf_err_s is not None and f.ttf_err_s <= err


def test_no_rate_before_enough_points():
    f = Forecast()  # 4 points of 10 min
    ramp(f, 0.1, 0.5)
    assert f.level is not None
    assert f.rate_per_h is None
    assert f.estimate(1.0) == (None, None) and f.ttf_s() is None and f.ttf_err_s is None


def test_spikes_move_neither_level_nor_rate():
    # A hand over the sensor or a bag falling through the beam: one or two readings near full.
    def spike(i, v):
        return 0.97 if i % 20 in (3, 10, 11, 16) else v  # singles and a pair

    f = Forecast()
    rng = Lcg(11)
    for i in range(6 * 60):
        ms = i * MIN
        true = 0.1 + 0.04 * ms / HOUR
        f.add(tick(NEAR_WRAP, ms), spike(i, true + rng.noise(0.002)))
        if i >= 2:
            assert close(f.level, true, 0.02), (i, f.level, true)
    assert f.rate_per_h is not None and close(f.rate_per_h, 0.04, rate_tol(0.04))


def test_persistent_step_is_taken_after_three_readings():
    f = Forecast()
    for i in range(20):
        f.add(tick(NEAR_WRAP, i * MIN), 0.3)
    assert f.add(tick(NEAR_WRAP, 20 * MIN), 0.5) == 0.3  # a bag dropped in...
    assert f.add(tick(NEAR_WRAP, 21 * MIN), 0.5) == 0.3
    assert f.add(tick(NEAR_WRAP, 22 * MIN), 0.5) == 0.5  # ... that stays
    assert f.level == 0.5


def test_all_invalid_gives_none():
    f = Forecast()
    for i in range(100):
        assert f.add(tick(NEAR_WRAP, i * MIN), (None, NAN, INF, -INF)[i % 4]) is None
    assert f.level is None and f.rate_per_h is None
    assert f.estimate(0.85) == (None, None)
    assert f.invalid == 100 and f.invalid_run == 100 and f.valid == 0


def test_long_invalid_run_makes_the_forecast_none_not_stale():
    f = Forecast(stale_ms=30 * MIN)
    ms, _ = ramp(f, 0.1, 2)
    assert f.rate_per_h is not None and f.estimate(1.0)[0] is not None
    last = f.level
    for k in range(1, 31):  # 30 min of no echo: not yet stale
        f.add(tick(NEAR_WRAP, ms + k * MIN), None)
    assert f.level == last and f.rate_per_h is not None and f.invalid_run == 30
    t30, _ = f.estimate(1.0)
    f.add(tick(NEAR_WRAP, ms + 31 * MIN), None)
    assert f.level is None and f.rate_per_h is None
    assert f.estimate(1.0) == (None, None)
    assert t30 is not None
    # Readings come back: the level is the new reading alone, not a mix with old ones.
    assert f.add(tick(NEAR_WRAP, ms + 32 * MIN), 0.61) == 0.61
    assert f.invalid_run == 0


def test_level_is_carried_forward_between_readings():
    f = Forecast()
    ms, _ = ramp(f, 0.12, 3)
    t0, _ = f.estimate(1.0)
    for k in range(1, 21):  # 20 min of invalid readings: the forecast counts down
        f.add(tick(NEAR_WRAP, ms + k * MIN), None)
    t1, _ = f.estimate(1.0)
    assert t0 is not None and t1 is not None and close(t0 - t1, 20 * 60, 2)


def test_tick_wrap_changes_nothing():
    results = []
    for t0 in (0, NEAR_WRAP, WRAP - 1, WRAP - 3 * HOUR):
        f = Forecast()
        ramp(f, 0.08, 5, sigma=0.004, seed=7, t0=t0)
        results.append((f.level, f.rate_per_h, f.estimate(0.85), f.estimate(1.0)))
    for r in results[1:]:
        assert r == results[0], (r, results[0])
    assert results[0][1] is not None and close(results[0][1], 0.08, rate_tol(0.08))


def test_reset_after_discharge():
    f = Forecast()
    ms, _ = ramp(f, 0.15, 4)
    assert f.rate_per_h is not None
    f.reset()
    assert f.level is None and f.rate_per_h is None and f.estimate(1.0) == (None, None)
    # The next fill is estimated from its own points only.
    ramp(f, 0.03, 5, l0=0.02, t0=tick(NEAR_WRAP, ms + MIN))
    assert f.rate_per_h is not None and close(f.rate_per_h, 0.03, rate_tol(0.03))


def test_emptied_without_reset_restarts_the_estimate():
    # A plain bin emptied by a crew: the agent never discharged, the level just fell.
    f = Forecast()
    ms, _ = ramp(f, 0.15, 4, seed=2, sigma=0.003)
    assert f.restarts == 0
    ramp(f, 0.05, 1.5, l0=0.03, seed=3, sigma=0.003, t0=tick(NEAR_WRAP, ms + MIN))
    assert f.restarts == 1
    assert f.rate_per_h is not None and close(f.rate_per_h, 0.05, rate_tol(0.05))


def test_flat_or_settling_bin_has_no_forecast():
    for rate in (0.0, -0.02):  # nobody uses it; compaction settles the heap
        f = Forecast()
        ramp(f, rate, 5, l0=0.5, sigma=0.002)
        assert f.rate_per_h is not None and f.rate_per_h < 0.002
        assert f.rate_per_h >= 0  # never negative
        assert f.estimate(1.0) == (None, None)


def test_time_to_levels():
    f = Forecast()
    _, true = ramp(f, 0.1, 3, l0=0.2)  # level about 0.5 now
    must, _ = f.estimate(0.85)
    full, _ = f.estimate(1.0)
    assert must is not None and full is not None and must < full
    assert close(must, (0.85 - true) / 0.1 * 3600, 10)
    assert close(full - must, 0.15 / 0.1 * 3600, 10)
    assert f.estimate(0.3)[0] == 0  # already past
    assert close(f.ttf_s(0.9), 0.1 / 0.1 * 3600, 30)  # from a given level
    assert f.estimate(NAN) == (None, None) and f.estimate(1.0, "x") == (None, None)
    assert f.time_to(1.0) == full and f.ttf_err_s is not None
    assert f.time_to(NAN) is None and f.ttf_err_s is None  # no stale error left behind
    slow = Forecast()
    ramp(slow, 0.0012, 6, l0=0.1)  # 750 h to full: capped
    assert slow.estimate(1.0) == (TTF_CAP_S, TTF_CAP_S)


def test_erratic_filling_gives_wider_uncertainty():
    steady = Forecast()
    ramp(steady, 0.08, 5, sigma=0.002, seed=8)
    bags = Forecast()
    rng = Lcg(9)
    lv = 0.05
    for i in range(5 * 60):
        if rng.unit() > 0.9:  # a bag every ~20 min, 0.027 on average
            lv += 0.027 * (1.5 + rng.unit())
        bags.add(tick(NEAR_WRAP, i * MIN), lv + rng.noise(0.002))
    t_s, e_s = steady.estimate(1.0)
    t_b, e_b = bags.estimate(1.0)
    assert t_s is not None and e_s is not None and t_b is not None and e_b is not None
    assert e_b / t_b > 3 * e_s / t_s


def test_clock_rebase_over_days():
    # 5 days of a slow fill sampled every 2 min: the own clock is moved back after ~3 days.
    f = Forecast()
    ramp(f, 0.005, 5 * 24, sigma=0.002, seed=12, step=2 * MIN)
    assert f.rate_per_h is not None and close(f.rate_per_h, 0.005, rate_tol(0.005))
    assert f.ttf_s() is not None


def test_never_raises_on_odd_input():
    f = Forecast(window=0, bucket_ms=-1, min_points=99, drop=NAN)
    t = 0
    for v in (NAN, INF, -INF, 1e300, -1e300, -5, 7, True, None, 0, 0.5, 2**40, -(2**40)):
        for dt in (0, -5 * S, 13 * MIN, 2**29 - 1):
            t = (t + dt) % WRAP
            f.add(t, v)
            f.estimate(1.0)
            f.estimate(INF, -INF)
    assert f.level is None or -1.4 <= f.level <= 1.4
