# Dimmer, output curve and energy meter cases shared by the CPython ring
# (tests/core/test_dimmer.py, tests/core/test_energy.py, where hypothesis draws the traces)
# and the MicroPython ring (tests/upy/test_dimmer.py, where a fixed-seed generator does):
# the same pure code on both interpreters.
from agent import config
from agent.dimmer import Dimmer
from agent.energy import EnergyMeter, d60_level
from agent.output import Ramp, duty_u16, perceived_to_output
from agent.sched import TICKS_PERIOD, ticks_add

RAW = {"device": {"id": "pole-1", "role": "streetlight"}, "mqtt": {"host": "broker.lan"}}
NEAR_WRAP = TICKS_PERIOD - 30000  # 30 s before ticks_ms wraps


def light(**fields):
    """A validated `light` section with some fields changed."""
    raw = {"device": RAW["device"], "mqtt": RAW["mqtt"], "light": fields}
    return config.load(raw)["light"]


def close(a, b, tol=1e-6):
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


# --- dimmer: a hand-checked night ------------------------------------------------------------

def check_boost_ramp_hold_fade(t0=0):
    # defaults: min 10 %, boost 100 %, hold 60 s, ramp 500 ms, fade 20 s
    d = Dimmer(light())
    t = lambda ms: ticks_add(t0, ms)  # noqa: E731
    assert d.level(t(0), True, 40) == 40
    assert d.next_change_ms(t(0)) is None and not d.busy(t(0))
    d.motion(t(0), False)
    assert d.level(t(0), True, 40) == 40  # the ramp starts from the base
    assert close(d.level(t(250), True, 40), 70)  # halfway up: 40 + 60 * 0.5
    assert d.busy(t(250)) and d.next_change_ms(t(250)) == 250
    assert d.level(t(500), True, 40) == 100
    assert not d.busy(t(30000)) and d.next_change_ms(t(30000)) == 30000  # until the hold ends
    assert d.level(t(60000), True, 40) == 100  # the hold lasts 60 s from the detection
    assert close(d.level(t(70000), True, 40), 70)  # halfway down the 20 s fade
    assert close(d.level(t(70000), True, 20), 60)  # the fade follows the profile's base
    assert d.busy(t(70000)) and d.next_change_ms(t(70000)) == 10000
    assert d.level(t(80000), True, 40) == 40  # exactly back on the base
    assert d.next_change_ms(t(80000)) is None and not d.busy(t(80000))
    assert d.level(t(80000), True, 5) == 10  # never below min_level_pct when on
    assert d.level(t(80000), False, 40) == 0  # off by day


def check_new_detection_extends_never_shortens(t0=0):
    d = Dimmer(light())
    t = lambda ms: ticks_add(t0, ms)  # noqa: E731
    d.motion(t(0), False)
    d.motion(t(40000), True)  # late: 80 % until 70 s, inside the 100 % boost until 60 s
    assert d.level(t(59000), True, 40) == 100  # the running boost is kept, not lowered
    assert d.level(t(60000), True, 40) == 100
    assert close(d.level(t(65000), True, 40), 85)  # 100 % fading (40 + 60 * 0.75) over 80 %
    assert d.level(t(70000), True, 40) == 80  # the late boost's own hold, not shortened
    assert close(d.level(t(80000), True, 40), 60)  # the late boost halfway down its fade
    d.motion(t(80000), False)  # during the fade: ramps up from where it stands, no dip
    assert d.level(t(80000), True, 40) >= 60
    assert d.level(t(80250), True, 40) == 100  # half the ramp was left
    assert d.level(t(140000), True, 40) == 100
    assert d.level(t(160000), True, 40) == 40


def check_light_ahead_scales_with_distance(t0=0):
    d = Dimmer(light(ahead_reach_m=90))
    t = lambda ms: ticks_add(t0, ms)  # noqa: E731
    assert d.peer(t(0), 45, False) == 50  # 100 % * (1 - 45 / 90)
    assert d.level(t(1000), True, 20) == 50
    assert d.level(t(1000), True, 60) == 60  # never below the base
    assert d.peer(t(0), 90.5, False) == 0 and d.peer(t(0), -120, False) == 0
    d2 = Dimmer(light(ahead_reach_m=90))
    assert d2.peer(t(0), -30, True) > 0  # behind or ahead: the distance counts
    assert close(d2.level(t(1000), True, 10), 80 * (1 - 30 / 90))
    # Own boost first: a peer event never lowers or shortens it.
    d3 = Dimmer(light(ahead_reach_m=90))
    d3.motion(t(0), False)
    d3.peer(t(50000), 10, False)
    assert d3.level(t(59999), True, 30) == 100


def check_override_bounded(t0=0):
    d = Dimmer(light(override_max_s=600))
    t = lambda ms: ticks_add(t0, ms)  # noqa: E731
    assert d.override(0, 86400, t(0)) == 600  # capped
    assert d.level(t(1000), True, 40) == 0  # dark at night: only an override may do this
    d.motion(t(2000), False)
    assert d.level(t(3000), True, 40) == 0  # the override wins over a boost
    assert d.level(t(599999), True, 40) == 0
    assert d.level(t(600000), True, 40) == 40  # over, and the boost is long gone
    d.override(75, 60, t(600000))
    assert d.level(t(601000), False, 0) == 75  # lights the lamp by day (a technician's test)
    d.override(None, 0, t(602000))
    assert d.level(t(602000), False, 0) == 0


# --- dimmer: random traces against an oracle ---------------------------------------------------

class Lcg:
    """A small fixed-seed generator giving the same traces under CPython and MicroPython."""

    def __init__(self, seed):
        self.x = seed & 0x7FFFFFFF or 1

    def below(self, n):
        self.x = (self.x * 1103515245 + 12345) & 0x7FFFFFFF
        return (self.x >> 8) % n if n > 0 else 0

    def pick(self, seq):
        return seq[self.below(len(seq))]


def random_trace(rng):
    """(light fields, t0, events, checks) drawn from rng (an Lcg)."""
    fields = {
        "min_level_pct": rng.pick([1, 10, 25, 50]),
        "boost_pct": rng.pick([30, 60, 100]),
        "late_boost_pct": rng.pick([20, 50, 80]),
        "hold_s": rng.pick([1, 5, 60]),
        "late_hold_s": rng.pick([1, 3, 30]),
        "ramp_ms": rng.pick([0, 1, 500, 3000, 10000]),
        "fade_s": rng.pick([0, 1, 20]),
        "ahead_reach_m": rng.pick([0, 40, 90]),
        "override_max_s": rng.pick([60, 600]),
    }
    t0 = rng.pick([0, NEAR_WRAP, rng.below(TICKS_PERIOD)])
    events = []
    t = 0
    for _ in range(rng.below(12)):
        t += rng.below(40000)
        k = rng.below(10)
        if k < 5:
            events.append((t, "motion", rng.below(2) == 1, None))
        elif k < 9:
            events.append((t, "peer", rng.below(120) - 20, rng.below(2) == 1))
        else:
            lv = rng.pick([None, 0, 5, 100])
            events.append((t, "override", lv, rng.pick([0, 1, 30, 100000])))
    checks = []
    t = 0
    for _ in range(60):
        t += rng.below(6000)
        checks.append((t, rng.below(8) > 0, rng.pick([0, 5, 20, 40.5, 60, 100])))
    checks.append((t + 400000, True, 30))
    return fields, t0, events, checks


def _alone(ev, t, base, ramp, fade):
    """The envelope of one event on its own at time t (plain ms, no wrap)."""
    te, pct, hold = ev
    if pct <= base or t < te:
        return base
    el = t - te
    f = 1.0 if ramp <= 0 or el >= ramp else el / ramp
    past = t - (te + max(hold, ramp))
    if past >= fade:
        return base
    if past > 0:
        f = min(f, 1 - past / fade)
    return base + (pct - base) * f


def check_trace(fields, t0, events, checks):
    """Replays events and level queries (times in ms from t0, ticks wrap included) and checks
    the dimmer's promises against a straightforward oracle."""
    lt = light(**fields)
    d, own_only = Dimmer(lt), Dimmer(lt)
    ramp, fade = lt["ramp_ms"], lt["fade_s"] * 1000
    mn, reach = lt["min_level_pct"], lt["ahead_reach_m"]
    boosts = []  # (t, pct, hold_ms) of every accepted boost event
    ov = None  # (t, level, granted ms) of the override in force
    i = 0
    for tc, on, base in checks:
        while i < len(events) and events[i][0] <= tc:
            te, kind, a, b = events[i]
            i += 1
            now = ticks_add(t0, te)
            if kind == "motion":
                d.motion(now, a)
                own_only.motion(now, a)
                hold = (lt["late_hold_s"] if a else lt["hold_s"]) * 1000
                boosts.append((te, lt["late_boost_pct"] if a else lt["boost_pct"], hold))
            elif kind == "peer":
                got = d.peer(now, a, b)
                boost = lt["late_boost_pct"] if b else lt["boost_pct"]
                hold = (lt["late_hold_s"] if b else lt["hold_s"]) * 1000
                want = boost * (1 - abs(a) / reach) if 0 < reach and abs(a) <= reach else 0
                assert close(got, max(want, 0)), ("peer boost", a, got, want)
                if got > 0:
                    boosts.append((te, got, hold))
            else:
                granted = d.override(a, b, now)
                own_only.override(a, b, now)
                if a is None or b <= 0:
                    ov = None
                else:
                    ms = min(b * 1000, lt["override_max_s"] * 1000)
                    assert granted * 1000 == ms, "override bounded by override_max_s"
                    ov = (te, a, ms)
        now = ticks_add(t0, tc)
        lv = d.level(now, on, base)
        where = (tc, on, base, lv)
        if ov is not None and tc - ov[0] < ov[2]:
            assert lv == ov[1], ("override level", where)
            continue
        if not on:
            assert lv == 0, ("not on -> 0", where)
            continue
        floor = max(mn, base)
        assert lv >= floor, ("never below min or base", where)
        want = floor
        top = floor
        quiet = 0
        for ev in boosts:
            want = max(want, _alone(ev, tc, base, ramp, fade))
            if ev[0] <= tc:
                top = max(top, ev[1])
            quiet = max(quiet, ev[0] + max(ev[2], ramp) + fade)
        assert lv >= want - 1e-9, ("below what an event asks for", where, want)
        assert lv <= top + 1e-9, ("above every boost asked for", where, top)
        if tc >= quiet:
            assert lv == floor, ("back exactly on the base after hold + fade", where)
        assert lv >= own_only.level(now, on, base) - 1e-9, ("a peer lowered an own boost", where)
        nc = d.next_change_ms(now)
        if d.busy(now):
            assert nc is not None and nc > 0, ("busy but no next change", where)
        elif nc is not None and nc > 1:
            later = d.level(ticks_add(now, nc - 1), on, base)
            assert close(later, lv, 1e-9), ("changed while holding", where, later)
        if nc is None:
            assert lv == floor, ("nothing running but not on the base", where)


def check_random_traces(n=200, seed=12345):
    rng = Lcg(seed)
    for _ in range(n):
        check_trace(*random_trace(rng))


def check_stuck_sensor_across_days():
    """A sensor stuck on for a week (detections every second, ticks wrapping many times):
    the boost must hold all along."""
    d = Dimmer(light(ramp_ms=1000))
    now = NEAR_WRAP
    for s in range(8 * 86400):
        d.motion(now, False)
        if s % 3600 == 1:
            assert d.level(now, True, 40) == 100, s
        now = ticks_add(now, 1000)
    assert d.level(now, True, 40) == 100


# --- output ----------------------------------------------------------------------------------

def check_log_curve():
    assert perceived_to_output(0, "log") == 0
    assert perceived_to_output(-3, "log") == 0
    assert perceived_to_output(100, "log") == 100
    assert close(perceived_to_output(100 / 253, "log"), 10 ** (3 / 253 - 1))  # DALI n = 2
    assert 0.1 < perceived_to_output(100 / 253, "log") < 0.11  # one step: about 0.1 %
    assert close(perceived_to_output(1e-9, "log"), 0.1, 1e-6)  # the bottom of the curve
    assert close(perceived_to_output(200 / 3, "log"), 10.0)  # n = 1 + 2 * 253 / 3: 10 %
    prev = 0
    for i in range(1, 1001):
        v = perceived_to_output(i / 10, "log")
        assert v > prev, (i, v, prev)
        prev = v
    assert perceived_to_output(37.5, "linear") == 37.5
    assert perceived_to_output(0, "linear") == 0


def check_duty():
    assert duty_u16(0, "log", False) == 0 and duty_u16(100, "log", False) == 65535
    assert duty_u16(0, "log", True) == 65535 and duty_u16(100, "log", True) == 0
    assert duty_u16(50, "linear", False) == 32768
    for i in range(0, 1001):
        for curve in ("log", "linear"):
            d = duty_u16(i / 10, curve, False)
            assert 0 <= d <= 65535
            assert duty_u16(i / 10, curve, True) == 65535 - d


def check_ramp(t0=NEAR_WRAP):
    r = Ramp(50)  # 50 % per second
    assert r.step(100, t0) == 0  # the first step starts the clock
    assert r.step(100, ticks_add(t0, 1000)) == 50  # across the tick wrap
    assert r.step(100, ticks_add(t0, 1500)) == 75
    assert r.step(100, ticks_add(t0, 1400)) == 75  # a stale reading changes nothing
    assert r.step(100, ticks_add(t0, 10000)) == 100  # never overshoots
    assert r.step(20, ticks_add(t0, 11000)) == 50
    assert r.step(20, ticks_add(t0, 13000)) == 20 and r.current == 20
    r.jump(0)
    assert r.current == 0
    assert Ramp(0).step(80, t0) == 80  # no limit


# --- energy ----------------------------------------------------------------------------------

H = 3600000  # ms in an hour


def check_energy_by_hand(t0=NEAR_WRAP):
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


def check_power_curve_interpolation():
    m = EnergyMeter([[0, 0.5], [10, 7], [50, 31], [100, 60]])  # the config default
    assert m.watts(0) == 0.5  # off: the driver's standby power
    assert close(m.watts(30), 19) and close(m.watts(75), 45.5) and m.watts(100) == 60
    m2 = EnergyMeter([[20, 10], [100, 50]])  # no 0 % point: off draws nothing
    assert m2.watts(0) == 0 and m2.watts(5) == 10 and m2.watts(60) == 30
    # Standby is metered while off, but is no burn time.
    m.update(0, 0)
    m.update(0, H)
    assert close(m.wh, 0.5) and m.burn_s == 0 and m.switches == 0


def check_d60_schedule():
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


def check_night_vs_baselines(t0=NEAR_WRAP):
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


def check_twelve_hours_of_ticks(meter=None, watts=60):
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
