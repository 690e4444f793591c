"""The `street` command: what a person preparing a device sees."""

import getpass
import json
import shutil
import sys
from pathlib import Path

import pytest

from host_tools import chipfit
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
    # With its command key: commands are signed by default (mqtt.signed_cmds).
    (tmp_path / "secrets.json").write_text(json.dumps({"wifi": {"ssid": "street"},
                                                       "cmd": {"key": "5a" * 32}}))
    return str(tmp_path)


def test_device_check_ok(tmp_path, capsys):
    d = _device(tmp_path, {"device": {"id": "p1", "role": "streetlight"}, "mqtt": {"host": "b"}})
    assert main(["check", d]) == 0
    assert "config  : ok" in capsys.readouterr().out


def test_device_check_refuses_tls_without_the_ca_file(tmp_path, capsys):
    d = _device(tmp_path, {"device": {"id": "p1", "role": "streetlight"},
                           "mqtt": {"host": "b", "tls": True}})
    assert main(["check", d]) == 1
    assert "mqtt.tls is on but ca.der is missing" in capsys.readouterr().out
    (tmp_path / "ca.der").write_bytes(b"\x30\x82")
    assert main(["check", d]) == 0


def test_device_check_warns_when_the_role_will_not_fit_the_board_as_deployed(tmp_path, capsys):
    d = _device(tmp_path, {"device": {"id": "p1", "role": "streetlight"}, "mqtt": {"host": "b"}})
    board = json.loads((tmp_path / "board.json").read_text())
    need = chipfit.NEED_KB[("streetlight", "mpy")]
    for heap_kb, psram, warned in ((need - 1, False, True), (need, False, False),
                                   (need - 1, True, False)):
        board["memory"] = {"psram": psram, "gc_heap_kb": heap_kb}
        (tmp_path / "board.json").write_text(json.dumps(board))
        assert main(["check", d]) == 0  # a warning, not a refusal
        out = capsys.readouterr().out
        assert ("warning: the streetlight role as .mpy files on a stock image needs about"
                in out) == warned, (heap_kb, psram, out)
    board["memory"] = {"psram": False, "gc_heap_kb": chipfit.NEED_KB[("streetlight",
                                                                       "frozen")]}
    (tmp_path / "board.json").write_text(json.dumps(board))
    main(["check", d, "--deploy", "frozen"])
    assert "warning" not in capsys.readouterr().out


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


# ---- `street broker init`: the Wi-Fi password never on the command line ------------------

class _Terminal:
    """stdin as seen from a person's terminal."""

    def isatty(self):
        return True


@pytest.fixture
def no_env_password(monkeypatch):
    monkeypatch.delenv("STREET_WIFI_PASSWORD", raising=False)


def _init(tmp_path, *extra):
    return main(["broker", "init", str(tmp_path / "broker"), "--host", "localhost",
                 "--device", "pole-1:streetlight:elm", "--wifi-ssid", "street", *extra])


def _wifi_written(tmp_path):
    secrets = tmp_path / "broker" / "devices" / "pole-1" / "secrets.json"
    return json.loads(secrets.read_text())["wifi"]


def test_wifi_password_on_the_command_line_is_refused_in_one_line(tmp_path, capsys):
    assert _init(tmp_path, "--wifi-password", "hunter2-secret") == 2
    said = capsys.readouterr().out
    assert said.splitlines() == [
        "error: --wifi-password is refused: a command line is visible to everyone on the "
        "machine (ps); use --wifi-password-file F, $STREET_WIFI_PASSWORD, or type it at the "
        "prompt"]
    assert list(tmp_path.iterdir()) == []  # nothing written, not even a temporary folder


def test_wifi_password_from_a_file(tmp_path, capsys, no_env_password):
    (tmp_path / "wifi").write_text("correct horse\n")  # the final newline is not part of it
    assert _init(tmp_path, "--wifi-password-file", str(tmp_path / "wifi")) == 0
    assert _wifi_written(tmp_path) == {"ssid": "street", "password": "correct horse"}
    said = capsys.readouterr().out
    assert "Wi-Fi password: from the file" in said and "correct horse" not in said


def test_wifi_password_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("STREET_WIFI_PASSWORD", "from-env-123")
    assert _init(tmp_path) == 0
    assert _wifi_written(tmp_path)["password"] == "from-env-123"


def test_wifi_password_typed_twice_at_a_terminal(tmp_path, monkeypatch, no_env_password):
    typed = iter(["typed-pass-1", "typed-pass-1"])
    monkeypatch.setattr(sys, "stdin", _Terminal())
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": next(typed))
    assert _init(tmp_path) == 0
    assert _wifi_written(tmp_path)["password"] == "typed-pass-1"


def test_wifi_passwords_typed_differently_write_nothing(tmp_path, capsys, monkeypatch,
                                                       no_env_password):
    typed = iter(["typed-pass-1", "typed-pass-2"])
    monkeypatch.setattr(sys, "stdin", _Terminal())
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": next(typed))
    assert _init(tmp_path) == 2
    assert "error: the two Wi-Fi passwords typed differ" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []


def test_without_a_terminal_and_no_password_given_the_network_is_open(tmp_path, capsys,
                                                                      no_env_password):
    assert not sys.stdin.isatty()  # pytest's stdin: a script's, not a person's
    assert _init(tmp_path) == 0
    assert _wifi_written(tmp_path) == {"ssid": "street", "password": ""}
    assert "Wi-Fi password: none (an open network)" in capsys.readouterr().out


def test_unreadable_password_file_is_reported_with_the_other_errors(tmp_path, capsys,
                                                                    no_env_password):
    missing = tmp_path / "nope"
    assert _init(tmp_path, "--wifi-password-file", str(missing), "--device", "x:lamp") == 2
    said = capsys.readouterr().out
    assert f"error: --wifi-password-file {missing}: cannot read" in said
    assert "got 'lamp'" in said and "nothing was written" in said
    assert list(tmp_path.iterdir()) == []
