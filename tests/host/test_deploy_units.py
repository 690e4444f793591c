"""The deploy tool's parts that need no board: reading the probe, choosing the compiler, the
plan, the checks against a board, progress, and the one-line port errors."""

import io
import json
import os
import pty
import tty
from pathlib import Path

import pytest
import serial

from host_tools import chipfit
from host_tools.cli import main
from host_tools.deploy import abi, verify
from host_tools.deploy.link import DeployError, Link
from host_tools.deploy.plan import Item, OnBoard, make_plan
from host_tools.deploy.probe import BoardInfo, chip_of, parse
from host_tools.deploy.progress import Progress

ROOT = Path(__file__).resolve().parents[2]
BOARD = json.loads((ROOT / "boards" / "esp32-devkitc.json").read_text())
MPY_63_XTENSAWIN = 6 | 3 << 8 | 10 << 10


def info(machine="Generic ESP32 module with ESP32", free_kb=100, frozen=False,
         mpy=MPY_63_XTENSAWIN, version=(1, 28, 0)):
    return BoardInfo(version, mpy, machine, free_kb * 1024, frozen)


def test_probe_answer_and_chip_names():
    i = parse(b"((1, 24, 1), 2822, 'Generic ESP32S3 module with ESP32S3', 8000000, 1)\r\n")
    assert (i.version, i.mpy_version, i.chip, i.frozen_agent) == ((1, 24, 1), (6, 3), "esp32s3",
                                                                  True)
    assert chip_of("ESP32C3 module with ESP32C3") == "esp32c3"
    assert chip_of("Generic ESP32 module with ESP32") == "esp32"
    assert chip_of("Raspberry Pi Pico with RP2040") is None
    assert info(machine="VIRTUAL").chip is None and "virtual board" in info("VIRTUAL").describe()
    assert info().arch == "xtensawin"
    with pytest.raises(ValueError):
        parse(b"Traceback (most recent call last):")


def test_compiler_per_mpy_sub_version(tmp_path):
    newest = abi.compiler_for(info())
    older = abi.compiler_for(info(mpy=6 | 2 << 8, version=(1, 22, 2)))
    assert newest != older and "v1.22.0" in str(older)
    src = tmp_path / "m.py"
    src.write_text("x = 1\n")
    abi.compile_file(older, src, tmp_path / "m.mpy")
    assert (tmp_path / "m.mpy").read_bytes()[:2] == b"M\x06"
    for mpy, says in ((5, "flash MicroPython 1.19 or newer"), (7, "emits v7"), (0, "report")):
        with pytest.raises(abi.AbiError, match=says):
            abi.compiler_for(info(mpy=mpy))


def test_plan_copies_what_differs_and_removes_stale_agent_files():
    items = [Item("agent/app.mpy", b"new"), Item("agent/sched.mpy", b"same"),
             Item("main.py", b"m"), Item("config.json", b"{}")]
    board = OnBoard({"agent/app.mpy": "old", "agent/sched.mpy": Item("x", b"same").sha256,
                     "main.py": None, "config.json": Item("x", b"{}").sha256},
                    ["app.mpy", "sched.mpy", "app.py", "gone.mpy"],
                    ["agent", "main.py.new", "config.json.tmp", "notes.txt"])
    p = make_plan(items, board)
    assert [i.path for i in p.changed] == ["agent/app.mpy", "main.py"]
    assert sorted(p.stale) == ["agent/app.py", "agent/gone.mpy", "main.py.new"]
    assert p.unchanged == 2 and p.bytes_to_copy == 4
    assert (items[0].staged, items[3].staged) == ("agent/app.mpy.new", "config.json.tmp")
    # Frozen image: no agent files meant, so the whole agent folder goes.
    frozen = make_plan(items[2:], board)
    assert frozen.remove_agent_dir and "agent/sched.mpy" in frozen.stale


@pytest.mark.parametrize("board_mem, kind_frozen, free_kb, machine, says", [
    ({"psram": False, "gc_heap_kb": 112}, False, 100, None,
     f"needs about {chipfit.NEED_KB[('streetlight', 'mpy')]} KB"),
    ({"psram": False, "gc_heap_kb": 112}, True, 50, None, None),  # the heap grows on the chip
    ({"psram": True, "gc_heap_kb": 4000}, False, 110, None, "no PSRAM in use"),
    ({"psram": True, "gc_heap_kb": 4000}, False, 100, "VIRTUAL", "the board reports 100 KB"),
    ({"psram": True, "gc_heap_kb": 4000}, False, 4000, "Generic ESP32S3 module with ESP32S3",
     "does not fit this chip"),
    ({"psram": True, "gc_heap_kb": 4000}, False, 4000, None, None),
])
def test_checks_against_the_board(board_mem, kind_frozen, free_kb, machine, says):
    board = dict(BOARD, memory=board_mem)
    found = verify.check_against_board(
        board, "streetlight",
        info(machine=machine or "Generic ESP32 module with ESP32", free_kb=free_kb,
             frozen=kind_frozen))
    if says is None:
        assert found == []
    else:
        assert len(found) == 1 and says in found[0] and "\n" not in found[0]


def test_progress_plain_lines_when_not_a_terminal():
    out = io.StringIO()
    p = Progress(2, 300, out=out)
    for name, size in (("agent/a.mpy", 200), ("config.json", 100)):
        p.start_file(name, size)
        p.add_bytes(size)
        p.end_file()
    p.close()
    assert out.getvalue().splitlines() == ["  copied agent/a.mpy (200 B) [1/2]",
                                           "  copied config.json (100 B) [2/2]"]
    bar = io.StringIO()
    p = Progress(1, 100, out=bar, tty=True)
    p.start_file("x", 100)
    p.add_bytes(100)
    p.end_file()
    assert "\r[########################] 1/1 files" in bar.getvalue()


def test_no_such_port():
    with pytest.raises(DeployError, match=r"^no such port: /dev/ttyUSB-none \(serial ports"):
        Link("/dev/ttyUSB-none")


def test_port_busy_and_not_a_micropython_board():
    master, slave = pty.openpty()
    tty.setraw(slave)
    name = os.ttyname(slave)
    try:
        holder = serial.Serial(name, exclusive=True)  # as another mpremote would hold it
        with pytest.raises(DeployError, match=r"^port busy: "):
            Link(name)
        holder.close()
        with pytest.raises(DeployError, match=r"^not a MicroPython board: "):
            Link(name, timeout_s=0.5)  # nobody answers on the other side
    finally:
        os.close(master)
        os.close(slave)


def test_a_bad_folder_is_refused_before_the_port_is_opened(tmp_path, capsys):
    d = tmp_path / "dev"
    d.mkdir()
    (d / "board.json").write_text((ROOT / "boards" / "esp32-devkitc.json").read_text())
    (d / "config.json").write_text(json.dumps({"device": {"id": "x", "role": "lamp"}}))
    assert main(["deploy", "/dev/ttyUSB-none", str(d)]) == 2
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "nothing was written"
    assert all(line.startswith("error: ") for line in out[:-1]) and len(out) >= 2
    assert not any("no such port" in line for line in out)
