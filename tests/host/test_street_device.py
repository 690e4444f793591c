"""The street's stimuli reach a real agent on the simulated board (MicroPython, no broker):
a motion pulse in stimuli.json makes the pole boost, a deposit raises the inlet's bin, and
the history the board writes is what the accounting reads. Unpaced (pace=0): every time
here is the board's virtual time, the same on a busy host."""

import json

from host_tools import vdevice
from host_tools.street import account, devices, scenario, world

RUN_S = 40  # virtual seconds of each device's run


def _street():
    s = scenario.load("residential", hours=1)
    # 22:30 local: night, before the late window
    t0 = scenario.wall_at(s, "22:30")
    return s, t0


def _run(folder, t0, stimuli):
    (folder / "stimuli.json").write_text(json.dumps(stimuli))
    p = vdevice.start(folder, run_s=RUN_S, pace=0, wall0=t0, ap=0, stimuli="stimuli.json",
                      history="history.json")
    summary, out = vdevice.finish(p, timeout_s=120)
    return json.loads((folder / "history.json").read_text()), summary, out


def test_a_motion_pulse_in_stimuli_boosts_the_pole(tmp_path):
    s, t0 = _street()
    folders = devices.write(s, tmp_path, "127.0.0.1", 1)
    # No broker here: a pole without a link lights at unlinked_pct (by default the boost level,
    # as no neighbour can warn it). Set it to the profile's base so the boost shows.
    base = scenario.light_settings(s)["profile"][-1][1]
    cfg_file = folders["pole-01"] / "config.json"
    cfg = json.loads(cfg_file.read_text())
    cfg["light"]["unlinked_pct"] = base
    cfg_file.write_text(json.dumps(cfg))
    pulse_at = t0 + 20
    stim = {"id": "pole-01", "role": "streetlight", "start_wall": t0, "end_wall": t0 + RUN_S,
            "faults": [], "lux": [[t0 - 60, 0.2]], "motion": [[pulse_at, 3000]]}
    h, summary, out = _run(folders["pole-01"], t0, stim)
    lamp = account.Steps(h["lamp"])
    boost = scenario.light_settings(s)["boost_pct"]
    assert boost > base
    assert lamp.at(pulse_at - 0.1) == base, out  # lit at the profile's level before
    up = [t for t, pct in h["lamp"] if pct >= boost]
    assert up and pulse_at <= up[0] <= pulse_at + s["encounter"]["ramp_s"], h["lamp"]
    assert h["motion_pulses"] == 1 and any(pulse_at <= t < pulse_at + 3 for t in
                                           h["detections"]), h
    assert summary["lamp_max_pct"] == boost


def test_a_deposit_in_stimuli_fills_the_inlet(tmp_path):
    s, t0 = _street()
    folders = devices.write(s, tmp_path, "127.0.0.1", 1)
    stim = {"id": "inlet-01", "role": "inlet", "start_wall": t0, "end_wall": t0 + RUN_S,
            "faults": [], "capacity_l": 120, "start_level": 0.25,
            "deposits": [[t0 - 5, 60], [t0 + 10, 30]]}  # the first is before boot: unseen
    h, _, out = _run(folders["inlet-01"], t0, stim)
    assert h["deposits"] == 1, out
    (t_a, a), (t_b, b) = h["levels"]
    assert a == 0.25 and b == 0.5 and abs(t_b - (t0 + 10)) < 0.01, h["levels"]


def test_the_accounting_meters_the_lamp_as_the_agent_does(tmp_path):
    """15:00 to 19:00 of the default street, dusk included: the energy integrated from the
    board's lamp history and the agent's own meter are one power model over one span."""
    s = scenario.load("residential", hours=4)
    w = world.build(s)
    folder = devices.write(s, tmp_path, "127.0.0.1", 1)["pole-01"]
    (folder / "stimuli.json").write_text(json.dumps(w.stimuli_for("pole-01")))
    p = vdevice.start(folder, run_s=4 * 3600, pace=0, wall0=s["start_wall"], ap=0,
                      stimuli="stimuli.json", history="history.json")
    _, out = vdevice.finish(p, timeout_s=300)
    h = json.loads((folder / "history.json").read_text())
    pole = account.score(s, w, {"pole-01": h})["poles"]["pole-01"]
    assert pole["visits_checked"] > 0 and pole["pulses"] > 0, out
    assert pole["wh"] > 20 * pole["hours"] * s["lamp"]["standby_w"]  # it was lit for hours
    assert abs(pole["wh"] - pole["agent_wh"]) < 0.005 * pole["wh"], pole
