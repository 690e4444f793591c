"""The in-process street (host_tools/street/inprocess.py): the firmware's pure cores behind
host shells on one virtual clock. Unpaced: every time here is virtual, the same on a busy
host. The comparisons with the real firmware run it on the simulated board (MicroPython,
unpaced, no access point) with the same stimuli: that is what shows it is the same firmware.
"""

import json
import re
from pathlib import Path

from host_tools import vdevice
from host_tools.street import account, devices, inprocess, scenario, world
from host_tools.street import inprocess_agents as ipa

ROOT = Path(__file__).resolve().parents[2]


class _World:
    """A hand-made world: these stimuli, no inlets' station, no outages."""

    def __init__(self, stimuli):
        self.stimuli = stimuli
        self.inlets = [(d, "elm") for d, st in stimuli.items() if st["role"] == "inlet"]
        self.outages = []

    def device_ids(self):
        return list(self.stimuli)

    def stimuli_for(self, dev_id):
        return self.stimuli[dev_id]


def _pole_stim(dev_id, t0, run_s, lux, motion):
    return {"id": dev_id, "role": "streetlight", "start_wall": t0, "end_wall": t0 + run_s,
            "faults": [], "lux": lux, "motion": motion}


def _in_process(s, t0, run_s, stimuli, network=True):
    s2 = dict(s, start_wall=t0, end_wall=t0 + run_s)
    street = inprocess.InProcessStreet(s2, _World(stimuli), lead_s=0, boot_spread_s=0,
                                       network=network, station=False)
    return street.run(), street


def _on_board(s, t0, run_s, stim, tmp_path):
    folder = devices.write(s, tmp_path, "127.0.0.1", 1)[stim["id"]]
    (folder / "stimuli.json").write_text(json.dumps(stim))
    p = vdevice.start(folder, run_s=run_s, pace=0, wall0=t0, ap=0, stimuli="stimuli.json",
                      history="history.json")
    _, out = vdevice.finish(p, timeout_s=120)
    return json.loads((folder / "history.json").read_text()), out


def test_an_in_process_street_gives_histories_the_accounting_scores():
    """Three hours of the default street from 15:00 (dusk in December), two poles and an
    inlet, with the in-process bus and station: every device has a history, and each pole's
    lamp record integrates to what its own energy meter says."""
    s = scenario.load("residential", poles=2, inlets=1, hours=3)
    w = world.build(s)
    hist = inprocess.run(s, w)
    score = account.score(s, w, hist)
    assert score["missing"] == [] and set(hist) == set(w.device_ids())
    for pid, pole in score["poles"].items():
        assert pole["hours"] == 3.0 and pole["pulses"] > 0 and pole["visits_checked"] > 0, pole
        assert pole["wh"] > 10 * s["lamp"]["standby_w"], pole  # lit after dusk
        assert abs(pole["wh"] - pole["agent_wh"]) < 0.005 * pole["wh"], (pid, pole)
        assert hist[pid]["end_wall"] == s["end_wall"]
        assert hist[pid]["link"][-1][1] is True  # the bus link came up and stayed
    inlet = score["inlets"]["inlet-01"]
    assert inlet["deposits"] == len(w.deposits["inlet-01"])
    assert hist["inlet-01"]["deposits"] == inlet["deposits"]


def test_a_walker_seen_by_pole_1_boosts_pole_1_and_light_ahead_reaches_pole_2():
    s = scenario.load("residential", poles=2, hours=1)
    t0 = scenario.wall_at(s, "22:30")  # night, profile level, before the late window
    dark = [[t0 - 60, 0.2]]
    seen_at = t0 + 40
    hist, street = _in_process(s, t0, 90, {
        "pole-01": _pole_stim("pole-01", t0, 90, dark, [[seen_at, 3000]]),
        "pole-02": _pole_stim("pole-02", t0, 90, dark, [])})
    boost = scenario.light_settings(s)["boost_pct"]
    ramp_s = s["encounter"]["ramp_s"]
    for pid in ("pole-01", "pole-02"):
        lamp = account.Steps(hist[pid]["lamp"])
        assert lamp.at(seen_at - 0.1) < boost, (pid, hist[pid]["lamp"])
        up = [t for t, pct in hist[pid]["lamp"] if pct >= boost and t >= seen_at]
        assert up and up[0] <= seen_at + ramp_s, (pid, hist[pid]["lamp"])
    assert hist["pole-01"]["detections"] and not hist["pole-02"]["detections"]
    assert street.bus.messages > 0


def _max_gap(h_a, h_b, t0, run_s, shift_s=0.0):
    """The largest level difference of two lamp records sampled every 0.1 s, each sample
    matched with the other record's level up to shift_s earlier or later."""
    a, b = account.Steps(h_a["lamp"]), account.Steps(h_b["lamp"])
    shifts = (0.0,) if not shift_s else [shift_s * k / 10 for k in range(-10, 11)]
    return max(min(abs(a.at(t0 + i / 10) - b.at(t0 + i / 10 + d)) for d in shifts)
               for i in range(run_s * 10))


def test_the_in_process_pole_decides_as_the_firmware_on_the_simulated_board(tmp_path):
    """Dusk (the sky falling 30 % a minute), then walkers every 97 s; no link, so the pole
    dims to its profile only when unlinked_pct allows (set to 1 %). Decisions are the same:
    the detections (each within one idle slice), the energy meter, the end state. The lamp
    records agree, within that slice of time, within simstreet's recording tolerance
    (TOL_PCT: the board records its PWM quantised to 13 bits, the host the duty itself, so a
    fade keeps slightly different entries)."""
    s = scenario.load("residential", hours=1)
    s["device_config"].setdefault("light", {})["unlinked_pct"] = 1
    t0, run_s = scenario.wall_at(s, "16:20"), 1800
    lux = [[t0 - 60, 300]] + [[t0 + 60 * i, round(300 * 0.7 ** i, 2)] for i in range(1, 25)]
    motion = [[t0 + 20, 3000]] + [[t0 + 700 + 97.3 * i, 2500 + 300 * (i % 4)]
                                  for i in range(11)]
    stim = _pole_stim("pole-01", t0, run_s, lux, motion)
    board, out = _on_board(s, t0, run_s, stim, tmp_path)
    host, _ = _in_process(s, t0, run_s, {"pole-01": stim}, network=False)
    host = host["pole-01"]
    assert len(board["detections"]) == 12, out
    # A detection is taken at the end of the loop's idle slice it falls in; the board's slice
    # phase moves with its Wi-Fi retries, whose backoff jitter is MicroPython's unseeded
    # random: the same detections, each within one idle slice.
    slice_s = ipa.IDLE_SLICE_MS / 1000
    assert len(host["detections"]) == len(board["detections"])
    assert all(abs(h - b) <= slice_s for h, b in zip(host["detections"], board["detections"],
                                                     strict=True))
    assert host["state"] == board["state"]
    eb, eh = board["energy"], host["energy"]
    assert eh.keys() == eb.keys()
    # 12 boosts, each up to one slice earlier or later: at most that much lamp time apart
    assert abs(eh["wh"] - eb["wh"]) <= 12 * slice_s / 3600 * 60 + 0.001, (eh, eb)
    assert {k: v for k, v in eh.items() if k not in ("wh", "burn_s")} == \
        {k: v for k, v in eb.items() if k not in ("wh", "burn_s")}
    on_b = [t for t, pct in board["lamp"] if pct > 0][0]
    on_h = [t for t, pct in host["lamp"] if pct > 0][0]
    assert on_b == on_h  # switched on at dusk at the same moment
    assert _max_gap(board, host, t0, run_s, shift_s=slice_s) < ipa.TOL_PCT


def test_the_in_process_inlet_decides_as_the_firmware_on_the_simulated_board(tmp_path):
    """An hour of deposits into a bin that nobody empties (no link, so no grant): the fill
    levels, the requests (may, then must), the overflow and the end state are identical."""
    s = scenario.load("residential", hours=1)
    t0, run_s = scenario.wall_at(s, "09:00"), 3600
    stim = {"id": "inlet-01", "role": "inlet", "start_wall": t0, "end_wall": t0 + run_s,
            "faults": [], "capacity_l": 120, "start_level": 0.3,
            "deposits": [[t0 + 100 + 290 * i, 10 + 5 * (i % 3)] for i in range(12)]}
    board, out = _on_board(s, t0, run_s, stim, tmp_path)
    host, _ = _in_process(s, t0, run_s, {"inlet-01": stim}, network=False)
    host = host["inlet-01"]
    assert [r[1] for r in board["requests"]] == ["none", "may", "must"], out
    for key in ("levels", "requests", "opens", "discharges", "deposits", "overflow_ms",
                "state"):
        assert host[key] == board[key], key


def test_the_host_shell_uses_the_firmware_shells_constants():
    """The pole's and the loop's timing live in the firmware's shells (which cannot be
    imported here): read them from the source, so a change there cannot drift silently."""
    pole = (ROOT / "firmware/agent/pole.py").read_text()
    app = (ROOT / "firmware/agent/app.py").read_text()
    link = (ROOT / "firmware/agent/link.py").read_text()
    chute = (ROOT / "firmware/agent/chute.py").read_text()

    def const(src, name):
        return int(re.search(r"^%s = const\((\d+)\)" % name, src, re.M).group(1))

    assert const(pole, "CONTROL_MS") == ipa.CONTROL_MS
    assert const(pole, "FAST_MS") == ipa.FAST_MS
    assert const(pole, "TELEMETRY_MS") == ipa.TELEMETRY_MS
    assert const(pole, "SMOOTH_PCT_PER_S") == ipa.SMOOTH_PCT_PER_S
    assert const(app, "IDLE_SLICE_MS") == ipa.IDLE_SLICE_MS
    assert const(app, "LINK_PERIOD_MS") == ipa.LINK_PERIOD_MS
    assert const(chute, "STALE_GRANT_S") == ipa.STALE_GRANT_S
    assert const(link, "_INBOX_MAX") == 8 and const(link, "_FLUSH_PER_SERVICE") == 4


def test_the_in_process_link_reports_as_the_firmware_comms_now_does():
    """Two hours at night on the bus with an outage in the middle: the retained state goes
    once more after the reconnect (as agent.comms does) and never as a heartbeat; a pole sends
    one telemetry summary per loop.telemetry_s with its motion count, and no motion events;
    diag goes at each (re)connect (the reconnect count changed)."""
    s = scenario.load("residential", poles=2, hours=2)
    t0, run_s = scenario.wall_at(s, "22:30"), 7200
    dark = [[t0 - 60, 0.2]]
    walkers = [[t0 + 300 + 600 * i, 3000] for i in range(10)]
    w = _World({"pole-01": _pole_stim("pole-01", t0, run_s, dark, walkers),
                "pole-02": _pole_stim("pole-02", t0, run_s, dark, [])})
    w.outages = [(t0 + 3000, 2)]  # the broker away for two minutes
    sent = []
    s2 = dict(s, start_wall=t0, end_wall=t0 + run_s)
    period_s = 60  # telemetry every minute (the default is hourly)
    street = inprocess.InProcessStreet(
        s2, w, lead_s=0, boot_spread_s=0, station=False,
        config_of=lambda d: devices.config_for(s2, d, "127.0.0.1", 1, telemetry_s=period_s))
    street.bus.tap = lambda topic, payload: sent.append((topic.decode(), json.loads(payload))
                                                        if payload[:1] == b"{" else None)
    street.run()
    root = "city/%s/streetlight/pole-01/" % s["site"]
    mine = [(t[len(root):], p) for t, p in filter(None, sent) if t.startswith(root)]
    kinds = [k for k, _ in mine]
    comms = street.agents[0].comms
    assert comms.link.connects == 2 and comms.link.reconnects == 1
    # state: at boot, then only on a settled change of level (the walkers' boosts fade
    # within loop.settle_s), and once after the outage's reconnect
    states = [p for k, p in mine if k == "state"]
    levels = [(p["ts"] - t0, p["level"]) for p in states]
    # boot (unlinked: the boost level as the base), linked (the profile's), and after the
    # outage: once on the reconnect, then the level it settles to again
    light = scenario.light_settings(s)
    boost, base = light["boost_pct"], light["profile"][-1][1]  # the late profile step
    assert [lv for _, lv in levels] == [boost, base, boost, base], levels
    assert levels[1][0] < 3000 <= levels[2][0]
    assert kinds.count("diag") == 2  # boot, and the reconnect
    tele = [p for k, p in mine if k == "telemetry"]
    # one per period from the first period on, none during the two minutes away nor the
    # reconnect's backoff (a few seconds to a minute): 2 to 4 periods missed
    periods = run_s // period_s - 1
    assert periods - 4 <= len(tele) <= periods - 2, len(tele)
    counts = [p["motions"] for p in tele]
    assert counts == sorted(counts) and counts[-1] == len(walkers)
    assert not any(p.get("event") == "motion" for k, p in mine if k == "event")
    assert comms.motions == len(walkers)
