"""The simulated board (host_tools/simboard) under CPython: the shared behaviour cases that
tests/upy/test_simboard.py also runs under MicroPython, plus hypothesis properties against
CPython's own calendar and the LEDC/ranger arithmetic."""

import os
import subprocess
import sys
import time as realtime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

UPY = Path(__file__).resolve().parent.parent / "upy"
sys.path.insert(0, str(UPY))  # simboard_cases is shared with the MicroPython ring

import machine  # noqa: E402  (the simulated one: conftest puts host_tools/simboard first)
import simboard_cases  # noqa: E402
import simclock  # noqa: E402
import simtime  # noqa: E402
import simworld  # noqa: E402

from tests import shared_cases  # noqa: E402


@pytest.fixture(autouse=True)
def pristine_board():
    simclock.reset()
    yield
    simclock.reset()


@pytest.mark.parametrize("name", shared_cases.names(simboard_cases))
def test_case(name, tmp_path):
    shared_cases.run(simboard_cases, name, tmp_path)


def test_machine_is_the_simulated_one():
    assert Path(machine.__file__).parent.name == "simboard"
    assert realtime.sleep is not simtime.sleep


# ---- time arithmetic ----

TICKS = st.integers(0, (1 << 30) - 1)
DELTA = st.integers(-(1 << 29), (1 << 29) - 1)


@given(TICKS, DELTA)
def test_ticks_diff_inverts_ticks_add(a, d):
    b = simtime.ticks_add(a, d)
    assert 0 <= b < simtime.TICKS_PERIOD
    assert simtime.ticks_diff(b, a) == d
    assert simtime.ticks_diff(a, b) == (-d if d != -(1 << 29) else -(1 << 29))


# Years 1..9999: CPython's calendar range.
EPOCHS = st.integers(-62135596800, 253402300799)


@given(EPOCHS)
def test_gmtime_matches_cpython(secs):
    t = realtime.gmtime(secs)
    expect = (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, t.tm_wday,
              t.tm_yday)
    assert simtime.gmtime(secs) == expect
    assert simtime.mktime(expect) == secs


@given(EPOCHS, st.integers(-30, 30), st.integers(-400, 400), st.integers(-100000, 100000))
def test_mktime_normalises_like_adding_durations(secs, dmonth, dday, dsec):
    # Day and second overflow are plain additions on top of the normalised month.
    y, mo, d, h, mi, s = simtime.gmtime(secs)[:6]
    base = simtime.mktime((y, mo + dmonth, 1, 0, 0, 0, 0, 0))
    t = simtime.mktime((y, mo + dmonth, d + dday, h, mi, s + dsec, 0, 0))
    assert t == base + (d - 1 + dday) * 86400 + h * 3600 + mi * 60 + s + dsec
    yy, mm = divmod(mo - 1 + dmonth, 12)
    assert simtime.gmtime(base)[:3] == (y + yy, mm + 1, 1)


@given(st.integers(0, 10**10), st.integers(0, 10**7))
def test_rtc_datetime_round_trip(epoch, extra_us):
    simclock.reset()
    rtc = machine.RTC()
    simclock.set_wall_time(epoch)
    dt = rtc.datetime()
    simclock.advance_us(extra_us)
    rtc.datetime(dt)
    assert simclock.wall_us() == epoch * 1_000_000


# ---- PWM quantisation ----

@given(st.integers(1, 40_000_000), st.integers(0, 65535), st.booleans())
@settings(max_examples=300)
def test_pwm_fraction_is_the_duty_to_within_one_step(freq, duty, invert):
    simclock.reset()
    p = machine.PWM(machine.Pin(13), freq=freq, duty_u16=duty, invert=invert)
    bits = 16
    while 80_000_000 // freq < (1 << bits):
        bits -= 1
    frac = simworld.pwm_fraction(13)
    want = duty / 65535
    if invert:
        want = 1 - want
    assert abs(frac - want) <= 0.5 / (1 << bits) + 1e-12
    assert round(frac * (1 << bits)) == frac * (1 << bits)  # a whole number of steps
    # reading the duty back and writing it again changes nothing
    p.duty_u16(p.duty_u16())
    assert simworld.pwm_fraction(13) == frac


# ---- ADC ----

@given(st.sampled_from([0, 1, 2, 3]), st.floats(0, 4000), st.floats(0, 4000))
def test_adc_reading_is_monotonic_in_voltage(atten, mv1, mv2):
    simclock.reset()
    a = machine.ADC(machine.Pin(36), atten=atten)
    simworld.set_adc_mv(36, min(mv1, mv2))
    lo = a.read_u16()
    simworld.set_adc_mv(36, max(mv1, mv2))
    assert lo <= a.read_u16() <= 65535


# ---- ranger ----

@given(st.floats(0.02, 4.0))
def test_ultrasonic_width_gives_back_the_distance(d):
    simclock.reset()
    simworld.ultrasonic(trig=5, echo=18, distance_m=d)
    trig = machine.Pin(5, machine.Pin.OUT, value=0)
    trig.on()
    simtime.sleep_us(10)
    trig.off()
    w = machine.time_pulse_us(machine.Pin(18, machine.Pin.IN), 1, 30_000)
    assert abs(w * 343 / 2_000_000 - d) < 0.0002  # 1 us of sound is 0.17 mm


# ---- pacing: against a host clock the test drives ----
#
# How fast the simulator runs is the host's business: `make bench` (simboard lines) times a
# virtual night and a paced sleep. What the simulator controls, and what is asserted here, is
# the real time it asks the host for (sleeps, in seconds) and how it maps the host's clock
# onto the board's: checked against a stand-in host clock, so a busy machine cannot fail them.


class HostClock:
    """Stands in for host_tools/simboard/realclock.py: time passes only when slept or moved."""

    def __init__(self):
        self.ns = 10**12
        self.slept = []  # seconds, per sleep the simulator asked for

    def time_ns(self):
        return self.ns

    def sleep(self, s):
        self.slept.append(s)
        self.ns += int(s * 1e9)


@pytest.fixture
def host(monkeypatch):
    clock = HostClock()
    monkeypatch.setattr(simclock, "_real", clock)  # set_pace keeps the host clock it found
    simclock.reset()
    yield clock
    simclock.reset()


def test_unpaced_virtual_time_never_waits_for_the_host(host):
    for _ in range(86400):
        simtime.sleep_ms(1000)
    simtime.sleep(3600)
    assert simclock.now_us() == (86400 + 3600) * 1_000_000
    assert host.slept == []


def test_a_simulated_night_under_micropython_reaches_its_exact_end():
    from host_tools.upy import micropython_env, micropython_exe

    script = (
        "import time, simclock\n"
        "for _ in range(86400):\n"
        "    time.sleep_ms(1000)\n"
        "print(simclock.now_us())\n"
    )
    out = subprocess.run([micropython_exe(), "-c", script], env=micropython_env(),
                         capture_output=True, text=True, timeout=120, cwd=os.getcwd())
    assert out.stdout.strip() == str(86400 * 1_000_000), out.stdout + out.stderr


def test_pace_makes_virtual_sleeps_take_real_time(host):
    seen = []
    simclock.at_ms(100, lambda: seen.append(host.ns))
    simclock.set_pace(1.0)
    t0 = host.ns
    simtime.sleep_ms(300)
    assert abs(sum(host.slept) - 0.3) < 1e-6, host.slept  # 300 ms of board time, 0.3 s real
    assert seen == [t0 + 100_000_000]  # the event waited for its own real moment
    simclock.set_pace(0)
    host.slept.clear()
    simtime.sleep(3600)
    assert host.slept == []


def test_pace_under_micropython():
    from host_tools.upy import micropython_env, micropython_exe

    script = (
        "import sys\n"
        "class Host:\n"
        "    ns = 10 ** 12\n"
        "    slept = 0.0\n"
        "    def time_ns(self):\n"
        "        return Host.ns\n"
        "    def sleep(self, s):\n"
        "        Host.slept += s\n"
        "        Host.ns += int(s * 1e9)\n"
        "sys.modules['realclock'] = Host()\n"
        "import time, simclock\n"
        "simclock.set_pace(0.5)\n"
        "time.sleep_ms(600)\n"
        "print(Host.slept, simclock.now_us())\n"
    )
    out = subprocess.run([micropython_exe(), "-c", script], env=micropython_env(),
                         capture_output=True, text=True, timeout=60, cwd=os.getcwd())
    assert out.returncode == 0, out.stdout + out.stderr
    slept, now_us = out.stdout.split()
    assert abs(float(slept) - 0.3) < 1e-6 and int(now_us) == 600_000, out.stdout


def test_paced_clock_counts_real_time_spent_outside_sleeps(host):
    """Against a real broker a blocking socket call takes real time: the paced board must see
    it (loop timing, watchdog), not only the time spent in sleeps."""
    simclock.set_pace(1.0)
    t0 = simtime.ticks_ms()
    host.ns += 120_000_000  # 0.12 s of host time outside a board sleep: e.g. a socket read
    assert simtime.ticks_diff(simtime.ticks_ms(), t0) == 120
    simtime.sleep_ms(50)
    assert simtime.ticks_diff(simtime.ticks_ms(), t0) == 170
    assert abs(sum(host.slept) - 0.05) < 1e-6
