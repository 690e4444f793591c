"""The inlet's request policy and its fill-level bookkeeping (agent.inlet), pure: scripted
cases for quiet hours, the cheap-energy window and the forecast lead, and hypothesis over
random fill traces with sensor faults, spikes and lost clocks."""

from hypothesis import given, settings
from hypothesis import strategies as st

from agent import config, ranging
from agent.inlet import Inlet, policy
from agent.sched import ticks_add
from agent.vacuum import REQ_MAY, REQ_MUST, REQ_NONE

MUST, MAY = 0.85, 0.6
QUIET = (22 * 60, 7 * 60)
NO_WINDOW = (0, 0)
HOUR = 3600
T0 = (1 << 30) - 600000  # ticks just below the wrap
UTC0 = 1768435200  # 2026-01-15 00:00 UTC (local = UTC + 1 h in January)


def hhmm(h, m=0):
    return h * 60 + m


def test_must_go_asks_at_any_hour_known_or_not():
    for minute in (None, hhmm(3), hhmm(12), hhmm(23, 59)):
        for cheap in (NO_WINDOW, (hhmm(1), hhmm(5))):
            assert policy(0.86, None, MUST, MAY, HOUR, minute, QUIET, cheap) == REQ_MUST


def test_may_go_waits_for_the_day_and_a_known_clock():
    assert policy(0.7, None, MUST, MAY, HOUR, hhmm(12), QUIET, NO_WINDOW) == REQ_MAY
    # in quiet hours only the level counts (take me along in a must-go's run), never the
    # forecast: the station starts no fan for a may-go
    assert policy(0.7, None, MUST, MAY, HOUR, hhmm(23), QUIET, NO_WINDOW) == REQ_MAY
    assert policy(0.7, None, MUST, MAY, HOUR, hhmm(6, 59), QUIET, NO_WINDOW) == REQ_MAY
    assert policy(0.5, 10 * 60, MUST, MAY, HOUR, hhmm(23), QUIET, NO_WINDOW) == REQ_NONE
    assert policy(0.7, None, MUST, MAY, HOUR, None, QUIET, NO_WINDOW) == REQ_NONE
    assert policy(0.5, None, MUST, MAY, HOUR, hhmm(12), QUIET, NO_WINDOW) == REQ_NONE
    assert policy(None, 10, MUST, MAY, HOUR, hhmm(12), QUIET, NO_WINDOW) == REQ_NONE


def test_a_fast_filling_bin_asks_ahead_and_before_the_night():
    # below may_go, but must_go within the lead time
    assert policy(0.4, 50 * 60, MUST, MAY, HOUR, hhmm(12), QUIET, NO_WINDOW) == REQ_MAY
    assert policy(0.4, 70 * 60, MUST, MAY, HOUR, hhmm(12), QUIET, NO_WINDOW) == REQ_NONE
    # at 21:30 quiet hours are near: a bin that would reach must_go before 07:00 asks now
    assert policy(0.4, 8 * HOUR, MUST, MAY, HOUR, hhmm(21, 30), QUIET, NO_WINDOW) == REQ_MAY
    assert policy(0.4, 10 * HOUR, MUST, MAY, HOUR, hhmm(21, 30), QUIET, NO_WINDOW) == REQ_NONE


def test_the_cheap_window_holds_may_go_unless_must_go_comes_first():
    cheap = (hhmm(13), hhmm(16))
    assert policy(0.7, None, MUST, MAY, HOUR, hhmm(14), QUIET, cheap) == REQ_MAY
    assert policy(0.7, None, MUST, MAY, HOUR, hhmm(10), QUIET, cheap) == REQ_NONE
    assert policy(0.7, 2 * HOUR, MUST, MAY, HOUR, hhmm(10), QUIET, cheap) == REQ_MAY
    assert policy(0.7, 4 * HOUR, MUST, MAY, HOUR, hhmm(10), QUIET, cheap) == REQ_NONE


def cfg(**over):
    raw = {"device": {"id": "bin-1", "role": "inlet"}, "mqtt": {"host": "b"},
           "inlet": dict({"branch": "north"}, **over)}
    return config.load(raw)["inlet"]


def distance(inlet, level):
    return inlet["empty_m"] - level * (inlet["empty_m"] - inlet["full_m"])


def test_readings_make_a_level_a_forecast_and_a_state():
    c = cfg()
    core = Inlet(c, T0)
    now = T0
    for i in range(80):  # 0.30 -> 0.695 over 80 minutes
        core.reading(now, distance(c, 0.3 + i * 0.005), ranging.OK, 12.0)
        core.step(now, UTC0 + 10 * HOUR + i * 60, True, False, True)
        now = ticks_add(now, 60000)
    st_ = core.state()
    assert abs(st_["fillingLevel"] - 0.695) < 0.02
    assert st_["request"] == REQ_MAY and st_["status"] == "ok" and st_["temperature"] == 12.0
    assert abs(core.forecast.rate_per_h - 0.3) < 0.03  # 0.005 a minute
    assert abs(st_["ttf_s"] - 0.305 / 0.3 * HOUR) < 600
    # the sensor dies: invalid readings are reported as such, the level is extrapolated
    for i in range(5):
        core.reading(now, None, ranging.NO_ECHO, 12.0)
        core.step(now, UTC0 + 12 * HOUR + i * 60, True, False, True)
        now = ticks_add(now, 60000)
    assert core.quality == ranging.NO_ECHO and core.state()["status"] == "sensorFault"
    assert core.estimate > 0.695
    assert ("ranger", {"quality": "no_echo"}) in core.events


def test_a_hand_over_the_sensor_does_not_make_a_must_go():
    c = cfg()
    core = Inlet(c, T0)
    now = T0
    for i in range(10):
        lv = 0.97 if i == 6 else 0.4
        core.reading(now, distance(c, lv), ranging.OK, None)
        core.step(now, UTC0 + 12 * HOUR, True, False, True)
        assert core.request != REQ_MUST, i
        now = ticks_add(now, 60000)


@settings(max_examples=150)
@given(st.floats(0.02, 0.5), st.lists(st.sampled_from(["ok", "ok", "ok", "bad", "spike"]),
                                      min_size=30, max_size=120),
       st.integers(0, 23), st.booleans(), st.floats(0, 0.005))
def test_a_bin_above_must_go_always_asks(rate_per_h, faults, start_hour, clock, noise):
    """Whatever the hour, clock, noise, spikes and dead readings: once the bin has been above
    must_go for three good readings (the spike filter's confirmation), it asks must-go, and
    keeps asking even if the sensor then dies."""
    c = cfg(sample_s=600)
    core = Inlet(c, T0)
    now, true = T0, 0.5
    good_above = 0
    sign = 1
    for i, f in enumerate(faults):
        true += rate_per_h / 6  # ten minutes a reading
        utc = UTC0 + start_hour * HOUR + i * 600 if clock else None
        if f == "bad":
            core.reading(now, None, ranging.NO_ECHO, None)
        elif f == "spike":
            core.reading(now, distance(c, 0.99), ranging.OK, None)
        else:
            sign = -sign
            lv = true + sign * noise
            core.reading(now, distance(c, lv), ranging.OK, None)
            good_above = good_above + 1 if lv >= MUST + 0.001 else 0
        core.step(now, utc, True, False, True)
        # Dead readings and spikes leave good_above as it is: a genuine must-go is kept
        # through them. (A must-go that three spikes in a row made, the filter's own rule for a
        # step that persists, may end when good readings come back below must_go.)
        if good_above >= 3:
            assert core.request == REQ_MUST, (i, core.level, core.estimate)
        now = ticks_add(now, 600000)


def read(core, c, now, level):
    """One burst over a bin at this true level, as the ranger classes it (blind_m)."""
    d = distance(c, level)
    if d < c["blind_m"]:
        core.reading(now, None, ranging.BLIND, None)
    else:
        core.reading(now, d, ranging.OK, None)


def test_an_overfull_bin_reading_blind_asks_must_go_and_a_hand_does_not():
    # A bulk dump lifts a half-full bin over the top: its waste is inside the sensor's blind
    # zone (level 1.12 is 0.248 m from the face, blind_m 0.25). That is a full bin, not a
    # dead sensor: must-go on the third reading, as any step that stays.
    c = cfg()
    core = Inlet(c, T0)
    now, utc = T0, UTC0 + 12 * HOUR
    for lv in [0.45] * 6 + [1.12] * 3:
        read(core, c, now, lv)
        core.step(now, utc, True, False, True)
        now, utc = ticks_add(now, 60000), utc + 60
    assert core.quality == ranging.BLIND and core.request == REQ_MUST
    assert core.status() == "ok" and core.state()["fillingLevel"] == 1.0
    # a hand over the sensor (blind for one or two readings) is a spike: no must-go
    core = Inlet(c, T0)
    for i, lv in enumerate([0.45] * 6 + [1.12, 1.12] + [0.45] * 5):
        read(core, c, now, lv)
        core.step(now, utc, True, False, True)
        assert core.request != REQ_MUST, i
        now, utc = ticks_add(now, 60000), utc + 60


@settings(max_examples=100)
@given(st.lists(st.floats(0, 1), min_size=20, max_size=200), st.floats(0, 0.6),
       st.integers(0, 23), st.booleans())
def test_small_deposits_ask_must_go_before_the_bin_is_full(deposits, start, hour, clock):
    """Deposits of at most a third of the margin above must_go, at most one per reading:
    the inlet asks must-go before the bin reaches full (the spike filter takes two more
    readings after must_go is crossed: at most three deposits), at any hour, with or
    without a clock, so a station that answers a must-go at once never lets it overflow."""
    c = cfg()
    core = Inlet(c, T0)
    now, utc = T0, UTC0 + hour * HOUR
    top = (1 - MUST) / 3
    true = start
    for d in deposits:
        true += d * top
        read(core, c, now, true)
        core.step(now, utc if clock else None, True, False, True)
        if core.request == REQ_MUST:
            assert true < 1.0
            return
        assert true < MUST + 3 * top, (true, core.level, core.estimate)
        now, utc = ticks_add(now, 60000), utc + 60


def discharge_once(core, c, now, cycle, level_after, utc):
    """Grant, open, close, then the level check reads level_after; returns the new now."""
    assert core.grant(cycle, 30, True, now)
    closed = True
    for _ in range(200):  # 100 ms steps: the valve's switch follows the command at once
        core.step(now, utc, closed, False, True)
        closed = not core.discharge.valve
        if core.discharge.phase == "checking":
            core.reading(now, distance(c, level_after), ranging.OK, None)
        if core.discharge.phase == "idle":
            return now
        now = ticks_add(now, 100)
    raise AssertionError("the discharge did not finish")


def test_a_level_that_does_not_drop_is_retried_then_a_suspected_jam():
    c = cfg(retries=2)
    core = Inlet(c, T0)
    now = T0
    for _ in range(3):
        core.reading(now, distance(c, 0.9), ranging.OK, None)
        now = ticks_add(now, 60000)
    core.step(now, None, True, False, True)
    assert core.request == REQ_MUST
    for cycle in (1, 2, 3):
        now = discharge_once(core, c, now, cycle, 0.9, None)
        assert core.failed == cycle and core.request == REQ_MUST  # still asking
        assert core.jammed == (cycle == 3), cycle
    assert ("jam", {"suspected": True, "failed": 3}) in core.events
    assert core.state()["status"] == "jammed"
    # the cause is cleared: the next discharge empties it, the alarm ends, empty re-learnt
    now = discharge_once(core, c, now, 4, 0.02, None)
    assert not core.jammed and core.failed == 0 and core.state()["status"] == "ok"
    assert ("jam", {"suspected": False}) in core.events
    done = [f for n, f in core.events if n == "discharge" and f["step"] == "done"]
    assert [f["emptied"] for f in done] == [False, False, False, True]
    core.reading(now, distance(c, 0.02), ranging.OK, None)
    core.step(now, None, True, False, True)
    assert core.request == REQ_NONE and core.level < 0.05


def test_a_dead_sensor_falls_back_to_a_timetable():
    c = cfg()
    core = Inlet(c, T0)
    now = T0
    for i in range(80):  # 0.2 -> 0.6 at 0.3 an hour, then the sensor dies
        core.reading(now, distance(c, 0.2 + i * 0.005), ranging.OK, None)
        core.step(now, None, True, False, True)
        now = ticks_add(now, 60000)
    for _ in range(90):  # 1.5 h without a reading: the forecast itself goes stale
        core.reading(now, None, ranging.NO_ECHO, None)
        core.step(now, None, True, False, True)
        now = ticks_add(now, 60000)
    assert core.forecast.level_at(now) is None and core.status() == "sensorFault"
    assert 1.0 < core.estimate < 1.1 and core.request == REQ_MUST
    # emptied with no reading to check it: assumed emptied, the timetable starts over
    assert core.grant(9, 30, True, now)
    closed = True
    for _ in range(2000):
        core.reading(now, None, ranging.NO_ECHO, None)
        core.step(now, None, closed, False, True)
        closed = not core.discharge.valve
        now = ticks_add(now, 100)
    done = [f for n, f in core.events if n == "discharge" and f["step"] == "done"]
    assert done and done[-1]["emptied"] is None
    assert core.estimate < 0.05 and core.request == REQ_NONE


def eager_request(core, c):
    """The request worked out from scratch for the last step, as every step once did."""
    est = core.estimate
    t_must = core.forecast.time_to(c["must_go"]) if est is not None else None
    return policy(est, t_must, c["must_go"], c["may_go"], core.lead_s, core.local_minute,
                  core.quiet, core.cheap)


def test_the_request_follows_the_estimate_between_readings():
    # Steps with no new input skip the request's float work (no garbage on the chip); the
    # estimate still grows along the fill rate, and may_go is asked at the first step after
    # the estimate reaches it, with no reading in between.
    c = cfg()
    core = Inlet(c, T0)
    now = T0
    for i in range(60):  # 0.45 -> 0.54 over an hour, at 0.09 an hour: must_go hours away
        core.reading(now, distance(c, 0.45 + i * 0.0015), ranging.OK, None)
        core.step(now, UTC0 + 12 * HOUR + i * 60, True, False, True)
        now = ticks_add(now, 60000)
    assert core.request == REQ_NONE and core.forecast.rate_per_h > 0.08
    utc = UTC0 + 13 * HOUR
    for s in range(3600):  # then a second a step, and no reading for an hour
        core.step(now, utc + s, True, False, True)
        assert core.request == eager_request(core, c), s
        if core.request == REQ_MAY:
            break
        now = ticks_add(now, 1000)
    else:
        raise AssertionError("may_go never asked")
    assert MAY <= core.estimate < MAY + 0.001


@settings(max_examples=60)
@given(st.lists(st.tuples(st.sampled_from([100, 1000, 1000, 1000, 7000, 600000]),
                          st.sampled_from(["none", "ok", "ok", "bad", "spike"])),
                min_size=50, max_size=400),
       st.floats(0, 3), st.floats(0.0, 0.8), st.booleans(), st.integers(0, 23))
def test_a_skipped_step_never_changes_the_request(steps, rate_per_h, start, clock, hour):
    """Whatever the trace, after every step the request is what the policy says from scratch
    (a step with no new input works nothing out, so this checks when it must)."""
    c = cfg(sample_s=60)
    core = Inlet(c, T0)
    now, ms, true = T0, 0, start
    for dt, what in steps:
        now, ms = ticks_add(now, dt), ms + dt
        true += rate_per_h * dt / 3600000
        if what == "ok":
            core.reading(now, distance(c, true), ranging.OK, None)
        elif what == "bad":
            core.reading(now, None, ranging.NO_ECHO, None)
        elif what == "spike":
            core.reading(now, distance(c, 0.99), ranging.OK, None)
        core.step(now, UTC0 + hour * HOUR + ms // 1000 if clock else None, True, False, True)
        assert core.request == eager_request(core, c), (ms, core.estimate)
