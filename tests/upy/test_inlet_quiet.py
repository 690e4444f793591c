# Ring 2: a quiet inlet makes no garbage. The ESP32 has ~112 KB of GC heap for everything; a
# control tick a second that allocates even a float fragments it. Each case builds a real inlet
# agent over a filling bin on the simulated board, lets it run until its forecast has a fill
# rate (so the estimate grows between readings: the float work a tick must not redo), then
# counts the bytes the heap grows by over many quiet ticks of one task: it must be 0.
#
# What is measured is the firmware's own work: the simulated board's pins, echo timing and
# clocks are Python code that allocates on its own (long ints on a 32-bit interpreter), so the
# agent is given stand-ins for them that return pre-made values. Run under the 64-bit unix port
# by tests/test_micropython.py, and by hand under the chip-like 32-bit float32 interpreter
# (.cache/chip/bin/micropython-stock), where an epoch second is a long int.
import gc
import json

import device
import simbin
import simworld

from agent import app, chute, ranger, ranging
from agent.sched import ticks_add

PINS = {"us_trig": 26, "us_echo": 27, "valve": 23, "valve_pos": 36, "vacuum_ready": 39}
ACTIVE_LOW = ("valve_pos", "vacuum_ready")  # boards/esp32-devkitc.json
# 2026-01-15 00:00:00 UTC, made once: on a 32-bit VM a long int, which the stand-in clock
# hands out without making a new one.
WALL = 1768435200 + 0
ECHO_US = 5000  # about 0.86 m at 20 C


class FakePin:
    """Stands in for a machine.Pin: reads a pre-made level, takes writes without a record."""

    def __init__(self, level=0):
        self.level = level

    def value(self, v=None):
        if v is None:
            return self.level
        self.level = v
        return None


class FakeMachine:
    """The part of `machine` the ranger uses per ping: an echo of a fixed length."""

    def __init__(self):
        self.echo_us = ECHO_US
        self.pings = 0

    def time_pulse_us(self, pin, level, timeout_us):
        self.pings += 1
        return self.echo_us


class FakeTime:
    def sleep_us(self, us):
        return None


class Wall:
    def __init__(self, value):
        self.value = value

    def __call__(self):
        return self.value


def _bytes(fn, now):
    """Bytes the GC heap grew by over one call of fn(now)."""
    gc.collect()
    before = gc.mem_alloc()
    fn(now)
    return gc.mem_alloc() - before


def _inlet(name, minutes=90):
    """An inlet agent after `minutes` (90: long enough for a fill rate) over a filling bin."""
    cfg = {"device": {"id": name, "role": "inlet", "board": "esp32-devkitc"},
           "mqtt": {"host": "127.0.0.1"}, "loop": {"heartbeat_s": 3600},
           "inlet": {"branch": "north", "sample_s": 60}}
    simworld.keep_history(False)  # the simulated pins' own records allocate
    simbin.Bin(PINS, ACTIVE_LOW, level=0.3, bags_per_h=(12.0,) * 24, bag=0.01)
    agent = app.Agent(device.make(name, config=json.loads(json.dumps(cfg))))
    assert agent.role_impl is not None, agent.loaded["problems"]
    agent.run(minutes * 60000)
    ch = agent.role_impl
    assert minutes < 60 or ch.core.forecast.rate_per_h, "the bin should be filling by now"
    return agent, ch


def _quiet(ch, wall):
    """The chute's inputs replaced by allocation-free stand-ins (valve closed, no vacuum)."""
    ch.pos_pin = FakePin(ch.closed_level)
    ch.vac_pin = FakePin(1 - ch.vacuum_level)
    chute.wall_s = wall


def _restore():
    from agent.clock import wall_s

    chute.wall_s = wall_s


def _control_ticks(ch, now, n):
    """n control ticks a second apart from now (after `now`); returns (bytes, last now)."""
    total = 0
    for _ in range(n):
        now = ticks_add(now, 1000)
        total += _bytes(ch._control, now)
    return total, now


def test_a_quiet_control_tick_allocates_nothing_with_a_wall_clock():
    agent, ch = _inlet("inlet-q1")
    try:
        _quiet(ch, Wall(WALL))
        now = agent.sched.now
        ch._control(now)  # warm-up: the clock read, a request worked out (a minute's work)
        ch._control(ticks_add(now, 1))
        grew, now = _control_ticks(ch, now, 55)  # all within the wall clock's minute
        assert grew == 0, "a quiet control tick allocated %d bytes in 55 ticks" % grew
        assert ch.core.discharge.phase == "idle" and not ch.valve_open
        assert ch.core.estimate is not None and ch.core.request == "none"
    finally:
        _restore()


def test_a_quiet_control_tick_allocates_nothing_without_a_wall_clock():
    agent, ch = _inlet("inlet-q2")
    try:
        _quiet(ch, Wall(None))
        now = agent.sched.now
        ch._control(now)
        ch._control(ticks_add(now, 1))
        grew, now = _control_ticks(ch, now, 200)
        assert grew == 0, "a quiet control tick allocated %d bytes in 200 ticks" % grew
    finally:
        _restore()


def test_the_estimate_grows_between_quiet_ticks_when_asked():
    # Quiet ticks skip the float work, yet what is asked is as of the last tick.
    agent, ch = _inlet("inlet-q3")
    try:
        _quiet(ch, Wall(None))
        core = ch.core
        now = agent.sched.now
        ch._control(now)
        before = core.estimate
        _control_ticks(ch, now, 600)  # ten minutes without a reading
        rate = core.forecast.rate_per_h
        assert abs(core.estimate - before - rate / 6) < 1e-5, (before, core.estimate, rate)
    finally:
        _restore()


def _fake_ranger(ch):
    r = ch.ranger
    r.trig = FakePin()
    r.echo = FakePin()
    fake = FakeMachine()
    ranger.machine = fake
    ranger.time = FakeTime()
    return r, fake


def _restore_ranger():
    import time

    import machine

    ranger.machine = machine
    ranger.time = time


def test_a_ping_and_a_wait_between_pings_allocate_nothing():
    agent, ch = _inlet("inlet-q4")
    try:
        r, fake = _fake_ranger(ch)
        n, gap = r.burst.n, r.gap_ms
        now = agent.sched.now
        for _ in range(n):  # warm-up: one whole burst, its reading and all
            now = ticks_add(now, gap)
            ch._range(now)
        assert not r.busy() and r.burst.count == 0
        for burst in range(3):
            pings = fake.pings
            for i in range(n - 1):  # every ping but the one that completes the burst
                now = ticks_add(now, gap)
                early = _bytes(ch._range, ticks_add(now, -gap // 2))  # woken before the gap
                assert early == 0, "a wait between pings allocated %d bytes" % early
                grew = _bytes(ch._range, now)
                assert grew == 0, "ping %d of burst %d allocated %d bytes" % (i + 1, burst, grew)
            assert fake.pings == pings + n - 1 and r.busy()
            now = ticks_add(now, gap)
            ch._range(now)  # the burst's end: a reading, the forecast, telemetry (allocates)
            assert not r.busy() and ch.core.quality == "ok"
    finally:
        _restore_ranger()


def test_ranger_poll_allocates_nothing():
    agent, ch = _inlet("inlet-q5", minutes=1)
    try:
        r, fake = _fake_ranger(ch)
        r.start()
        now = agent.sched.now
        r.poll(now, 12.5)  # warm-up: the speed of sound for 12.5 C is worked out once
        got = 0
        for _ in range(49):  # ten bursts in all, their last pings too: judged in place
            now = ticks_add(now, r.gap_ms)
            got += _bytes(lambda t: r.poll(t, 12.5), now)
            assert r.fresh == (r.burst.count == r.burst.n)
        assert got == 0, "poll allocated %d bytes in 49 pings" % got
        assert r.fresh and fake.pings == 50
        want_um = ECHO_US * ranging.speed_of_sound(12.5) / 2
        assert r.burst.quality == "ok" and abs(r.burst.distance_um - want_um) < 100, \
            r.burst.distance_um
    finally:
        _restore_ranger()


class _LinkUp:
    up = True


class _Comms:
    """Stands in for agent.comms with the broker link up; events are counted, not encoded."""

    def __init__(self):
        self.link = _LinkUp()
        self.sent = 0

    def event(self, fields, now_ms):
        self.sent += 1

    def telemetry(self, fields, now_ms):
        self.sent += 1


def test_a_tick_while_the_valve_stays_open_allocates_nothing():
    # Not a quiet tick, but ten a second for open_s: only the ticks that change the phase
    # (opened, closing) may allocate.
    agent, ch = _inlet("inlet-q6", minutes=1)
    try:
        _quiet(ch, Wall(WALL))
        agent.comms = _Comms()
        core = ch.core
        now = agent.sched.now
        ch._control(now)
        core.request = "must"  # the grant is refused unless the inlet asks
        assert core.grant(7, 30, True, now)
        now = ticks_add(now, 1)
        ch._control(now)  # opens: events, the backstop timer
        assert ch.valve_open and core.discharge.phase == "open"
        ch.pos_pin.level = 1 - ch.closed_level  # the switch releases
        grew = 0
        for _ in range(30):  # 3 s of the 5 s open_s
            now = ticks_add(now, 100)
            grew += _bytes(ch._control, now)
        assert ch.valve_open and core.discharge.phase == "open"
        assert grew == 0, "an open valve's tick allocated %d bytes in 30 ticks" % grew
    finally:
        ch._drive(False)
        _restore()
