"""The virtual board (host_tools/vboard) against the real mpremote, and a technician's REPL
session over its serial port. Each mpremote call is a process of its own, as a person runs it;
waits are generous ceilings (a busy host costs time, never a failure)."""

import json
import os
import select
import shutil
import subprocess
import sys
import time
import tty
from pathlib import Path

import pytest

from host_tools import chipfit
from host_tools.setup import chipport
from host_tools.upy import FIRMWARE
from host_tools.vboard import VBoard, VBoardError, wire
from host_tools.vboard.wire import ChipOutput

BOOT = 'print("boot ran")\n'
MAIN = 'import machine\nprint("main ran, reset cause", machine.reset_cause())\n'


MPREMOTE_S = 30  # a ceiling: a board that does not answer fails here, with its console


def mpremote(vb: VBoard, *args: str) -> str:
    assert vb.port is not None
    mark = vb.mark()
    cmd = [sys.executable, "-m", "mpremote", "connect", vb.port, *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=MPREMOTE_S)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"mpremote {' '.join(args)}: no end in {MPREMOTE_S} s; it printed "
                    f"{e.stdout!r}; the board sent meanwhile:\n{vb.output(since=mark)[-3000:]}")
    assert proc.returncode == 0, (f"mpremote {' '.join(args)}: {proc.stdout}{proc.stderr}; "
                                  f"the board sent:\n{vb.output(since=mark)[-3000:]}")
    return proc.stdout


class Line:
    """The serial port as a terminal program (mpremote repl) drives it: raw, key by key."""

    def __init__(self, port: str):
        self.fd = os.open(port, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.fd)
        self.seen = b""

    def send(self, keys: bytes) -> None:
        os.write(self.fd, keys)

    def expect(self, text: str, timeout: float = 60) -> str:
        """What came in up to and including `text`; later bytes stay for the next call."""
        deadline = time.monotonic() + timeout
        want = text.encode()
        while want not in self.seen:
            left = deadline - time.monotonic()
            assert left > 0, f"{text!r} never came; got {self.seen.decode(errors='replace')!r}"
            if select.select([self.fd], [], [], min(left, 1))[0]:
                self.seen += os.read(self.fd, 4096)
        i = self.seen.index(want) + len(want)
        got, self.seen = self.seen[:i], self.seen[i:]
        return got.decode(errors="replace")

    def command(self, line: str) -> list[str]:
        """Type a line at the >>> prompt; the lines it printed (its echo left out)."""
        self.send(line.encode() + b"\r")
        got = self.expect("\r\n>>> ")
        lines = got.split("\r\n")
        assert lines[0].endswith(line), lines
        return lines[1:-1]

    def close(self) -> None:
        os.close(self.fd)


@pytest.fixture(scope="module")
def chip():
    return chipport.build()  # once here: each board started below finds it up to date


@pytest.fixture(scope="module")
def board(chip, tmp_path_factory):
    flash = tmp_path_factory.mktemp("flash")
    (flash / "boot.py").write_text(BOOT)
    (flash / "main.py").write_text(MAIN)
    with VBoard(flash) as vb:
        vb.wait_for("main ran")
        yield vb


# ---- the byte stream (no interpreter) ----

def test_the_line_gets_cr_lf_once_even_split_across_reads():
    out = ChipOutput()
    assert out.feed(b"a\nb\r")[0] + out.feed(b"\nc\n")[0] == b"a\r\nb\r\nc\r\n"


def test_the_raw_repl_passes_bytes_as_they_are_until_the_friendly_repl_is_back():
    out = ChipOutput()
    got = b"".join(out.feed(c)[0] for c in (b">>> \r\nraw REPL; CTRL", b"-B to exit\r\n>OK\n\x0a",
                                            b"\r\nType \"help()\" for more information.\r\n1\n"))
    assert got == (b">>> \r\nraw REPL; CTRL-B to exit\r\n>OK\n\n"
                   b"\r\nType \"help()\" for more information.\r\n1\r\n")


def test_a_raw_restart_passes_boot_output_and_types_ctrl_a_for_the_user():
    out = ChipOutput()
    out.restart(raw=True)
    sent = b""
    for chunk in (b"boot ran\n", wire.BOOTED_MARK[:5],
                  wire.BOOTED_MARK[5:] + b"\nMicroPython v1; x\r\nType",
                  b' "help()" for more information.\r\n>', b">> "):
        got, reply = out.feed(chunk)
        sent += got
    assert reply == b"\x01" and out.holding_input
    assert out.feed(b"\r\nraw REPL; CTRL-B to exit\r\n>") == (
        b"raw REPL; CTRL-B to exit\r\n>", b"")
    assert sent == b"boot ran\r\n" and out.raw and not out.holding_input


def test_a_restart_passes_boot_output_at_once_and_is_live_after_the_mark():
    out = ChipOutput()
    out.restart(raw=False)
    assert out.booting and not out.holding_input  # main.py may read what is typed
    assert out.feed(b"main ran\n") == (b"main ran\r\n", b"")  # nothing held back
    assert out.feed(b"spin" + wire.BOOTED_MARK[:4]) == (b"spin", b"")  # maybe the mark
    got, reply = out.feed(wire.BOOTED_MARK[4:] + b"MicroPython v1\n>>> ")
    assert (got, reply) == (b"MicroPython v1\r\n>>> ", b"") and out.live


# ---- mpremote, unchanged, against the board ----

def test_exec_prints_and_the_board_answers_a_deploy_probe(board):
    got = mpremote(board, "exec", "import os, sys, simclock\n"
                   "print('hi', sys.path, os.uname().machine, sys.implementation._mpy)")
    assert got.startswith("hi ['', '.frozen', '") and "/lib']" in got
    assert "vboard (stock image) with ESP32" in got


def test_the_frozen_image_carries_the_agent_and_says_so(chip, tmp_path):
    with VBoard(tmp_path, image="frozen") as vb:
        got = mpremote(vb, "exec", "import os, agent; print(os.uname().machine)")
    assert got.strip() == "vboard (frozen image) with ESP32"


def test_fs_cp_r_lands_on_the_flash_and_ls_shows_sizes(board, tmp_path):
    src = tmp_path / "pkg"
    (src / "sub").mkdir(parents=True)
    files = {"a.py": b"A = 1\n", "sub/b.bin": bytes(range(256)) * 3}
    for name, data in files.items():
        (src / name).write_bytes(data)
    mpremote(board, "fs", "cp", "-r", str(src), ":")
    for name, data in files.items():
        assert (board.flash / "pkg" / name).read_bytes() == data
    assert mpremote(board, "fs", "ls", ":pkg").split()[-4:] == ["6", "a.py", "0", "sub/"]
    assert mpremote(board, "fs", "ls", ":pkg/sub").split()[-2:] == ["768", "b.bin"]


def test_run_a_script(board, tmp_path):
    script = tmp_path / "s.py"
    script.write_text("print(sum(range(10)), 1/3)\n")
    assert mpremote(board, "run", str(script)).split() == ["45", "0.33333334"]  # float32


def test_mip_install_of_a_local_package_lands_in_lib(board, tmp_path):
    (tmp_path / "tinylib.py").write_text("X = 7\n")
    (tmp_path / "package.json").write_text(json.dumps(
        {"urls": [["tinylib.py", "tinylib.py"]], "version": "0.1"}))
    mpremote(board, "mip", "install", str(tmp_path / "package.json"))
    assert (board.flash / "lib" / "tinylib.py").read_text() == "X = 7\n"
    assert mpremote(board, "exec", "import tinylib; print(tinylib.X)").strip() == "7"


def test_reset_runs_main_again_and_soft_reset_runs_boot_only(board):
    mark = board.mark()
    mpremote(board, "reset")
    board.wait_for("main ran, reset cause 2", since=mark)  # machine.HARD_RESET
    mark = board.mark()
    mpremote(board, "soft-reset")
    after = board.output(since=mark)
    assert "MPY: soft reboot\r\nboot ran\r\nraw REPL; CTRL-B to exit\r\n" in after
    assert "main ran" not in after  # a soft reset in the raw REPL: boot.py, not main.py
    mark = board.mark()
    assert mpremote(board, "exec", "import machine; machine.soft_reset()") == ""
    assert "MPY: soft reboot\r\nboot ran\r\nraw REPL" in board.output(since=mark)


def test_the_rtc_survives_resets_and_is_unset_after_power_on(chip, tmp_path):
    year = "import time; print(time.gmtime()[0])"
    with VBoard(tmp_path) as vb:
        assert mpremote(vb, "exec", year).strip() == "1970"  # a chip's RTC starts unset
        mpremote(vb, "exec", "import machine; machine.RTC().datetime((2031,5,6,0,7,8,9,0))")
        assert mpremote(vb, "exec", year).strip() == "2031"  # after mpremote's soft reset
        mpremote(vb, "reset")
        assert mpremote(vb, "exec", year).strip() == "2031"
        vb.stop()
        vb.start()  # power cycle
        assert mpremote(vb, "exec", year).strip() == "1970"
    assert list(tmp_path.iterdir()) == []  # the flash holds only what was put there


def test_heap_free_is_what_the_chip_shows_with_the_boards_heap(chip, tmp_path):
    free = "import gc; gc.collect(); print(gc.mem_free())"
    shutil.copy(FIRMWARE.parent / "boards" / "esp32-devkitc.json", tmp_path / "board.json")
    with VBoard(tmp_path) as vb:  # board.json: memory.gc_heap_kb 112
        on_board = int(mpremote(vb, "exec", free))
    bare = subprocess.run([str(chip["stock"]), "-X", "heapsize=112K", "-c", free],
                          capture_output=True, text=True, check=True).stdout
    assert vb.heap_kb == 112 and abs(on_board - int(bare)) < 4096, (on_board, bare)


def test_errors_are_one_line(tmp_path):
    with pytest.raises(VBoardError, match="no such folder"):
        VBoard(tmp_path / "missing").start()
    with pytest.raises(VBoardError, match="unknown image"):
        VBoard(tmp_path, image="esp8266").start()


# ---- Ctrl-C and a technician's session over the serial line ----

def test_ctrl_c_stops_a_busy_main_and_gives_the_prompt(chip, tmp_path):
    (tmp_path / "main.py").write_text(
        "n = 0\nwhile True:\n    n += 1\n    if n == 1000:\n        print('spinning')\n")
    with VBoard(tmp_path) as vb:
        vb.wait_for("spinning")
        line = Line(vb.port)
        try:
            line.send(b"\x03")
            assert "KeyboardInterrupt" in line.expect("\r\n>>> ")
            assert line.command("print(n >= 1000)") == ["True"]  # it was in the loop
        finally:
            line.close()


def _zombie(pid: int) -> bool:
    with open(f"/proc/{pid}/status") as f:
        return any(line.startswith("State:") and "Z" in line.split()[1] for line in f)


def test_what_is_typed_as_the_board_resets_reaches_the_next_boot(chip, tmp_path):
    """mpremote's next connection may type its Ctrl-C and Ctrl-A while a hard reset ends the
    interpreter (on a busy host the bridge sees the end late). Here the bridge is held at its
    console (its lock) from the reset on, so they come certainly after the old interpreter died
    and before the bridge knew: the Ctrl-C must still interrupt the new main.py (which spins
    for ever) and the raw REPL must answer, as a chip's UART keeps what arrives as it boots."""
    (tmp_path / "main.py").write_text("print('spinning')\nwhile True:\n    pass\n")
    with VBoard(tmp_path) as vb:
        vb.wait_for("spinning")
        line = Line(vb.port)
        try:
            line.send(b"\r\x03")
            line.expect("\r\n>>> ")
            line.send(b"\r\x01")
            line.expect("raw REPL; CTRL-B to exit\r\n>")
            assert vb._proc is not None
            pid = vb._proc.pid
            with vb._lock:  # the bridge stops at the "OK" the raw REPL prints
                line.send(b"import machine; machine.reset()\x04")
                # Until the interpreter has ended, and not reaped (WNOWAIT): the bridge, held
                # at its lock, has not seen it. (A reaped one raises ChildProcessError.)
                os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
                assert _zombie(pid)
                mark = vb.mark()
                line.send(b"\r\x03\r\x01")
            line.expect("raw REPL; CTRL-B to exit\r\n>", timeout=30)
            after = vb.output(since=mark)
            assert after.count("spinning") == 1 and "KeyboardInterrupt" in after, after
            assert vb.restarts == 1  # the hard reset only: nothing ended by a stray signal
        finally:
            line.close()


def device(flash: Path) -> Path:
    """A streetlight as a deploy leaves it: the agent's files, main.py, boot.py, the JSONs."""
    shutil.copytree(FIRMWARE / "agent", flash / "agent",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("main.py", "boot.py"):
        shutil.copy(FIRMWARE / name, flash / name)
    chipfit.device_folder(flash, "streetlight")
    return flash


def test_technician_session_at_the_pole(chip, tmp_path):
    flash = device(tmp_path)
    config = flash / "config.json"
    with VBoard(flash, heap_kb=2000) as vb:  # a board with PSRAM: the agent as source files
        vb.wait_for("agent: up=")  # its first heartbeat: in the loop that Ctrl-C stops
        line = Line(vb.port)
        try:
            line.send(b"\x03")
            assert "agent: stopped by Ctrl-C" in line.expect("\r\n>>> ")
            line.command("import agent.tech as tech")
            status = line.command("tech.status()")
            assert status[0] == "board  : esp32-devkitc", status
            assert "saved" in line.command("tech.set('loop.heartbeat_s', 30)")[0]
            assert json.loads(config.read_text())["loop"]["heartbeat_s"] == 30
            before = {p.name: p.read_bytes() for p in flash.iterdir() if p.is_file()}
            refused = line.command("tech.set('loop.heartbeat_s', 5)")  # below its minimum
            assert len(refused) == 1 and "heartbeat_s" in refused[0], refused
            assert {p.name: p.read_bytes() for p in flash.iterdir() if p.is_file()} == before
            line.send(b"\x04")
            line.expect("MPY: soft reboot\r\n")
            line.expect("agent: board=esp32-devkitc role=streetlight id=fit-1 reset=soft")
        finally:
            line.close()
