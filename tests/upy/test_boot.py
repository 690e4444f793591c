# Ring 2: the firmware skeleton boots through boot.py and main.py on the simulated board and
# lives on virtual time; faults (bad files, a stalled loop, a crash) end where they should.
import json
import os

import device
import machine
import simclock
import simworld

DAY_MS = 24 * 3600 * 1000
LED = 13  # status_led of boards/esp32-devkitc.json


def _rises(history):
    return sum(1 for i in range(1, len(history)) if history[i][1] > history[i - 1][1])


def test_runs_24_simulated_hours():
    d = device.make("day")
    assert device.power_on(d, DAY_MS) is None  # no reset in a whole day
    from agent import app

    agent = app.current
    assert simclock.now_ms() == DAY_MS
    assert not agent.degraded and agent.loaded["problems"] == []
    assert 288 <= agent.heartbeats <= 289  # every 300 s
    # The loop slept between deadlines (the lamp's control step is the most frequent task,
    # once a second on a quiet day), not a busy loop.
    assert agent.ticks < 3 * DAY_MS // 1000, agent.ticks
    blinks = _rises(simworld.pin_history(LED))
    assert 43100 <= blinks <= 43201, blinks  # a short blink every 2 s all day
    assert simclock.wdt_deadline_us() > simclock.now_us()  # the watchdog is fed
    assert "crash.txt" not in os.listdir(d)


def test_a_stalled_loop_is_reset_by_the_watchdog():
    d = device.make("stall")
    from agent import sched

    real = sched.Scheduler.run_due

    def stall_after_an_hour(self, now_ms):
        if simclock.now_ms() > 3600 * 1000:
            import time
            time.sleep_ms(60000)  # stuck: e.g. a blocking call that never returns
        return real(self, now_ms)

    sched.Scheduler.run_due = stall_after_an_hour
    try:
        reset = device.power_on(d, DAY_MS)
    finally:
        sched.Scheduler.run_due = real
    assert reset is not None and reset.cause == machine.WDT_RESET
    assert 3600 * 1000 < simclock.now_ms() <= 3600 * 1000 + 8000 + 2100  # within its timeout
    # The next boot knows why it restarted.
    assert machine.reset_cause() == machine.WDT_RESET


def test_broken_config_runs_on_the_last_good_one_and_flashes():
    d = device.make("broken")
    good = json.dumps(device.STREETLIGHT)
    device.write(d + "config.json.bak", good)
    device.write(d + "config.json", good[:20])  # a hand edit cut short
    assert device.power_on(d, 60000) is None
    from agent import app

    agent = app.current
    assert agent.cfg["device"]["id"] == "pole-1"
    assert agent.loaded["config_source"] == "config.json.bak"  # cwd is the device
    assert agent.degraded
    assert "config.json: not valid JSON" in agent.loaded["problems"][0]
    # 4 Hz flash instead of the healthy 2 s blink: about 240 rises in a minute.
    assert _rises(simworld.pin_history(LED)) >= 200
    with open(d + "config.json") as f:  # nothing lost: the broken file is left as it was
        assert f.read() == good[:20]


def test_no_config_at_all_still_runs_and_says_why():
    d = device.make("empty", config=None)
    assert device.power_on(d, 10000) is None
    from agent import app

    agent = app.current
    assert agent.cfg is None and agent.degraded
    assert any("config.json: missing" in p for p in agent.loaded["problems"])
    assert simclock.wdt_deadline_us() is None  # no watchdog without a config to size it


def test_config_for_another_board_is_flagged():
    cfg = json.loads(json.dumps(device.STREETLIGHT))
    cfg["device"]["board"] = "esp32-s3-devkitc-1"
    d = device.make("wrongboard", config=cfg)
    device.power_on(d, 5000)
    from agent import app

    assert app.current.degraded
    assert app.current.loaded["problems"] == [
        "config.json: device.board is 'esp32-s3-devkitc-1' but board.json is 'esp32-devkitc'"]


def test_a_crash_is_recorded_and_the_board_restarts():
    d = device.make("crash")
    from agent import app

    real = app.Agent._heartbeat

    def broken(self, now_ms):
        if now_ms > 1000:
            raise ZeroDivisionError("boom")
        return real(self, now_ms)

    app.Agent._heartbeat = broken
    try:
        reset = device.power_on(d, DAY_MS)
    finally:
        app.Agent._heartbeat = real
    assert reset is not None and reset.cause == machine.HARD_RESET
    with open(d + "crash.txt") as f:
        assert "ZeroDivisionError: boom" in f.read()


def test_safe_mode_leaves_the_repl_free():
    d = device.make("safe")
    device.write(d + "safemode", "")
    here = os.getcwd()
    os.chdir(d)
    try:
        from agent import app

        assert app.main() is None
    finally:
        os.chdir(here)
    assert simworld.pin_mode(LED) is None and simclock.now_ms() == 0  # nothing touched


def test_uptime_and_the_envelope_count_on_past_the_ticks_half_period():
    """ticks_diff alone turns negative after 2**29 ms (6.2 days): a device whose clock was never
    set would then publish a negative "up" in every message, and report a negative uptime."""
    from agent.sched import TICKS_PERIOD, Uptime

    half = TICKS_PERIOD // 2
    up = Uptime(5)
    t = 5
    for _ in range(200):  # 200 steps of a day: about 7 periods of the ticks
        t = (t + 86400000) % TICKS_PERIOD
        up.at(t)
    assert up.ms == 200 * 86400000 > half
