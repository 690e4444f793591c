"""Ring 1: the operator tool's own state and screen: the counter store never hands out a
counter twice (also across runs and two runs at once), keys are found where `street broker
init` and device folders keep them, and every table line fits the width it is given."""

import json
import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from agent import config
from host_tools.fleet import keys, monitor, table
from host_tools.fleet.counters import CounterError, CounterStore
from host_tools.fleet.fleetview import FleetView
from host_tools.upy import ROOT


def test_counters_rise_across_runs_and_follow_the_device(tmp_path):
    first = CounterStore(tmp_path)
    assert [first.next("pole-1") for _ in range(3)] == [1, 2, 3]
    second = CounterStore(tmp_path)  # another run of the tool
    assert second.next("pole-1") == 4 and second.next("bin-1") == 1
    assert second.next("pole-1", floor=10) == 11  # the device said it accepted 10
    assert second.raise_to("pole-1", 20) and not second.raise_to("pole-1", 5)
    assert first.next("pole-1") == 21
    assert json.loads((tmp_path / "ctr-pole-1.json").read_text()) == {"last_ctr": 21}
    assert not list(tmp_path.glob("*.tmp"))


def test_an_unreadable_counter_file_stops_rather_than_restarting_at_one(tmp_path):
    (tmp_path / "ctr-pole-1.json").write_text("{garbage")
    try:
        CounterStore(tmp_path).next("pole-1")
    except CounterError as e:
        assert "ctr-pole-1.json: unreadable" in str(e)
    else:
        raise AssertionError("a broken counter file was taken as 0")


TAKE = ("import sys; from host_tools.fleet.counters import CounterStore; "
        "s = CounterStore(sys.argv[1]); print(' '.join(str(s.next('pole-1')) for _ in range(40)))")


def test_two_tool_runs_at_once_never_share_a_counter(tmp_path):
    runs = [subprocess.Popen([sys.executable, "-c", TAKE, str(tmp_path)], cwd=ROOT,
                             stdout=subprocess.PIPE, text=True) for _ in range(2)]
    got = [int(n) for r in runs for n in r.communicate(timeout=60)[0].split()]
    assert sorted(got) == list(range(1, 81))


def _device_folder(path, dev_id, role, group=""):
    path.mkdir(parents=True)
    cfg = {"device": {"id": dev_id, "role": role, "site": "east"},
           "mqtt": {"host": "h", "prefix": "town", "group": group}}
    if role == "inlet":
        cfg["inlet"] = {"branch": "b7"}
    (path / "config.json").write_text(json.dumps(cfg))
    (path / "secrets.json").write_text(json.dumps({"wifi": {"ssid": "s"},
                                                   "cmd": {"key": "ab" * 32}}))


def test_keys_from_device_folders_and_a_broker_init_folder(tmp_path):
    _device_folder(tmp_path / "fleet" / "p1", "pole-1", "streetlight", "north")
    _device_folder(tmp_path / "fleet" / "b1", "bin-1", "inlet")
    broker = tmp_path / "broker" / "devices" / "pole-9"
    broker.mkdir(parents=True)
    (broker / "secrets.json").write_text(json.dumps({"wifi": {"ssid": "s"},
                                                     "cmd": {"key": "cd" * 32}}))
    known = keys.load([str(tmp_path / "broker"), str(tmp_path / "fleet")])
    assert sorted(known) == ["bin-1", "pole-1", "pole-9"]
    assert known["pole-1"].key == bytes.fromhex("ab" * 32)
    assert known["pole-1"].place() == ("town", "east", "streetlight", "north")
    assert known["bin-1"].place() == ("town", "east", "inlet", "b7")  # the branch by default
    assert known["pole-9"].place() is None and known["pole-9"].key == bytes.fromhex("cd" * 32)
    assert sorted(keys.load([str(tmp_path / "fleet" / "p1")])) == ["pole-1"]
    for bad, said in ((tmp_path / "nowhere", "not a folder"),
                      (tmp_path / "fleet" / "p1" / "..", None)):
        try:
            keys.load([str(bad)])
        except keys.KeysError as e:
            assert said in str(e)
        else:
            assert said is None


ID = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.", min_size=1, max_size=32)
ANY = st.one_of(st.none(), st.booleans(), st.integers(-10**9, 10**9), st.floats(),
                st.text(max_size=40))


def _envelope(fields, ts=1700000000):
    return json.dumps(dict({"v": 1, "seq": 1, "ts": ts}, **fields)).encode()


@st.composite
def fleets(draw):
    view = FleetView("city")
    for dev_id in draw(st.lists(ID, max_size=6, unique=True)):
        kind = draw(st.sampled_from(config.ROLES))
        root = "city/%s/%s/%s/" % (draw(ID), kind, dev_id)
        view.on_message(root + "status", draw(st.sampled_from([b"online", b"offline", b"?"])),
                        True, 0)
        keys_ = ["on", "level", "control", "health", "problems", "light_sensor",
                 "motion_sensor", "photocell_suspect", "day_burner", "fillingLevel", "request",
                 "discharge", "status", "ranger", "safe_mode"]
        state = {k: draw(ANY) for k in draw(st.lists(st.sampled_from(keys_), max_size=10))}
        view.on_message(root + "state", _envelope(state), False, draw(st.floats(0, 1e9)))
    return view


@settings(max_examples=200, deadline=None)
@given(fleets(), st.integers(20, 200), st.floats(0, 2e9))
def test_every_table_line_fits_its_width(view, width, now):
    lines = table.fleet_lines(view, now, width)
    assert len(lines) == 1 + max(1, len(view.devices))
    assert all(len(line) <= max(table.MIN_WIDTH, width) for line in lines), lines


@settings(max_examples=200, deadline=None)
@given(ID, st.sampled_from(["ok", "refused", "timeout"]), st.none() | st.floats(0, 1e4),
       st.text(max_size=300), st.integers(40, 160))
def test_ack_rows_fit_and_keep_the_whole_error(dev, result, latency, detail, width):
    lines = table.ack_lines(table.AckRow(dev, result, latency, detail), width)
    assert all(len(line) <= width for line in lines)
    # Nothing of the error is cut (wrapping moves only where lines break).
    assert "".join("".join(line[35:].split()) for line in lines) == "".join(detail.split())


def test_the_table_at_80_columns():
    view = FleetView("city")
    view.on_message("city/main/streetlight/pole-1/status", b"online", False, 990)
    view.on_message("city/main/streetlight/pole-1/state", _envelope(
        {"on": True, "level": 60.0, "control": "photocell", "health": "ok", "problems": 0,
         "light_sensor": "ok", "motion_sensor": "stuck", "day_burner": False}), False, 995)
    view.on_message("city/main/inlet/bin-1/status", b"offline", True, 990)
    view.on_message("city/main/inlet/bin-1/state", _envelope(
        {"fillingLevel": 0.42, "request": "may", "discharge": "idle", "status": "jammed",
         "ranger": "ok", "safe_mode": True, "health": "safe_mode"}, ts=400), True, 990)
    lines = table.fleet_lines(view, 1000.0, 80)
    assert lines[0].split() == ["DEVICE", "KIND", "LINK", "SEEN", "STATE", "ALARMS"]
    # Retained: seen when the device stamped it, not when the tool subscribed.
    assert lines[1].split() == ["bin-1", "inlet", "offline", "10m", "fill", "42%", "ask", "may",
                                "SAFE-MODE", "jammed"]
    assert lines[2].split() == ["pole-1", "light", "online", "5s", "on", "60%", "photocell",
                                "motion:stuck"]
    assert max(len(line) for line in lines) <= 80


@settings(max_examples=100, deadline=None)
@given(fleets(), st.lists(st.text(max_size=100), max_size=30), st.text(max_size=100),
       st.integers(20, 200), st.integers(1, 60))
def test_the_monitor_screen_fits_the_terminal(view, log, typed, width, height):
    lines = monitor.screen_lines("title", table.fleet_lines(view, 0, width), log, "> " + typed,
                                 width, height)
    assert len(lines) <= max(height, 4 + monitor.MIN_LOG)
    assert all(len(line) <= max(width, table.MIN_WIDTH) for line in lines)
    assert lines[-1] == table.clip("> " + typed, max(width, table.MIN_WIDTH))
