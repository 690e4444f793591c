"""`street new-device`: a device folder from the firmware's schema, whole or not at all."""

import json
import os

import pytest

from agent import config, files
from host_tools.cli import main
from host_tools.newdevice import defaults_for, parse_broker

ARGS = ["--board", "esp32-devkitc", "--wifi-ssid", "street-net"]


def _new(tmp_path, name, *extra):
    out = tmp_path / name
    return out, main(["new-device", str(out), *ARGS, *extra])


def test_streetlight_folder_passes_the_firmware_loader(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("STREET_WIFI_PASSWORD", "s3cret pass")
    out, rc = _new(tmp_path, "pole-17", "--role", "streetlight", "--id", "pole-17",
                   "--site", "utrecht", "--broker", "10.1.2.3:8883", "--lat", "52.09",
                   "--lon", "5.12")
    assert rc == 0
    said = capsys.readouterr().out
    assert f"street check {out}" in said and f"street deploy PORT {out}" in said
    loaded = files.load_all(str(out) + "/")
    assert loaded["problems"] == []
    cfg, sec = loaded["config"], loaded["secrets"]
    assert (cfg["device"]["id"], cfg["device"]["site"], cfg["device"]["board"]) == (
        "pole-17", "utrecht", "esp32-devkitc")
    assert (cfg["mqtt"]["host"], cfg["mqtt"]["port"]) == ("10.1.2.3", 8883)
    assert (cfg["light"]["lat"], cfg["light"]["lon"]) == (52.09, 5.12)
    assert sec["wifi"] == {"ssid": "street-net", "password": "s3cret pass"}
    assert len(sec["cmd"]["key"]) == 64 and int(sec["cmd"]["key"], 16) > 0
    # Every field the role uses is written out at its default: the technician sees each knob.
    raw = json.loads((out / "config.json").read_text())
    for sec_name, fields in defaults_for("streetlight").items():
        assert set(fields) <= set(raw[sec_name])
    assert "inlet" not in raw
    assert os.stat(out / "secrets.json").st_mode & 0o077 == 0


def test_each_folder_gets_its_own_key(tmp_path, monkeypatch):
    monkeypatch.setenv("STREET_WIFI_PASSWORD", "pw")
    keys = []
    for i in (1, 2):
        out, rc = _new(tmp_path, f"in{i}", "--role", "inlet", "--id", f"in{i}", "--branch", "b1")
        assert rc == 0
        keys.append(json.loads((out / "secrets.json").read_text())["cmd"]["key"])
        assert json.loads((out / "config.json").read_text())["inlet"]["branch"] == "b1"
    assert keys[0] != keys[1]


def test_password_from_a_file_never_from_argv(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("STREET_WIFI_PASSWORD", raising=False)
    pw = tmp_path / "pw.txt"
    pw.write_text("from-file\n")
    out, rc = _new(tmp_path, "d", "--role", "inlet", "--id", "d", "--branch", "b",
                   "--wifi-password-file", str(pw))
    assert rc == 0
    assert json.loads((out / "secrets.json").read_text())["wifi"]["password"] == "from-file"
    out2, rc = _new(tmp_path, "e", "--role", "inlet", "--id", "e", "--branch", "b",
                    "--wifi-password", "oops")
    assert rc == 2 and not out2.exists()
    assert "--wifi-password is refused" in capsys.readouterr().out


def test_refuses_to_overwrite_and_leaves_the_folder_as_it_was(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("STREET_WIFI_PASSWORD", "pw")
    out = tmp_path / "d"
    out.mkdir()
    (out / "config.json").write_text("{\"mine\": 1}")
    rc = main(["new-device", str(out), "--role", "inlet", "--id", "d", "--branch", "b", *ARGS])
    assert rc == 2
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("error: ") and "exists" in lines[0]
    assert sorted(p.name for p in out.iterdir()) == ["config.json"]
    assert (out / "config.json").read_text() == "{\"mine\": 1}"
    assert [p.name for p in tmp_path.iterdir()] == ["d"]  # no staging folder left behind


@pytest.mark.parametrize("extra, says", [
    (["--role", "inlet", "--id", "x"], "--branch is required"),
    (["--role", "streetlight", "--id", "x", "--lat", "52"], "both --lat and --lon"),
    (["--role", "streetlight", "--id", "group"], "reserved"),
    (["--role", "streetlight", "--id", "a/b"], "device.id"),
    (["--role", "streetlight", "--id", "x", "--broker", "h:99999"], "1..65535"),
])
def test_bad_input_is_one_line_and_nothing_written(tmp_path, monkeypatch, capsys, extra, says):
    monkeypatch.setenv("STREET_WIFI_PASSWORD", "pw")
    out = tmp_path / "d"
    assert main(["new-device", str(out), *ARGS, *extra]) == 2
    said = capsys.readouterr().out.splitlines()
    assert said[-1] == "nothing was written" and says in said[0]
    assert not out.exists()


def test_unknown_board_lists_the_known_ones(tmp_path, capsys):
    rc = main(["new-device", str(tmp_path / "d"), "--role", "inlet", "--id", "x",
               "--branch", "b", "--board", "esp8266", "--wifi-ssid", "s"])
    assert rc == 2
    assert "esp32-devkitc" in capsys.readouterr().out


def test_broker_forms():
    assert parse_broker("host") == ("host", None)
    assert parse_broker("10.0.0.1:1884") == ("10.0.0.1", 1884)
    assert parse_broker("[::1]:8883") == ("::1", 8883)


def test_defaults_come_from_the_schema():
    d = defaults_for("inlet")
    assert d["inlet"]["must_go"] == config.CONFIG["inlet"]["must_go"][config.DEFAULT]
    assert "branch" not in d["inlet"]  # required: no default to copy
    assert "light" not in d
