"""The street's stimuli reach a real agent on the simulated board (MicroPython, no broker):
a motion pulse in stimuli.json makes the pole boost, a deposit raises the inlet's bin, and
the history the board writes is what the accounting reads. Unpaced (pace=0): every time
here is the board's virtual time, the same on a busy host."""

import json

from host_tools import vdevice
from host_tools.street import account, devices, scenario

RUN_S = 40  # virtual seconds of each device's run


def _street():
    s = scenario.load("residential", hours=1)
    # 22:30 local: night, profile 60 %, before the late window (boost 100 %)
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
    pulse_at = t0 + 20
    stim = {"id": "pole-01", "role": "streetlight", "start_wall": t0, "end_wall": t0 + RUN_S,
            "faults": [], "lux": [[t0 - 60, 0.2]], "motion": [[pulse_at, 3000]]}
    h, summary, out = _run(folders["pole-01"], t0, stim)
    lamp = account.Steps(h["lamp"])
    boost = scenario.light_settings(s)["boost_pct"]
    assert lamp.at(pulse_at - 0.1) == 60, out  # lit at the profile's level before
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
