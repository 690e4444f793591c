# Ring 2: a quiet streetlight makes no garbage. The ESP32 has ~112 KB of GC heap for
# everything; a tick that allocates even a float a second fragments it and makes the collector
# run in the middle of a fade. Each case builds a real agent on the simulated board, warms it
# up, then counts the bytes the heap grew by over many quiet ticks: it must be 0.
#
# What is measured is the firmware's own work: the simulated board's ADC, wall clock and
# watchdog are Python code that allocates on its own (floats, and long ints on a 32-bit
# interpreter), so the agent is given stand-ins for them that return pre-made values. Run
# under the 64-bit unix port by tests/test_micropython.py, and by hand under the chip-like
# 32-bit float32 interpreter (.cache/chip/bin/micropython-stock).
import gc
import json
import sys

import device
import simworld

from agent import app, civil

SMALL_INTS_32 = sys.maxsize < (1 << 32)  # on a 32-bit VM epoch seconds after 2004 are long
AMSTERDAM = (52.37, 4.90)


def _epoch(y, m, d, hh=0, mm=0):
    return (civil.days_from_civil(y, m, d) + 10957) * 86400 + hh * 3600 + mm * 60


# Wall time of the tests: a January day. On a 32-bit VM a 2026 epoch second is a long int
# that the (stand-in) clock itself would allocate, so the same day of 2003 is used there.
YEAR = 2003 if SMALL_INTS_32 else 2026


class FakeAdc:
    """Stands in for machine.ADC: returns the same pre-made ints every time."""

    def __init__(self, uv):
        self.uv = uv
        self.u16 = uv * 65535 // 3300000

    def read_u16(self):
        return self.u16

    def read_uv(self):
        return self.uv


class FakeWdt:
    def __init__(self):
        self.fed = 0

    def feed(self):
        self.fed += 1


class Wall:
    """A wall clock the test sets: wall_s() returns the int it was given."""

    def __init__(self):
        self.now = None

    def __call__(self):
        return self.now


def _agent(name, lat=None, lon=None, ssid="street"):
    cfg = json.loads(json.dumps(device.STREETLIGHT))
    cfg["light"] = {"lat": lat, "lon": lon, "tz_offset_min": 60, "dst": "eu"}
    secrets = json.loads(json.dumps(device.SECRETS))
    secrets["wifi"]["ssid"] = ssid
    simworld.keep_history(False)  # the simulated pins' own records allocate
    d = device.make(name, config=cfg, secrets=secrets)
    agent = app.Agent(d)
    assert agent.role_impl is not None, agent.loaded["problems"]
    return agent


def _pole(agent, mv, wall):
    from agent import pole

    pole.wall_s = wall  # the module's own name for the clock
    p = agent.role_impl
    p.sensor.adc = FakeAdc(mv * 1000)
    return p


def _grew(fn, n):
    """Heap growth over n calls of fn(i), after two warm-up calls."""
    fn(0)
    fn(1)
    gc.collect()
    before = gc.mem_alloc()
    for i in range(2, n + 2):
        fn(i)
    return gc.mem_alloc() - before


def _quiet_control(lat, lon, hh, mv, seconds, start_min=0):
    """Bytes allocated over `seconds` one-second control ticks of a steady lamp, from hh:00
    UTC on a January day (first run a minute in so every filter and ramp has settled)."""
    from agent import pole as pole_mod

    saved = pole_mod.wall_s
    wall = Wall()
    agent = _agent("quiet", lat, lon)
    try:
        p = _pole(agent, mv, wall)
        t0 = _epoch(YEAR, 1, 15, hh, start_min)
        # Settle: a minute of ticks (boot decision, ramp to the level, filters full).
        for i in range(120):
            wall.now = t0 - 120 + i
            p._control(i * 1000)
        assert p.ramp.settled(p.core.level), (p.ramp.current, p.core.level)
        base_ms = 120 * 1000
        sun = p.core.sun

        def tick(i):
            wall.now = t0 + i
            assert p._control(base_ms + i * 1000) is None  # quiet: no fast ticks wanted

        computed = sun.computed if sun is not None else 0
        grew = _grew(tick, seconds)
        return grew, p, (sun.computed - computed if sun is not None else 0)
    finally:
        pole_mod.wall_s = saved


def _check(grew, what):
    assert grew == 0, "%s: %d bytes allocated" % (what, grew)


# ---- the control task ----------------------------------------------------------------------

def test_quiet_day_without_place():
    grew, p, _ = _quiet_control(None, None, 12, 3000, 300)  # 300 lx at noon
    assert not p.core.on
    _check(grew, "day, no place")


def test_quiet_night_without_place():
    grew, p, _ = _quiet_control(None, None, 22, 0, 300)  # dark at 23:00 local
    # No broker here, so no light-ahead: an unlinked pole keeps the class (late_boost_pct).
    assert p.core.on and p.core.level == p.core.light["late_boost_pct"] == 65
    _check(grew, "night, no place")


def test_quiet_day_with_place():
    grew, p, _ = _quiet_control(AMSTERDAM[0], AMSTERDAM[1], 11, 3000, 300)
    assert not p.core.on and p.core.dark_by_clock is False
    _check(grew, "day, with place")


def test_quiet_night_with_place():
    grew, p, _ = _quiet_control(AMSTERDAM[0], AMSTERDAM[1], 22, 0, 300)
    assert p.core.on and p.core.dark_by_clock and p.core.level == 65  # unlinked: the class
    _check(grew, "night, with place")


def test_quiet_hour_of_night_with_place():
    # 23:00..23:59:59 local: 60 new local minutes (the profile looked up again each time,
    # the same step), the sun clock's answers holding all along. The next tick, at midnight,
    # steps the profile to 40 % and ramps: busy, not quiet.
    grew, p, computed = _quiet_control(AMSTERDAM[0], AMSTERDAM[1], 22, 0, 3598)
    assert p.core.local_minute == 23 * 60 + 59 and computed == 0
    _check(grew, "an hour of night with place")


def test_quiet_dusk_window_with_the_sun_clock_working_out_its_span():
    # 15:00..16:00 UTC in January at Amsterdam: sunset at ~15:50, so the twilight window
    # opens within the hour and the sun clock works its answers out again at least once. A
    # bright sky keeps the lamp off. Those few ticks allocate (floats of the sun's position),
    # every other tick nothing: the day's sun times are cached, so they are not recomputed.
    grew, p, computed = _quiet_control(AMSTERDAM[0], AMSTERDAM[1], 15, 3000, 3600)
    assert computed >= 1
    assert not p.core.on and p.core.near_twilight
    # the span computations only: measured again over the last 30 min, with none in it
    grew2, p, computed2 = _quiet_control(AMSTERDAM[0], AMSTERDAM[1], 15, 3000, 1800, 30)
    if computed2 == 0:
        _check(grew2, "dusk window, no span ended")


# ---- the other quiet tasks -----------------------------------------------------------------

def test_watchdog_feed():
    agent = _agent("wdt")
    agent.hal.wdt = FakeWdt()
    _check(_grew(lambda i: agent._feed(i * 2000), 200), "watchdog feed")
    assert agent.hal.wdt.fed == 202


def test_status_led():
    agent = _agent("led")
    _check(_grew(lambda i: agent._blink(i * 1000), 200), "status LED")


# ---- the link's quiet service: Wi-Fi associating, Wi-Fi backoff, broker backoff -----------

def _link_agent(name):
    agent = _agent(name)
    return agent, agent.comms, agent.comms.link


def test_link_associating_polls_without_garbage():
    agent, comms, link = _link_agent("assoc")
    comms.service(0)  # starts the association (no access point in this world: it waits)
    assert link.wifi_started is not None
    # polled every 250 ms until the association's timeout
    _check(_grew(lambda i: comms.service(i * 250), 40), "link: Wi-Fi associating")
    assert link.wifi_started is not None


def test_link_waiting_out_a_wifi_backoff():
    from agent.sched import ticks_add

    agent, comms, link = _link_agent("wifiwait")
    comms.service(0)
    link.wifi_started = None  # as after a failed association
    link.wifi_retry_at = ticks_add(0, 600000)

    def wait(i):
        assert comms.service(1000 + i * 1000) > 0

    _check(_grew(wait, 200), "link: waiting for the next Wi-Fi attempt")


def test_link_waiting_out_a_broker_backoff():
    import simclock
    import simworld

    from agent import link as link_mod
    from agent.sched import ticks_add

    agent, comms, link = _link_agent("brokerwait")
    simworld.wifi_ap("street", "secret")
    comms.service(0)
    simclock.advance_ms(5000)  # associated
    assert link.wlan.isconnected()
    link.state = link_mod.WAIT  # as after a failed connect to the broker
    link.retry_at = ticks_add(0, 600000)

    def wait(i):
        assert comms.service(1000 + i * 1000) > 0

    _check(_grew(wait, 200), "link: waiting for the next broker attempt")
    assert link.state == link_mod.WAIT
