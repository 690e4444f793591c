"""The street's accounting on cases worked out by hand."""

import copy
import json

import pytest

from host_tools.street import account, scenario, world

RAW = json.loads(scenario.path_of("residential").read_text())


def _quiet(**lamp):
    """A street with no traffic and no waste, a 100 W lamp, no standby, 22:00 to 04:00."""
    raw = copy.deepcopy(RAW)
    for k in raw["traffic"]:
        raw["traffic"][k]["per_hour"] = [["00:00", 0]]
    raw["waste"]["per_hour"] = [["00:00", 0]]
    raw["waste"]["bulk_per_day"] = 0
    raw["lamp"].update({"watts": 100, "standby_w": 0, **lamp})
    raw.update(start="22:00", hours=6)
    # The levels these cases were worked out with, whatever the firmware's defaults become.
    raw["device_config"] = {"light": {"boost_pct": 100, "late_boost_pct": 80}}
    s = scenario.build(raw)
    w = world.build(s)
    w.nights = [(s["start_wall"], s["end_wall"])]  # night throughout: the cases need no sky
    return s, w


def _walker(w, who, zones):
    p = {"t": zones[0][1], "kind": "passage", "who": who, "type": "pedestrian",
         "zones": [[pole, a, b, True] for pole, a, b in zones]}
    w.passages.append(p)


def _lamps(w, t0, steps):
    return {pid: {"lamp": [[t0 + dt, pct] for dt, pct in steps], "end_wall": w.end}
            for pid, _ in w.poles}


def test_a_walker_ten_seconds_in_a_zone_lit_late_is_one_dark_encounter():
    s, w = _quiet()
    t0 = s["start_wall"] + 600  # 22:10: before the late window, the boost level is 100 %
    _walker(w, "ann", [("pole-01", t0, t0 + 10)])
    # 20 % when she enters, at boost 5 s later: the ramp time (2 s) is over at t0 + 2,
    # so she is in the dark from t0 + 2 to t0 + 5
    r = account.score(s, w, _lamps(w, s["start_wall"], [(0, 20), (605, 100)]))
    assert r["totals"]["encounters"] == 1
    (e,) = r["encounters"]
    assert (e["who"], e["pole"], e["dark_s"], e["min_pct"]) == ("ann", "pole-01", 3, 20)
    # at boost within the ramp time: none
    r = account.score(s, w, _lamps(w, s["start_wall"], [(0, 20), (601.5, 100)]))
    assert r["totals"]["encounters"] == 0


def test_one_walker_in_three_dark_zones_is_three_encounters_and_one_person():
    s, w = _quiet()
    t0 = s["start_wall"] + 600
    _walker(w, "bob", [("pole-01", t0, t0 + 10), ("pole-02", t0 + 20, t0 + 30),
                       ("pole-03", t0 + 40, t0 + 50)])
    r = account.score(s, w, _lamps(w, s["start_wall"], [(0, 40)]))
    assert r["totals"]["encounters"] == 3 and r["totals"]["people_in_the_dark"] == 1
    assert [e["dark_s"] for e in r["encounters"]] == [8, 8, 8]


def test_in_the_late_window_the_late_boost_level_is_enough():
    s, w = _quiet()
    t0 = scenario.wall_at(s, "01:00")  # late: late_boost_pct 80 in this scenario
    _walker(w, "cy", [("pole-01", t0, t0 + 10)])
    assert account.score(s, w, _lamps(w, s["start_wall"], [(0, 80)]))["totals"][
        "encounters"] == 0
    assert account.score(s, w, _lamps(w, s["start_wall"], [(0, 79)]))["totals"][
        "encounters"] == 1


def test_a_visit_by_day_is_not_an_encounter():
    s, w = _quiet()
    t0 = s["start_wall"] + 600
    w.nights = [(s["start_wall"], t0)]
    _walker(w, "di", [("pole-01", t0, t0 + 10)])
    assert account.score(s, w, _lamps(w, s["start_wall"], [(0, 0)]))["totals"][
        "encounters"] == 0


@pytest.mark.parametrize("spells, minutes", [
    ([(100, 280)], 3),  # 3 minutes above full
    ([(100, 110)], 1),  # a started minute counts
    ([(100, 281)], 4),
    ([(100, 160), (400, 520)], 3),  # two spells: 1 + 2
])
def test_overflow_minutes(spells, minutes):
    levels = [[0, 0.5]]
    for a, b in spells:
        levels += [[a, 1.02], [b, 0.02]]
    assert account.overflow_minutes(levels, 10000) == minutes


def test_an_overflow_still_going_at_the_end_counts_until_the_end():
    assert account.overflow_minutes([[0, 0.5], [100, 1.2]], 400) == 5


def test_energy_of_a_constant_half_level_for_two_hours_at_100_w_is_100_wh():
    s, _ = _quiet()
    steps = account.Steps([[0, 50]])
    assert account.integrate_wh(s, steps, 0, 7200) == pytest.approx(100)


def test_the_baselines_by_hand():
    s, w = _quiet()  # 22:00 to 04:00, night throughout, 100 W, no standby
    pid = "pole-01"
    r = account.score(s, w, {pid: {"lamp": [[s["start_wall"], 30]], "end_wall": w.end}})
    p = r["poles"][pid]
    assert p["wh"] == pytest.approx(6 * 30)
    assert p["always_on_wh"] == pytest.approx(6 * 100)
    # D60: 50 % from 22:00 to 04:00 (100 % only from 05:00)
    assert p["d60_wh"] == pytest.approx(6 * 50)
    assert p["saving_vs_d60_pct"] == pytest.approx(40.0)
    assert set(r["missing"]) == {d for d in w.device_ids() if d != pid}


def test_d60_steps_at_20_and_22():
    raw = copy.deepcopy(RAW)
    raw["lamp"].update({"watts": 100, "standby_w": 1})
    raw.update(start="19:00", hours=4)
    s = scenario.build(raw)
    w = world.build(s)
    w.nights = [(s["start_wall"] + 1800, s["end_wall"])]  # dusk at 19:30
    wh = account.baseline_wh(s, w, s["start_wall"], s["end_wall"], account.d60_level)
    # standby 4 h (4 Wh) + 100 % 19:30-20:00 (50) + 70 % 20-22 (140) + 50 % 22-23 (50)
    assert wh == pytest.approx(4 + 50 + 140 + 50)
