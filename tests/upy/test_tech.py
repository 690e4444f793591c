# Ring 2: the technician's REPL helpers change config only through the schema, atomically.
import json
import os

import device


def _in(d, fn):
    here = os.getcwd()
    os.chdir(d)
    try:
        return fn()
    finally:
        os.chdir(here)


def _config(d):
    with open(d + "config.json") as f:
        return json.loads(f.read())


def test_set_saves_a_valid_change_and_keeps_a_backup():
    d = device.make("tech")
    from agent import tech

    _in(d, lambda: tech.set("loop.heartbeat_s", 60))
    assert _config(d)["loop"]["heartbeat_s"] == 60
    with open(d + "config.json.bak") as f:
        assert "heartbeat_s" not in f.read()


def _said(fn, d=None):
    """The lines a tech helper printed (it prints through the module's print)."""
    from agent import tech

    lines = []
    tech.print = lambda *a: lines.extend(" ".join(str(x) for x in a).split("\n"))
    try:
        if d is None:
            fn()
        else:
            _in(d, fn)
    finally:
        del tech.print
    return lines


def test_set_refuses_an_invalid_change_with_one_line_and_changes_nothing():
    d = device.make("tech2")
    from agent import tech

    before = sorted(os.listdir(d)), _config(d)
    cases = (("loop.heartbeat_s", 5, "loop.heartbeat_s: 5 is below the minimum 10"),
             ("loop.heartbeat_s", "60", "loop.heartbeat_s: must be an integer, got '60'"),
             ("loop.heartbeat", 60, "loop.heartbeat: unknown field (did you mean "),
             ("heartbeat_s", 60, "name a field 'section.field'"),
             (7, 60, "name a field 'section.field'"),
             ("light.profile", "[[\"17:00\", 100]", "light.profile: must be a list"))
    for field, value, why in cases:
        lines = _said(lambda f=field, v=value: tech.set(f, v), d)
        assert len(lines) == 1 and why in lines[0], (field, value, lines)
        assert lines[0].startswith("not saved: ") and len(lines[0]) <= 80
    assert (sorted(os.listdir(d)), _config(d)) == before


def test_set_on_a_device_whose_config_is_unreadable_says_so_in_one_line():
    d = device.make("tech2b")
    device.write(d + "config.json", "{not json")
    from agent import tech

    lines = _said(lambda: tech.set("loop.heartbeat_s", 60), d)
    assert lines == ["not saved: no usable config.json: config.json: not valid JSON (9 bytes)"], \
        lines
    with open(d + "config.json") as f:
        assert f.read() == "{not json"


def test_safe_mode_round_trip():
    d = device.make("tech3")
    from agent import files, tech

    _in(d, lambda: tech.safe_mode(True))
    assert files.safe_mode(d)
    _in(d, lambda: tech.safe_mode(False))
    assert not files.safe_mode(d)


def test_status_runs_on_a_broken_device():
    d = device.make("tech4", config=None)
    from agent import tech

    _in(d, tech.status)  # prints the problems; must not raise


def test_lamp_and_link_report_on_a_stopped_streetlight():
    d = device.make("tech5")
    device.power_on(d, 5000)  # runs, then the "technician" stops it
    import simworld

    from agent import output, tech

    tech.lamp(50)  # perceived 50 %: on the DALI log curve about 3.2 % of full output
    want = output.perceived_to_output(50, "log") / 100
    assert abs(simworld.pwm_fraction(25) - want) < 0.001  # the lamp pin of esp32-devkitc
    tech.link()  # prints the link state; must not raise


def test_counter_reset_at_the_pole_reaches_the_file_and_the_stopped_agent():
    d = device.make("tech6")
    device.power_on(d, 2000)  # runs, then the "technician" stops it
    from agent import app, files, tech

    _in(d, lambda: tech.counter(41))
    assert files.load_counter(d) == 41 and app.current.comms.verifier.last_ctr == 41
    _in(d, lambda: tech.counter(-1))  # refused with a line, nothing changes
    _in(d, lambda: tech.counter("7"))
    assert files.load_counter(d) == 41
    _in(d, lambda: tech.counter(0))
    assert files.load_counter(d) == 0 and app.current.comms.verifier.last_ctr == 0


def test_every_line_a_helper_prints_fits_80_columns():
    cfg = json.loads(json.dumps(device.STREETLIGHT))
    cfg["mqtt"]["tls"] = True  # without the CA file: a long problem line to wrap
    d = device.make("tech7", config=cfg)
    device.write(d + "crash.txt", "Traceback (most recent call last):\nOSError: " + "x" * 150)
    from agent import files, tech

    files.save_crash({"count": 2, "safe": False, "new": True, "up_s": 31, "where": "run",
                      "line": "OSError: " + "x" * 110})
    lines = []
    for fn in (tech.help, tech.status, tech.show, tech.crashes, tech.clock, tech.counter,
               tech.link, lambda: tech.set("mqtt.host", "h" * 200)):
        lines += _said(fn, d)
    assert len(lines) > 40
    assert [x for x in lines if len(x) > 80] == []
    device.power_on(d, 3000)  # with an agent stopped at the REPL
    lines = []
    for fn in (tech.link, tech.clock, lambda: tech.lamp(500), lambda: tech.override(50, 0)):
        lines += _said(fn, d)
    assert len(lines) >= 5 and [x for x in lines if len(x) > 80] == []


def test_help_lists_the_clock_crash_and_safe_mode_helpers():
    from agent import tech

    text = "\n".join(_said(tech.help))
    for name in ("tech.clock()", "tech.crashes()", "tech.crashes(clear=True)",
                 "tech.safe_mode(True)", "tech.safe_mode(False)", "tech.status()"):
        assert name in text, name


def test_status_shows_the_last_crash_and_safe_mode_under_the_board_line():
    d = device.make("tech8")
    device.write(d + "crash.txt", "Traceback (most recent call last):\nZeroDivisionError: boom\n")
    from agent import files, tech

    files.save_crash({"count": 3, "safe": True, "new": False, "up_s": 12, "where": "run",
                      "line": "ZeroDivisionError: boom"})
    lines = _said(tech.status, d)
    assert lines[0] == "board  : esp32-devkitc"
    assert "crash  : ZeroDivisionError: boom" in lines
    assert any("full text: crash.txt" in x for x in lines), lines
    assert any(x.startswith("safe   : ON by itself: 3 crashes in a row") for x in lines), lines
    files.save_crash({"count": 0, "safe": False, "new": False, "up_s": 0, "where": "",
                      "line": ""})  # a power cut took the record: crash.txt still tells
    lines = _said(tech.status, d)
    assert "crash  : ZeroDivisionError: boom" in lines and "safe   : off" in lines[6], lines


def test_crashes_says_how_many_why_and_clears():
    d = device.make("tech9")
    from agent import files, tech

    files.save_crash({"count": 3, "safe": True, "new": True, "up_s": 40, "where": "build",
                      "line": "ImportError: no module named 'agent.pole'"})
    text = "\n".join(_said(tech.crashes, d))
    assert "crashes: 3 in a row, each within 600 s of boot (safe mode at 3)" in text
    assert "crash  : ImportError: no module named 'agent.pole'" in text
    assert "build, 40 s after boot" in text and "safe   : ON by itself" in text
    assert "not yet sent" in text
    _said(lambda: tech.crashes(clear=True), d)
    rec = files.load_crash()
    assert rec["count"] == 0 and not rec["safe"] and rec["line"].startswith("ImportError")


def _ctrl_c_in(ms):
    import simclock

    def interrupt():
        raise KeyboardInterrupt

    simclock.at_ms(simclock.now_ms() + ms, interrupt)


def test_ctrl_c_during_override_returns_quietly_with_one_line():
    d = device.make("tech10")
    device.power_on(d, 3000)
    from agent import app, tech

    _ctrl_c_in(5000)
    lines = _said(lambda: tech.override(80, 10), d)  # no KeyboardInterrupt escapes
    assert len(lines) == 2 and lines[0].startswith("override 80 % for 600 s"), lines
    assert "stopped by Ctrl-C" in lines[1]
    assert app.current.role_impl.core.state()["level"] > 0  # the lamp is not left dark


def test_ctrl_c_during_ranging_closes_the_valve_and_returns_quietly():
    cfg = {"device": {"id": "bin-2", "role": "inlet", "board": "esp32-devkitc"},
           "mqtt": {"host": "127.0.0.1"}, "inlet": {"branch": "north"}}
    d = device.make("tech11", config=cfg)
    device.power_on(d, 3000)
    import simworld

    from agent import tech

    _ctrl_c_in(5)
    lines = _said(tech.ranger, d)
    assert lines == ["ranging stopped by Ctrl-C; the valve stays closed"], lines
    assert simworld.level(23) == 0  # the valve pin of esp32-devkitc


class _FakeSync:
    def __init__(self, st):
        self.st = st

    def status(self):
        return self.st


def test_clock_says_what_it_knows_before_and_after_time_sync():
    d = device.make("tech12")
    from agent import app, tech

    app.current = None
    lines = _said(tech.clock)
    assert lines == ["clock  : not set (nothing has set it since power-on)",
                     "sync   : no agent has run since boot (Ctrl-D starts it, Ctrl-C stops it)"]
    import simclock

    simclock.set_wall_time(1767225600 + 3723)  # 2026-01-01 01:02:03 UTC
    device.power_on(d, 2000)
    comms = app.current.comms
    had = getattr(comms, "clock", None)
    comms.clock = None  # an agent without time sync (before it lands, or none configured)
    try:
        lines = _said(tech.clock)
        assert lines[0] == "clock  : 2026-01-01 01:02:05 UTC", lines
        assert lines[1] == "sync   : not synced (this agent does not sync its clock)"
        comms.clock = _FakeSync({"synced": True, "age_s": 40, "offset_ms": -12,
                                 "server": "10.0.0.1", "tries": 1, "last_error": ""})
        assert _said(tech.clock)[1] == "sync   : synced with 10.0.0.1, 40 s ago, offset -12 ms"
        comms.clock = _FakeSync({"synced": False, "age_s": None, "offset_ms": None,
                                 "server": "pool.ntp.org", "tries": 3,
                                 "last_error": "timeout"})
        assert _said(tech.clock)[1] == \
            "sync   : not synced: 3 tries with pool.ntp.org, last error: timeout"
    finally:
        comms.clock = had


def test_after_ctrl_c_the_watchdog_is_fed_while_the_technician_works():
    """The ESP32's watchdog cannot be stopped: without a feeder the board would reset under
    the technician wdt_ms after Ctrl-C. A timer feeds it; the REPL stays theirs."""
    import time

    import simclock

    d = device.make("tech12", config={"device": {"id": "pole-12", "role": "streetlight"},
                                      "mqtt": {"host": "127.0.0.1"}, "loop": {"wdt_ms": 2000}})
    from agent import app

    _ctrl_c_in(3000)
    _in(d, app.main)
    assert app.keeper is not None
    t0 = simclock.now_ms()
    time.sleep_ms(60_000)  # a minute at the REPL: a watchdog reset would raise BoardReset
    assert simclock.now_ms() - t0 >= 60_000
    app.keeper.deinit()
