"""The `street` command: what a person preparing a device sees."""

import json
import shutil
from pathlib import Path

from host_tools.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_board_check_accepts_shipped_boards(capsys):
    paths = sorted(str(p) for p in (ROOT / "boards").glob("*.json"))
    assert main(["board", "check", *paths]) == 0
    out = capsys.readouterr().out
    assert out.count(": ok (") == len(paths)


def test_board_check_names_the_pin_and_rule(tmp_path, capsys):
    bad = json.loads((ROOT / "boards" / "esp32-devkitc.json").read_text())
    bad["pins"]["lamp_pwm"] = 35
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(bad))
    assert main(["board", "check", str(p)]) == 1
    out = capsys.readouterr().out
    assert "error: lamp_pwm on GPIO35: GPIO35 is input-only on esp32" in out


def test_board_check_reports_unreadable_file(tmp_path, capsys):
    p = tmp_path / "x.json"
    p.write_text("{not json")
    assert main(["board", "check", str(p)]) == 1
    assert "cannot read" in capsys.readouterr().out


def _device(tmp_path, config):
    shutil.copy(ROOT / "boards" / "esp32-devkitc.json", tmp_path / "board.json")
    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "secrets.json").write_text(json.dumps({"wifi": {"ssid": "street"}}))
    return str(tmp_path)


def test_device_check_ok(tmp_path, capsys):
    d = _device(tmp_path, {"device": {"id": "p1", "role": "streetlight"}, "mqtt": {"host": "b"}})
    assert main(["check", d]) == 0
    assert "config  : ok" in capsys.readouterr().out


def test_device_check_names_every_bad_field(tmp_path, capsys):
    d = _device(tmp_path, {"device": {"id": "p1", "role": "inlet"},
                           "mqtt": {"host": "b", "port": 0}})
    assert main(["check", d]) == 1
    out = capsys.readouterr().out
    assert "mqtt.port: 0 is below the minimum 1" in out
    assert "inlet.branch: required, missing" in out


def test_schema_lists_every_field(capsys):
    assert main(["config", "schema"]) == 0
    out = capsys.readouterr().out
    assert "light.pwm_hz" in out and "REQUIRED" in out and "wifi.ssid" in out
