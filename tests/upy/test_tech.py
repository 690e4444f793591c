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


def test_set_refuses_an_invalid_change_and_changes_nothing():
    d = device.make("tech2")
    from agent import tech

    before = _config(d)
    try:
        _in(d, lambda: tech.set("loop.heartbeat_s", 5))
        raise AssertionError("accepted heartbeat_s=5")
    except ValueError as e:  # a ConfigError; the class itself is reloaded after a boot's shed
        assert "loop.heartbeat_s: 5 is below the minimum 10" in str(e)
    assert _config(d) == before
    assert "config.json.tmp" not in os.listdir(d)


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
