"""The streetlight's decisions over random nights (CPython, hypothesis): places, dates,
weather, sensor faults, lost clocks and walkers. Whatever happens, the fail-safe ladder is
followed and the street is never left dark at night."""

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from agent import astro, civil, config, sensing
from agent.streetlight import MODE_ASTRO, MODE_FAILSAFE, MODE_PHOTOCELL, Streetlight

EPOCH_2000 = 946684800
STEP_S = 60


def light_cfg(lat, lon, **extra):
    raw = {"device": {"id": "p", "role": "streetlight"}, "mqtt": {"host": "b"},
           "light": dict({"lat": lat, "lon": lon, "switch_delay_s": 60}, **extra)}
    return config.load(raw)["light"]


def sky_lux(utc_s, lat, lon, clouds):
    """Daylight from the sun's clock, dimmed by clouds: enough to drive the photocell."""
    if astro.is_night(utc_s, lat, lon, 0, 0):
        return 0.3
    name, when = astro.nearest_event(utc_s, lat, lon)
    ramp = min(1.0, abs(utc_s - when) / 2400) if when is not None else 1.0
    return max(0.3, 2000 * ramp * (1 - clouds))


scenario = st.fixed_dictionaries({
    "lat": st.floats(-60, 60), "lon": st.floats(-180, 180),
    "day": st.integers(civil.days_from_civil(2025, 1, 1), civil.days_from_civil(2030, 12, 31)),
    "clouds": st.floats(0, 0.9),
    # the light sensor: fine, stuck at 0 (dark), stuck bright, or giving nonsense
    "fault": st.sampled_from(["none", "stuck_dark", "stuck_bright", "nonsense"]),
    "fault_after_h": st.integers(0, 20),
    "clock": st.sampled_from(["ok", "none", "lost"]),
    "walkers": st.lists(st.integers(0, 24 * 3600 // STEP_S - 1), max_size=12),
})


@settings(max_examples=30, deadline=None)
@given(scenario)
def test_a_day_and_night_follow_the_ladder_and_never_go_dark(s):
    light = light_cfg(s["lat"], s["lon"])
    start = (s["day"] * 86400 + EPOCH_2000) + 12 * 3600  # noon UTC
    core = Streetlight(light, 0)
    walkers = set(s["walkers"])
    for i in range(24 * 3600 // STEP_S):
        now_ms = i * STEP_S * 1000
        utc = start + i * STEP_S
        clock = None if s["clock"] == "none" or (s["clock"] == "lost" and i > 1000) else utc
        lux = sky_lux(utc, s["lat"], s["lon"], s["clouds"])
        raw = min(65535, int(lux * 65535 / 310) + (i * 7919) % 5)  # a live ADC's noise
        if i * STEP_S >= s["fault_after_h"] * 3600:
            if s["fault"] == "stuck_dark":
                lux, raw = 0.0, 0
            elif s["fault"] == "stuck_bright":
                lux, raw = 310.0, 65535
            elif s["fault"] == "nonsense":
                lux, raw = float("nan"), 70000
        if i in walkers:
            core.motion.edge(now_ms - 1000, 1)
            core.motion.edge(now_ms - 100, 0)
        level = core.step(now_ms, clock, lux, raw)
        sun_known = clock is not None
        # the ladder
        if core.light_quality == sensing.OK and core.lux is not None:
            assert core.mode == MODE_PHOTOCELL
        elif sun_known:
            assert core.mode == MODE_ASTRO
            # the sun clock, as computed at most a minute ago
            assert core.on == astro.is_night(core.sun_at, s["lat"], s["lon"], 0, 0)
        else:
            assert core.mode == MODE_FAILSAFE and core.on
            assert level >= light["failure_level_pct"] - 1e-9
        # never dark when on; never below the profile (or failure) level
        if core.on:
            assert level >= light["min_level_pct"] and level >= core.base - 1e-9
        else:
            assert level == 0
        assert not math.isnan(level)


@settings(max_examples=25, deadline=None)
@given(st.floats(-60, 60), st.floats(-180, 180),
       st.integers(civil.days_from_civil(2025, 1, 1), civil.days_from_civil(2030, 12, 31)))
def test_a_faulty_sensor_hands_over_to_the_sun_clock(lat, lon, day):
    """An ADC pinned at full scale through the night is recognised as stuck within hours and
    the sun clock lights the street instead."""
    light = light_cfg(lat, lon)
    core = Streetlight(light, 0)
    start = day * 86400 + EPOCH_2000 + 12 * 3600
    lit_at_night_late = []
    for i in range(36 * 3600 // 60):
        utc = start + i * 60
        core.step(i * 60000, utc, 310.0, 65535)  # the sensor claims daylight forever
        if astro.is_night(utc, lat, lon, 0, 0) and core.mode == MODE_ASTRO:
            lit_at_night_late.append(core.on)
    if any(astro.is_night(start + h * 3600, lat, lon, 0, 0) for h in range(4, 36)):
        assert lit_at_night_late and all(lit_at_night_late)


# ---- light-ahead and the base without a link (issue 14) --------------------------------------

NIGHT_UTC = 1797382800  # 2026-12-16 00:00 local in Amsterdam (UTC+1): night, clock known


def night_core(linked=True, **extra):
    light = light_cfg(52.37, 4.90, position_m=30, **extra)
    core = Streetlight(light, 0)
    core.linked = linked
    core.step(0, NIGHT_UTC, 0.2, 700)
    return light, core


def test_linked_keeps_the_profile_base_and_unlinked_keeps_the_class():
    light, core = night_core()
    assert core.step(1000, NIGHT_UTC + 1, 0.2, 701) == light["min_level_pct"]
    core.linked = False  # the broker went away: no neighbour can warn this pole
    assert core.step(2000, NIGHT_UTC + 2, 0.2, 702) >= light["boost_pct"] - 1e-9
    _, core = night_core(linked=False, unlinked_pct=40)
    assert core.step(1000, NIGHT_UTC + 1, 0.2, 701) == 40


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 600), st.sampled_from(["own", "peer"]),
                          st.floats(-100, 160), st.sampled_from([-1, 0, 1])), max_size=25),
       st.booleans())
def test_a_night_with_neighbours_never_goes_below_the_base(events, linked):
    """Whatever neighbours announce (near, far, either way), the level stays within
    [max(min, base), 100] and an unlinked pole never goes below the class."""
    light, core = night_core(linked=linked)
    now = 0
    for dt_s, kind, pos, heading in events:
        now += dt_s * 1000
        if kind == "own":
            core.motion.edge(now - 300, 1)
            core.motion.edge(now - 50, 0)
        else:
            core.peer_motion(now, pos, heading)
        level = core.step(now, NIGHT_UTC + now // 1000, 0.2, 700 + now % 7)
        floor = max(light["min_level_pct"], core.base)
        assert floor - 1e-9 <= level <= 100
        if not linked:
            assert level >= light["boost_pct"] - 1e-9


def test_the_nearest_neighbour_lights_ahead_of_a_walker_this_pole_misses():
    light, core = night_core()
    boost, hold = light["boost_pct"], light["ahead_hold_s"]
    assert core.peer_motion(1000, 0.0, 1)  # the pole 30 m below saw someone walking up
    assert core.step(1600, NIGHT_UTC + 1, 0.2, 701) == boost  # up within the 500 ms ramp
    # this pole's own sensor misses them: still lit until the hold runs out
    assert core.step(1000 + hold * 1000, NIGHT_UTC + hold, 0.2, 702) == boost
    assert core.step(1000 + (hold + light["fade_s"]) * 1000 + 1, NIGHT_UTC + hold + 9, 0.2,
                     703) == light["min_level_pct"]


def test_neighbours_further_on_or_walking_away_do_not_boost():
    light, core = night_core()
    assert core.peer_motion(0, 0.0, 0)  # learns its nearest neighbour below: 30 m
    assert not core.peer_motion(100, -30.0, 1)  # the one beyond it: its walker reaches 0 m first
    assert not core.peer_motion(200, 60.0, 1)  # above, walking up: going away
    assert not core.peer_motion(300, 30.0, 0)  # its own position: an echo, not a neighbour
    assert not core.peer_motion(400, 30 + light["ahead_reach_m"] + 1, 0)  # out of reach
    assert core.peer_motion(500, 60.0, -1)  # above, walking down: coming here


def test_own_sensor_takes_over_and_tells_which_way_the_walker_goes():
    light, core = night_core()
    core.peer_motion(1000, 0.0, 1)  # announced from below
    core.motion.edge(5000, 1)
    core.step(5300, NIGHT_UTC + 5, 0.2, 701)  # the own pulse is a detection now
    ev = [f for n, f in core.events if n == "motion"]
    assert ev and ev[-1]["dir"] == 1  # going up: only the pole above is told
    core.motion.edge(8000, 0)
    # the announcement's long hold gave way to the own hold, counted from the detection
    end = 5300 + light["hold_s"] * 1000
    assert core.step(end - 10, NIGHT_UTC + 30, 0.2, 702) == light["boost_pct"]
    assert core.step(end + light["fade_s"] * 1000 + 10, NIGHT_UTC + 40, 0.2, 703) == \
        light["min_level_pct"]
    # nobody announced: both neighbours are told
    _, core2 = night_core()
    core2.motion.edge(1000, 1)
    core2.step(1300, NIGHT_UTC + 1, 0.2, 701)
    assert [f["dir"] for n, f in core2.events if n == "motion"] == [0]
