"""The street's world: deterministic per seed, arrivals at the scenario's rates, a sky that
follows the sun, and pins that see what the world did."""

import copy
import datetime as dt
import json
import math

from astral import Observer
from astral.sun import elevation, sun

from host_tools.street import scenario, world

RAW = json.loads(scenario.path_of("residential").read_text())


def _scenario(seed=0, **edits):
    raw = copy.deepcopy(RAW)
    for dotted, v in edits.items():
        sec, name = dotted.split("__")
        raw[sec][name] = v
    return scenario.build(raw, seed=seed)


def test_the_same_seed_gives_the_same_world_and_another_seed_another():
    a, b = world.build(_scenario(3)), world.build(_scenario(3))
    assert a.log == b.log and a.nights == b.nights
    assert all(a.stimuli_for(d) == b.stimuli_for(d) for d in a.device_ids())
    c = world.build(_scenario(4))
    assert [p["t"] for p in c.passages] != [p["t"] for p in a.passages]


def test_arrivals_follow_the_rates_by_time_of_day():
    traffic = copy.deepcopy(RAW["traffic"])
    traffic["pedestrian"]["per_hour"] = [["00:00", 100], ["12:00", 0]]
    traffic["cyclist"]["per_hour"] = [["00:00", 50]]
    traffic["car"]["per_hour"] = [["00:00", 0]]
    raw = copy.deepcopy(RAW)
    raw["traffic"] = traffic
    s = scenario.build(raw, seed=11)
    w = world.build(s)
    n = w.counts()["passages"]
    for kind, expected in (("pedestrian", 100 * 12), ("cyclist", 50 * 24)):
        # a Poisson count: within 4 standard deviations of its mean
        assert abs(n[kind] - expected) < 4 * math.sqrt(expected), (kind, n)
    assert n["car"] == 0
    assert all(scenario.local_minute(s, p["t"]) < 12 * 60 for p in w.passages
               if p["type"] == "pedestrian")


def test_deposits_follow_the_rate():
    s = _scenario(5, waste__per_hour=[["00:00", 10]], waste__bulk_per_day=0)
    w = world.build(s)
    for d in w.counts()["deposits"].values():
        assert abs(d - 240) < 4 * math.sqrt(240)


def test_sun_elevation_agrees_with_astral_and_nights_follow_the_sunset():
    s = _scenario()
    lat, lon = s["place"]["lat"], s["place"]["lon"]
    obs = Observer(lat, lon)
    for h in range(0, 24, 3):
        t = s["start_wall"] + h * 3600
        when = dt.datetime.fromtimestamp(t, dt.timezone.utc)
        assert abs(world.sun_elevation(t, lat, lon) -
                   elevation(obs, when, with_refraction=False)) < 0.1
    w = world.build(s)
    (on, off), = w.nights  # one night, from dusk to dawn
    day = dt.datetime.fromtimestamp(s["start_wall"], dt.timezone.utc).date()
    sunset = sun(obs, day)["sunset"].timestamp()
    sunrise = sun(obs, day + dt.timedelta(days=1))["sunrise"].timestamp()
    # a photocell at 16 lx switches in civil twilight: after sunset, before it ends
    assert sunset < on < sunset + 3600 and sunrise - 3600 < off < sunrise


def test_the_pins_see_what_the_world_did():
    s = _scenario(2, poles__miss_rate=0.0)
    w = world.build(s)
    stim = w.stimuli_for("pole-03")
    pulses = [(a, a + ms / 1000) for a, ms in stim["motion"]]
    for _, enter, exit_, seen in w.visits("pole-03"):
        if enter < s["end_wall"]:  # pulses are held to ms (0.001 s)
            assert seen and any(a <= enter + 0.001 and exit_ <= b + 0.001 for a, b in pulses)
    lux = stim["lux"]
    assert lux[0][0] <= s["start_wall"]
    assert all(x[1] != y[1] for x, y in zip(lux, lux[1:], strict=False))  # a change list
    blind = world.build(_scenario(2, poles__miss_rate=1.0))
    assert blind.stimuli_for("pole-03")["motion"] == []


def test_a_stuck_sensor_and_an_outage_are_in_the_stimuli_and_the_log():
    s = _scenario(1, faults__sensors=[{"pole": 2, "at": "01:00", "minutes": 30,
                                       "kind": "motion_stuck"}],
                  faults__broker_outages=[{"at": "23:00", "minutes": 10}])
    w = world.build(s)
    t = scenario.wall_at(s, "01:00")
    # the pin is held high throughout (merged with the passers-by around it)
    assert any(a <= t and a + ms / 1000 >= t + 1800 for a, ms in
               w.stimuli_for("pole-02")["motion"])
    assert w.stimuli_for("pole-02")["faults"] == [{"kind": "motion_stuck", "from": t,
                                                   "to": t + 1800}]
    assert w.outages == [(scenario.wall_at(s, "23:00"), 10)]
    assert {e["kind"] for e in w.log} >= {"passage", "deposit", "fault", "outage"}
