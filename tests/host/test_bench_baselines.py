"""The bench's baselines and oracles (host_tools.bench.lighting, .collection) on small cases
worked out by hand: one pole and three walkers under a known sky; two inlets with known
deposits. The world is the street's own World with its random parts replaced."""

import pytest

from host_tools.bench import collection, lighting
from host_tools.street import scenario as scn
from host_tools.street import world as street_world

BASE = {
    "title": "bench hand case",
    "place": {"name": "Null Island", "lat": 0.0, "lon": 0.0, "tz_offset_min": 0, "dst": "none"},
    "date": "2026-01-01",
    "sky": {"headlight_lux": 0, "headlight_share": 0},
    "traffic": {k: {"speed_m_s": 1.0, "per_hour": [["00:00", 0]]}
                for k in ("pedestrian", "cyclist", "car")},
    "encounter": {"ramp_s": 2.0, "tolerance_pct": 0.5},
}


def _street():
    """One pole, 100 W (no standby), 10 lx at 100 %, class 5 lx; 19:00..22:00 local (UTC);
    the sky 1000 lx except 0 lx over the night 20:00..21:00. Walkers 20 s in the zone:
    w1 seen at 20:30, w2 unseen at 20:45, w3 seen at 20:00:10."""
    raw = dict(BASE, start="19:00", hours=3,
               poles={"count": 1, "spacing_m": 30, "sensor_range_m": 10, "pir_hold_s": 2.5},
               lamp={"watts": 100, "standby_w": 0, "lux_per_pct": 0.1},
               lighting={"class": "T", "avg_lux": 5.0},
               device_config={"light": {"min_level_pct": 10, "boost_pct": 100,
                                        "late_boost_pct": 100, "hold_s": 60,
                                        "late_hold_s": 60, "switch_delay_s": 60,
                                        "on_lux": 16, "off_lux": 27}})
    s = scn.build(raw)
    w = street_world.build(s)
    night = (s["start_wall"] + 3600, s["start_wall"] + 7200)
    w.sky_lux = [0.0 if night[0] <= t < night[1] else 1000.0 for t in w.sky_t]
    w.nights = [night]
    pid = w.poles[0][0]
    w.passages = []
    for who, at, seen in (("w1", night[0] + 1800, True), ("w2", night[0] + 2700, False),
                          ("w3", night[0] + 10, True)):
        w.passages.append({"t": at, "kind": "passage", "who": who, "type": "pedestrian",
                           "zones": [[pid, at, at + 20.0, seen]]})
    return s, w


def test_lighting_baselines_by_hand():
    s, w = _street()
    rows = lighting.bench(s, w)["rows"]
    # 1 h of night at 100 W
    assert rows["always_on"]["wh"] == pytest.approx(100.0)
    assert rows["always_on"]["encounters"] == 0
    # the photocell sees 0 lx from 20:00 and switches 60 s later, off 60 s after 21:00:
    # still one hour, but w3 (20:00:10) walks in the dark
    assert rows["photocell"]["wh"] == pytest.approx(100.0)
    assert rows["photocell"]["encounters"] == 1
    # D60 holds 70 % from 20:00 to 22:00: 7 lx meets the 5 lx class
    assert rows["d60"]["wh"] == pytest.approx(70.0)
    assert rows["d60"]["encounters"] == 0
    # the floor (10 %) for the hour, and 90 W more for 20 s + 2.5 s PIR hold + 60 s hold
    # for each walker the sensor saw; the unseen w2 gets 1 lx
    assert rows["motion_only"]["wh"] == pytest.approx(10.0 + 2 * 90 * 82.5 / 3600, abs=0.01)
    assert rows["motion_only"]["encounters"] == 1
    assert rows["motion_only"]["unseen"] == 1
    # the oracle: 50 % (5 lx over a 0 lx sky) from 2 s before each entry to the exit
    assert rows["oracle"]["wh"] == pytest.approx(10.0 + 3 * 40 * 22 / 3600, abs=0.01)
    assert rows["oracle"]["encounters"] == 0
    assert rows["oracle_off"]["wh"] == pytest.approx(3 * 50 * 22 / 3600, abs=0.01)
    assert rows["oracle_off"]["encounters"] == 0
    assert rows["always_on"]["saving_vs_always_on_pct"] == 0.0
    assert rows["d60"]["saving_vs_always_on_pct"] == 30.0


def test_dark_encounter_is_light_against_the_class():
    """Illuminance, not the level: 45 % (4.5 lx) is dark on a 0 lx sky, lit at 1000 lx;
    49.6 % is within the 0.5 % tolerance."""
    s, w = _street()
    pid = w.poles[0][0]
    t0 = s["start_wall"]
    for level, dark in ((45.0, 3), (49.6, 0), (50.0, 0)):
        enc, checked = lighting.dark_encounters(s, w, pid, [(t0, level)])
        assert (len(enc), checked) == (dark, 3)
    # a walker in the first 2 s (ramp) only is never one
    enc, _ = lighting.dark_encounters(s, w, pid, [(t0, 100.0), (w.nights[0][0] + 1800, 0.0),
                                                  (w.nights[0][0] + 1802, 100.0)])
    assert enc == []


def _inlets(start="01:00", hours=6):
    """Two inlets of 100 l on one branch, empty at the start (01:00 local). Deposits:
    A 60 l at 02:00 and 50 l at 03:00 (over full from 03:00 if not emptied);
    B 30 l at 02:30 and 80 l at 05:00."""
    raw = dict(BASE, start=start, hours=hours,
               poles={"count": 1, "spacing_m": 30, "sensor_range_m": 10},
               lamp={"watts": 100, "lux_per_pct": 0.1}, lighting={"class": "T", "avg_lux": 5},
               inlets={"count": 2, "branches": ["b1"], "capacity_l": 100})
    s = scn.build(raw)
    w = street_world.build(s)
    t0 = s["start_wall"]
    a, b = (iid for iid, _ in w.inlets)
    w.start_levels = {a: 0.0, b: 0.0}
    w.deposits = {a: [[t0 + 3600, 60, False], [t0 + 7200, 50, False]],
                  b: [[t0 + 5400, 30, False], [t0 + 14400, 80, False]]}
    return s, w, a, b


def test_collection_oracle_by_hand():
    s, w, a, _ = _inlets()
    orc = collection.oracle(s, w)
    # one run just before A's 50 l at 03:00 empties both; B's 80 l at 05:00 then fits.
    # Alone, each inlet needs one discharge (B: 30 + 80 > 100).
    assert (orc["fan_starts"], orc["valve_openings"], orc["overflow_minutes"]) == (1, 2, 0)
    # 110 kW * (1 run * (30 + 20 + 10 - 20) s + 2 discharges * (5 + 20) s) + 2 * 2 Wh
    assert orc["kwh"] == pytest.approx(110 * (40 + 50) / 3600 + 0.004, abs=0.001)
    # the same counts at the coordinator's nominal timing cost the same
    assert collection.nominal_kwh(s, 1, 2) == orc["kwh"]
    runs, unavoidable = collection.greedy_runs(collection.inlets_of(s, w), w.start, w.end)
    assert runs == [w.start + 7200] and unavoidable == 0


def test_collection_schedules_by_hand():
    s, w, a, b = _inlets()
    four = collection.schedule(s, w, 4)
    # 04:00 only: one fan start, both valves; A over full from 03:00 until emptied a few
    # seconds after 04:00 (spin-up 20 s, then its valve): 60 min and some seconds -> 61
    assert (four["fan_starts"], four["valve_openings"]) == (1, 2)
    assert four["overflow_by_inlet"] == {a: 61, b: 0}
    two = collection.schedule(s, w, 2)
    # 02:00, 04:00, 06:00: three starts, six openings, nobody overflows
    assert (two["fan_starts"], two["valve_openings"], two["overflow_minutes"]) == (3, 6, 0)
    # the lower bound holds against what the coordinator really spent
    assert collection.oracle(s, w)["kwh"] <= four["kwh"] <= two["kwh"]


def test_a_deposit_bigger_than_the_inlet_is_unavoidable():
    s, w, a, b = _inlets()
    w.deposits[a].append([w.start + 18000, 150, True])
    orc = collection.oracle(s, w)
    assert orc["unavoidable_overflows"] == 1
    assert orc["fan_starts"] == 1
