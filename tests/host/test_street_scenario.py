"""Scenarios are data: every shipped file loads, overrides apply, and a bad file fails with
one line that names the field."""

import copy
import json

import pytest

from host_tools.street import devices, scenario


@pytest.mark.parametrize("name", scenario.names())
def test_every_shipped_scenario_loads_and_makes_valid_device_folders(name, tmp_path):
    s = scenario.load(name)
    assert s["end_wall"] - s["start_wall"] == s["hours"] * 3600
    assert scenario.local_minute(s, s["start_wall"]) == 15 * 60  # they all start at 15:00
    folders = devices.write(s, tmp_path, "127.0.0.1", 1883)
    assert len(folders) == s["poles"]["count"] + s["inlets"]["count"]


def test_the_default_is_a_winter_night_in_a_residential_street():
    s = scenario.load()
    assert s["source"].endswith("residential.json") and s["date"].startswith("2026-12")


def test_overrides_apply():
    s = scenario.load("square", poles=3, inlets=1, seed=7, hours=2)
    assert (s["poles"]["count"], s["inlets"]["count"], s["seed"], s["hours"]) == (3, 1, 7, 2)
    assert s["end_wall"] - s["start_wall"] == 7200


def _raw():
    return json.loads(scenario.path_of("residential").read_text())


def _bad(edit):
    raw = copy.deepcopy(_raw())
    edit(raw)
    return raw


@pytest.mark.parametrize("edit, field", [
    (lambda r: r["poles"].pop("spacing_m"), "poles.spacing_m: required"),
    (lambda r: r["poles"].update(count="8"), "poles.count: must be an integer"),
    (lambda r: r["lamp"].update(watts=-5), "lamp.watts: must be within"),
    (lambda r: r["place"].update(dst="summer"), "place.dst: must be one of"),
    (lambda r: r.update(date="15-12-2026"), "date: must be a date"),
    (lambda r: r["traffic"]["car"].update(per_hour=[["25:00", 3]]), "traffic.car.per_hour"),
    (lambda r: r["poles"].update(spacing=30), "poles.spacing: unknown field"),
    (lambda r: r["faults"].update(sensors=[{"pole": 99, "at": "01:00", "minutes": 5,
                                            "kind": "motion_stuck"}]),
     "faults.sensors[0].pole"),
    (lambda r: r.update(device_config={"light": {"boost_pct": 150}}), "device_config.light"
                                                                   ".boost_pct"),
])
def test_a_bad_file_fails_with_one_line_naming_the_field(tmp_path, edit, field):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(_bad(edit)))
    with pytest.raises(scenario.ScenarioError) as e:
        scenario.load(str(path))
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("bad.json: ") and field in msg, msg


def test_not_json_and_unknown_names_fail_with_one_line(tmp_path):
    (tmp_path / "x.json").write_text("{")
    for arg in (str(tmp_path / "x.json"), "no-such-street"):
        with pytest.raises(scenario.ScenarioError) as e:
            scenario.load(arg)
        assert "\n" not in str(e.value)


def test_a_bad_override_is_refused():
    with pytest.raises(scenario.ScenarioError, match="poles: the override"):
        scenario.load(poles=0)
