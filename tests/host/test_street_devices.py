"""Device folders for the street, as the firmware's own loader reads them."""

import copy
import json

import pytest

from agent import files
from host_tools.street import devices, scenario


def test_folders_hold_what_each_device_needs(tmp_path):
    s = scenario.load("square", poles=3, inlets=2)
    folders = devices.write(s, tmp_path, "127.0.0.1", 18830)
    assert sorted(folders) == ["inlet-01", "inlet-02", "pole-01", "pole-02", "pole-03"]
    pole = files.load_all(str(folders["pole-02"]) + "/")
    cfg, sec = pole["config"], pole["secrets"]
    assert pole["problems"] == [] and cfg["mqtt"]["signed_cmds"] and len(sec["cmd"]["key"]) == 64
    assert (cfg["mqtt"]["host"], cfg["mqtt"]["port"]) == ("127.0.0.1", 18830)
    assert cfg["light"]["position_m"] == s["poles"]["spacing_m"]
    assert (cfg["light"]["lat"], cfg["light"]["lon"]) == (s["place"]["lat"], s["place"]["lon"])
    assert cfg["mqtt"]["group"] == "square"  # the light-ahead neighbourhood: the street
    inlets = [files.load_all(str(folders[d]) + "/")["config"]["inlet"]["branch"]
              for d in ("inlet-01", "inlet-02")]
    assert inlets == ["north", "south"]


def test_a_device_config_the_firmware_refuses_writes_nothing(tmp_path):
    raw = json.loads(scenario.path_of("residential").read_text())
    raw = copy.deepcopy(raw)
    s = scenario.build(raw)
    s["device_config"] = {"light": {"on_lux": 50, "off_lux": 40}}  # off below on
    with pytest.raises(devices.DeviceError) as e:
        devices.write(s, tmp_path / "out", "127.0.0.1", 1883)
    assert "light.off_lux" in str(e.value) and "\n" not in str(e.value)
    assert not (tmp_path / "out").exists()
