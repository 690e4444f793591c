# Ring 2: crashes soon after boot are counted across resets (RTC memory); after crash.limit of
# them the device starts in safe mode by itself, lamp at its fail-safe level, valve closed,
# link reporting; a stable run, a technician or an operator's restart ends it.
import json
import os

import device
import machine
import simclock
import simworld

from agent import app, crashloop, files, output

LAMP, VALVE = 25, 23  # boards/esp32-devkitc.json
INLET = {"device": {"id": "bin-1", "role": "inlet", "board": "esp32-devkitc"},
         "mqtt": {"host": "127.0.0.1"}, "inlet": {"branch": "north"}}


def _config(**crash):
    cfg = json.loads(json.dumps(device.STREETLIGHT))
    cfg["crash"] = crash
    return cfg


def _boot_for(d, ms):
    """Power on and pull the plug ms later (world time runs on across resets)."""
    return device.power_on(d, simclock.now_ms() + ms)


def _crashing_heartbeat(after_ms):
    real = app.Agent._heartbeat

    def broken(self, now_ms):
        if self.up.at(now_ms) > after_ms:
            raise ZeroDivisionError("boom")
        return real(self, now_ms)

    app.Agent._heartbeat = broken
    return real


def _preset(**fields):
    rec = crashloop.empty()
    rec.update(fields)
    files.save_crash(rec)


def _in(d, fn):
    here = os.getcwd()
    os.chdir(d)
    try:
        return fn()
    finally:
        os.chdir(here)


def test_three_early_crashes_put_a_streetlight_in_safe_mode_with_the_lamp_at_fail_safe():
    d = device.make("loop", config=_config(window_s=600))
    real = _crashing_heartbeat(1000)  # the first heartbeat after boot: 300 s of uptime
    try:
        for n in (1, 2, 3):
            reset = _boot_for(d, 3600 * 1000)
            assert reset is not None and reset.cause == machine.HARD_RESET
            rec = files.load_crash()
            assert rec["count"] == n and rec["safe"] == (n == 3), rec
            assert rec["line"] == "ZeroDivisionError: boom" and rec["where"] == "run"
    finally:
        app.Agent._heartbeat = real
    assert _boot_for(d, 600 * 1000) is None  # no crash, no reset: it stays up, safely
    agent = app.current
    assert agent.safe and agent.role_impl is None
    want = output.perceived_to_output(100, "log") / 100  # light.failure_level_pct
    assert simworld.pwm_fraction(LAMP) == want == 1.0
    assert [f for _, f in simworld.pwm_fraction_history(LAMP)][-1:] == [1.0]
    assert simclock.wdt_deadline_us() is None  # no watchdog to reset a safe device
    st = agent.state()
    assert st["health"] == "safe_mode" and st["safe_mode"] is True
    assert st["crash"] == "ZeroDivisionError: boom" and st["crashes"] == 3
    assert agent.diag_more() == {"safe_mode": True, "crashes": 3,
                                 "last_crash": "ZeroDivisionError: boom"}
    with open(d + "crash.txt") as f:
        assert "ZeroDivisionError: boom" in f.read()


def test_safe_mode_on_an_inlet_keeps_the_valve_closed():
    d = device.make("loopbin", config=INLET)
    _preset(count=3, safe=True, line="MemoryError: memory allocation failed")
    assert _boot_for(d, 120 * 1000) is None
    assert app.current.safe and app.current.role_impl is None
    assert [lv for _, lv in simworld.pin_history(VALVE)] == [0]  # driven closed, never moved
    assert simworld.pin_mode(LAMP) is None  # an inlet's board pin for a lamp is left alone


def test_a_late_crash_is_reported_but_not_counted():
    d = device.make("late", config=_config(window_s=60))
    real = _crashing_heartbeat(1000)  # at 300 s: after the 60 s window
    try:
        _boot_for(d, 3600 * 1000)
    finally:
        app.Agent._heartbeat = real
    rec = files.load_crash()
    assert rec["count"] == 0 and rec["new"] and rec["up_s"] == 300, rec


def test_a_crash_while_the_agent_is_built_is_recorded_and_restarts():
    d = device.make("build")
    real = app.Agent._make_comms

    def no_memory(self, now_ms):
        raise MemoryError("memory allocation failed, allocating 4096 bytes")

    app.Agent._make_comms = no_memory
    try:
        reset = _boot_for(d, 60000)
    finally:
        app.Agent._make_comms = real
    assert reset is not None and reset.cause == machine.HARD_RESET
    rec = files.load_crash()
    assert rec["where"] == "build" and rec["count"] == 1 and rec["new"], rec
    assert rec["line"].startswith("MemoryError: memory allocation failed")
    with open(d + "crash.txt") as f:
        assert "MemoryError" in f.read()


def test_a_missing_role_module_is_a_build_crash_too():
    d = device.make("badmod")
    saved = app.ROLE_MODULES["streetlight"]
    app.ROLE_MODULES["streetlight"] = saved + ("agent.no_such_module",)
    try:
        reset = _boot_for(d, 60000)
    finally:
        app.ROLE_MODULES["streetlight"] = saved
    assert reset is not None
    rec = files.load_crash()
    assert rec["where"] == "build" and rec["line"].startswith("ImportError"), rec


def test_a_stable_run_clears_the_count_and_only_then():
    d = device.make("stable", config=_config(stable_s=60))
    _preset(count=2, line="ZeroDivisionError: boom")
    assert _boot_for(d, 59 * 1000) is None
    assert files.load_crash()["count"] == 2  # not yet
    assert _boot_for(d, 61 * 1000) is None
    rec = files.load_crash()
    assert rec["count"] == 0 and not rec["safe"] and rec["line"] == "ZeroDivisionError: boom"


def test_the_technician_clears_safe_mode_and_the_next_boot_is_normal():
    d = device.make("clear")
    _preset(count=3, safe=True, line="ZeroDivisionError: boom")
    from agent import tech

    tech.print = lambda *a: None
    try:
        _in(d, tech.crashes)
        _in(d, lambda: tech.crashes(clear=True))
    finally:
        del tech.print
    rec = files.load_crash()
    assert rec["count"] == 0 and not rec["safe"]
    assert _boot_for(d, 5000) is None
    assert not app.current.safe and app.current.role_impl is not None


def test_safe_mode_false_also_ends_a_crash_loops_safe_mode():
    d = device.make("clear2")
    _preset(count=3, safe=True)
    from agent import tech

    tech.print = lambda *a: None
    try:
        _in(d, lambda: tech.safe_mode(False))
    finally:
        del tech.print
    assert not files.load_crash()["safe"]


def test_an_operator_restart_gives_a_safe_device_one_more_try():
    d = device.make("retry")
    _preset(count=3, safe=True)
    simclock.at_ms(simclock.now_ms() + 5000, lambda: app.current.restart_in(10))
    reset = _boot_for(d, 60000)
    assert reset is not None and reset.cause == machine.HARD_RESET
    rec = files.load_crash()
    assert not rec["safe"] and rec["count"] == 2  # one more early crash: safe mode again


def test_a_crash_in_safe_mode_leaves_the_repl_and_the_lamp_lit():
    d = device.make("safecrash")
    _preset(count=3, safe=True)
    real = _crashing_heartbeat(1000)
    simclock.at_ms(simclock.now_ms() + 3600 * 1000, device._pull_plug)
    try:
        agent = _in(d, app.main)  # returns: no reset, the REPL is the technician's
    finally:
        app.Agent._heartbeat = real
    assert agent is not None and agent.safe
    assert simworld.pwm_fraction(LAMP) == 1.0
    assert files.load_crash()["where"] == "safe"


def test_the_crash_is_published_once_not_at_every_reconnect():
    d = device.make("publish")
    _preset(count=1, new=True, up_s=12, where="run", line="ZeroDivisionError: boom")
    assert _boot_for(d, 5000) is None
    agent = app.current
    sent = []
    agent.comms.link.send_event = lambda topic, payload: sent.append(json.loads(payload))
    now = simclock.now_ms()
    for _ in range(3):  # the link comes up, drops, comes up again...
        agent.comms._on_up(now)
    crashes = [e for e in sent if e.get("event") == "crash"]
    assert len(crashes) == 1, sent
    assert crashes[0]["line"] == "ZeroDivisionError: boom" and crashes[0]["up_s"] == 12
    assert not files.load_crash()["new"]  # the next boot does not publish it again
