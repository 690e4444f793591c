"""The bench's page and counters: goals judged from the figures given (met, NOT met, not
measured with the reason), a missing controller row said rather than filled in, and the
airtime counter's arithmetic on messages made here."""

import json
from types import SimpleNamespace

from host_tools.bench import report
from host_tools.bench.streetrun import Airtime


def _light(ctl=None, missing=None):
    rows = {k: {"wh": 100.0, "saving_vs_always_on_pct": 0.0, "x_oracle": 2.0, "encounters": 0,
                "unseen": 0, "visits_checked": 5} for k in ("always_on", "oracle")}
    b = {"class": "P4", "avg_lux": 5.0, "watts": 36, "standby_w": 0.5, "lux_per_pct": 0.08,
         "poles": 1, "hours": 24, "passages": 3, "night_h": 15.0, "ramp_s": 2.0,
         "tolerance_lux": 0.04, "rows": rows,
         "light": {"min_level_pct": 10, "boost_pct": 100, "hold_s": 60, "late_boost_pct": 80,
                   "late_hold_s": 30, "late_from": "23:00", "late_to": "05:00", "on_lux": 16,
                   "off_lux": 27, "switch_delay_s": 60}}
    if ctl:
        rows["controller"] = dict(rows["always_on"], **ctl)
    if missing:
        b["controller_missing"] = missing
    return b


def _figs(**kw):
    f = {"machine": {"cpu": "x", "cores": 2, "mem_gb": 1.0, "os": "Linux", "python": "3.11",
                     "micropython_unix": "1.29", "micropython_chip_like": "1.28",
                     "mosquitto": "mosquitto 2", "load_avg_at_start": (1.0, 1.0, 1.0)},
         "command": "make bench", "generated": "now", "elapsed_s": 60.0}
    f.update(kw)
    return f


def test_goals_met_and_not_met_from_the_figures(tmp_path):
    figs = _figs(lighting={"residential": _light({"saving_vs_always_on_pct": 75.0,
                                                   "x_oracle": 1.2, "encounters": 0})},
                 responsiveness={"latency": {"cmd_to_ack_ms": [40.0, 90.0, 130.0],
                                             "motion_to_pwm_ms": [250.0], "pulses": 1,
                                             "cmds": 3, "acked": 3}},
                 # 31 KB in all, of it 2 KB light-ahead: 29 KB counts (met)
                 airtime={"streetlight": {"total_up": {"msgs": None,
                                                       "bytes_per_device_day": 31000},
                                          "group/peer": {"msgs": None,
                                                         "bytes_per_device_day": 2000}},
                          "covered_h": 24.0, "state_msg_bytes": 300})
    md, js = tmp_path / "B.md", tmp_path / "b.json"
    report.write(figs, md, js)
    goals = {g["goal"].split(":")[0]: g["status"] for g in figs["goals"]}
    assert goals["residential (real agents, street run)"] == "met"
    air = "airtime <= 30 KB per device per day (residential streetlight, light-ahead apart)"
    assert goals[air] == "met"
    assert goals["commands acked within 100 ms of arrival at a quiet device"] == "NOT met"
    assert json.loads(js.read_text())["goals"] == figs["goals"]
    page = md.read_text()
    assert "| THIS CONTROLLER (real agents, street run) | 100 |" in page
    assert "86.4 KB per device per day" in page  # 300 B x 288


def test_a_missing_controller_is_said_never_filled(tmp_path):
    figs = _figs(lighting={"residential": _light(missing="the street run failed: boom")})
    report.write(figs, tmp_path / "B.md", tmp_path / "b.json")
    page = (tmp_path / "B.md").read_text()
    assert "THIS CONTROLLER: no row: the street run failed: boom." in page
    assert "THIS CONTROLLER (real agents" not in page
    g = figs["goals"][0]
    assert (g["status"], g["reached"]) == ("not measured", "the street run failed: boom")


def test_airtime_counts_topic_and_payload_per_role_and_channel():
    a = Airtime()
    msg = lambda t, p, r=0: SimpleNamespace(topic=t, payload=p, retain=r)  # noqa: E731
    a._on_message(None, None, msg("city/main/streetlight/pole-01/state", b"x" * 65))
    a._on_message(None, None, msg("city/main/streetlight/pole-02/state", b"x" * 65))
    a._on_message(None, None, msg("city/main/streetlight/pole-01/state", b"y" * 500, 1))
    a._on_message(None, None, msg("city/main/streetlight/group/st/peer", b"z" * 65))
    a._on_message(None, None, msg("not/a/topic", b"q"))
    f = a.figures({"streetlight": 2}, scenario_h=12.0)
    sl = f["streetlight"]
    # 35 topic + 65 payload bytes each, two devices, 12 h -> a day: x2
    assert sl["state"] == {"msgs": 2, "bytes_per_device_day": 200}
    # 35 + 65 bytes shared by two poles, doubled to a day
    assert sl["group/peer"] == {"msgs": 1, "bytes_per_device_day": 100}
    assert sl["total_up"]["bytes_per_device_day"] == 300
    assert f["state_msg_bytes"] == 100


def test_the_page_again_from_raw_figures_measures_nothing(tmp_path):
    from host_tools.bench.__main__ import main

    figs = _figs(lighting={"residential": _light(missing="not run")})
    report.write(figs, tmp_path / "A.md", tmp_path / "a.json")
    assert main(["--from-json", str(tmp_path / "a.json"), "--md", str(tmp_path / "B.md")]) == 0
    assert (tmp_path / "B.md").read_text() == (tmp_path / "A.md").read_text().replace(
        "raw figures in a.json", "raw figures in bench.json")
    (tmp_path / "bad.json").write_text("[1]")
    try:
        main(["--from-json", str(tmp_path / "bad.json"), "--md", str(tmp_path / "C.md")])
    except SystemExit as e:
        assert "not a bench.json" in str(e)
    else:
        raise AssertionError("a bad file must be refused")
    assert not (tmp_path / "C.md").exists()


def test_airtime_goal_counts_light_ahead_apart(tmp_path):
    def status(total, peer):
        figs = _figs(airtime={"streetlight": {
            "total_up": {"msgs": None, "bytes_per_device_day": total},
            "group/peer": {"msgs": None, "bytes_per_device_day": peer}},
            "covered_h": 24.0, "state_msg_bytes": 300})
        report.write(figs, tmp_path / "B.md", tmp_path / "b.json")
        (g,) = [g for g in figs["goals"] if g["goal"].startswith("airtime")]
        return g["status"]

    assert status(31000, 2000) == "met"  # 29 KB of its own
    assert status(33000, 2000) == "NOT met"  # 31 KB of its own


def test_the_scale_goal_reads_the_in_process_runs(tmp_path):
    def run(n, verdict):
        return {"agents": n, "cpu_cores": 1.5, "cpu_us_per_agent_s": 150.0, "verdict": verdict,
                "broker_cores": 0.1, "published_per_s": 900, "delivered_per_s": 6000,
                "lateness": {"p50_ms_at_most": 1, "p99_ms_at_most": 5, "max_ms": 40},
                "loadavg": [1.0, 1.2]}

    def status(largest, verdict):
        figs = _figs(scale={"in_process": {"runs": {"1000": run(1000, "keeps up"),
                                                    "10000": run(10000, verdict)},
                                           "largest_real_time": largest}})
        report.write(figs, tmp_path / "B.md", tmp_path / "b.json")
        (g,) = [g for g in figs["goals"] if "in-process street" in g["goal"]]
        assert "10,000 agents: " + verdict in g["reached"]
        assert "| 10,000 | 1.50 | 150.0 |" in (tmp_path / "B.md").read_text()
        return g["status"]

    assert status(10000, "keeps up") == "met"
    assert status(1000, "starved") == "NOT met"
