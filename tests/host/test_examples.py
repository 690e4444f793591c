"""examples/: every device folder passes the firmware's own validation and holds every field
its role uses (so a new schema field shows up here), with the example key, never a real one."""

import json
from pathlib import Path

import pytest

from agent import files
from host_tools.cli import main
from host_tools.newdevice import defaults_for

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(p for p in (ROOT / "examples").iterdir() if (p / "config.json").exists())
EXAMPLE_KEY = "00112233445566778899aabbccddeeff" * 2


def test_one_example_per_role():
    assert [p.name for p in EXAMPLES] == ["inlet", "streetlight"]


@pytest.mark.parametrize("folder", EXAMPLES, ids=lambda p: p.name)
def test_example_passes_the_firmware_loader(folder):
    loaded = files.load_all(str(folder) + "/")
    assert loaded["problems"] == []
    assert loaded["config"]["device"]["role"] == folder.name
    assert loaded["secrets"]["cmd"]["key"] == EXAMPLE_KEY
    assert loaded["secrets"]["wifi"]["ssid"].startswith("EXAMPLE")
    reference = ROOT / "boards" / "esp32-devkitc.json"
    assert (folder / "board.json").read_text() == reference.read_text()
    raw = json.loads((folder / "config.json").read_text())
    for sec, fields in defaults_for(folder.name).items():
        missing = set(fields) - set(raw.get(sec, {}))
        assert not missing, f"{folder.name}/config.json lacks {sorted(missing)}: add them"


def test_street_check_says_ok(capsys):
    assert main(["check", str(ROOT / "examples" / "streetlight")]) == 0
    out = capsys.readouterr().out
    assert "board   : ok" in out and "config  : ok" in out and "secrets : ok" in out
