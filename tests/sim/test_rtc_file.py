"""The simulated RTC keeps its clock through SIMBOARD_RTC_FILE (host_tools/simboard/machine.py),
as a virtual board that restarts its interpreter on a soft reset relies on: set, it writes the
wall clock's offset from the host's real clock (decimal seconds); at import it reads it back.
Each boot is a fresh interpreter (MicroPython's unix port and CPython), with the host clock
held still at a value the test chooses, so every figure is exact."""

import os
import subprocess
import sys

import pytest

from host_tools.upy import SIMBOARD, micropython_env, micropython_exe

REAL_NS = 1_800_000_000_123_456_789  # the host's clock as this test holds it

BOOT = """
import realclock
realclock.time_ns = lambda: {real_ns}
import machine, simclock
print("wall_us", simclock.wall_us())
if {set_it}:
    machine.RTC().datetime((2026, 3, 1, 6, 12, 0, 0, 250000))
    print("wall_us", simclock.wall_us())
"""


def boot(runtime, rtc_file, real_ns=REAL_NS, set_it=False):
    code = BOOT.format(real_ns=real_ns, set_it=set_it)
    if runtime == "micropython":
        env, cmd = micropython_env(), [micropython_exe(), "-c", code]
    else:
        env, cmd = dict(os.environ, PYTHONPATH=str(SIMBOARD)), [sys.executable, "-c", code]
    if rtc_file is None:
        env.pop("SIMBOARD_RTC_FILE", None)
    else:
        env["SIMBOARD_RTC_FILE"] = str(rtc_file)
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout, [int(line.split()[1]) for line in out.stdout.splitlines()
                        if line.startswith("wall_us")]


SET_US = 1772366400_250000  # 2026-03-01 12:00:00.25 UTC, what the RTC is set to


@pytest.mark.parametrize("runtime", ["micropython", "cpython"])
def test_the_clock_survives_a_restart_of_the_interpreter(runtime, tmp_path):
    f = tmp_path / "rtc"
    _, walls = boot(runtime, f, set_it=True)
    assert walls == [0, SET_US]  # no file: never set, the epoch
    off_us = SET_US - REAL_NS // 1000
    assert f.read_text() == "-27633599.873456\n" and off_us == -27633599_873456
    assert not (tmp_path / "rtc.tmp").exists()
    # Booted again ten seconds of host time later: the clock went on with the host's.
    _, walls = boot(runtime, f, real_ns=REAL_NS + 10 * 10**9)
    assert walls == [SET_US + 10_000_000]


@pytest.mark.parametrize("runtime", ["micropython", "cpython"])
def test_a_positive_offset_and_a_file_without_fraction(runtime, tmp_path):
    f = tmp_path / "rtc"
    f.write_text("42\n")
    _, walls = boot(runtime, f)
    assert walls == [REAL_NS // 1000 + 42_000_000]


def test_an_unreadable_file_says_so_in_one_line_and_leaves_the_clock_unset(tmp_path):
    f = tmp_path / "rtc"
    f.write_text("soon\n")
    out, walls = boot("micropython", f)
    assert walls == [0]
    assert "is not a number of seconds; the clock stays unset" in out


def test_without_the_variable_nothing_is_written(tmp_path):
    _, walls = boot("micropython", None, set_it=True)
    assert walls == [0, SET_US] and list(tmp_path.iterdir()) == []


MEM = """
import machine
print("mem", machine.RTC().memory())
machine.RTC().memory(b"crashes:2")
"""


@pytest.mark.parametrize("runtime", ["micropython", "cpython"])
def test_rtc_memory_survives_a_restart_of_the_interpreter(runtime, tmp_path):
    """The crash-loop count lives in RTC memory: a virtual board's soft reset must keep it."""
    f = tmp_path / "rtc"
    if runtime == "micropython":
        env, cmd = micropython_env(), [micropython_exe(), "-c", MEM]
    else:
        env, cmd = dict(os.environ, PYTHONPATH=str(SIMBOARD)), [sys.executable, "-c", MEM]
    env["SIMBOARD_RTC_FILE"] = str(f)
    outs = [subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60).stdout
            for _ in range(2)]
    assert outs == ["mem b''\n", "mem b'crashes:2'\n"]
    assert (tmp_path / "rtc.mem").read_bytes() == b"crashes:2"
    assert not f.exists()  # the clock was never set
