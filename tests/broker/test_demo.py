"""A shortened `street demo`: three real agents (two poles, one inlet) under MicroPython on
the simulated board, a real Mosquitto the run starts on a free loopback port, the vacuum
station, a broker outage, from dusk on at 720x. The report's figures are checked against
figures worked out here, independently, from the run's own records: each device's
history.json (what it did) and world.json (what the world did)."""

import json
import math
from pathlib import Path

import pytest

from host_tools import cli
from host_tools.street import scenario as scn

SPEED = 720
HOURS = 1.5


def short_scenario(tmp_path: Path) -> Path:
    """The default street from 16:30 (dusk is near 16:55) with a fuller, busier inlet and a
    five-minute broker outage at 17:00."""
    raw = json.loads(scn.path_of(scn.DEFAULT).read_text())
    raw["start"] = "16:30"
    raw["inlets"]["start_level"] = 0.75
    raw["waste"]["per_hour"] = [["00:00", 6]]
    raw["faults"]["broker_outages"] = [{"at": "17:00", "minutes": 5}]
    path = tmp_path / "short.json"
    path.write_text(json.dumps(raw))
    return path


def power_w(s, pct):
    return s["lamp"]["standby_w"] + s["lamp"]["watts"] * max(0.0, pct) / 100


def level_at(lamp, t):
    """The lamp's level at t from its change list (None before the first entry)."""
    lv = None
    for a, v in lamp:
        if a > t:
            break
        lv = v
    return lv


def energy_wh(s, hist, start, end):
    lamp = hist["lamp"]
    stop = min(end, hist["end_wall"])
    first = max(start, lamp[0][0])
    ws = power_w(s, 0) * max(0.0, first - start)  # not booted yet: the driver's standby
    times = [first] + [a for a, _ in lamp if first < a < stop] + [stop]
    for a, b in zip(times, times[1:], strict=False):
        ws += power_w(s, level_at(lamp, a)) * (b - a)
    return ws / 3600


def lowest_level(lamp, a, b):
    vals = [level_at(lamp, a)] + [v for t, v in lamp if a < t < b]
    return min(v for v in vals if v is not None)


def dark_encounters(s, world, pid, hist, boost_pct):
    """Night visits of the pole's zone during which its lamp was below the boost level."""
    ramp, tol = s["encounter"]["ramp_s"], s["encounter"]["tolerance_pct"]
    lamp = hist["lamp"]
    n = 0
    for p in world["passages"]:
        for zpid, enter, exit_, _seen in p["zones"]:
            if zpid != pid:
                continue
            w0, w1 = max(enter + ramp, lamp[0][0]), min(exit_, hist["end_wall"])
            for n0, n1 in world["nights"]:
                c0, c1 = max(w0, n0), min(w1, n1)
                if c0 < c1 and lowest_level(lamp, c0, c1) < boost_pct - tol:
                    n += 1
    return n


def overflow_minutes(levels, end):
    total, since = 0, None
    for t, lv in levels + [[end, 0.0]]:
        if lv > 1.0 and since is None:
            since = t
        elif lv <= 1.0 and since is not None:
            total += max(1, math.ceil(round(t - since, 3) / 60))
            since = None
    return total


def md_count(md: str, name: str) -> int:
    for line in md.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells and cells[0] == name:
            return int(cells[1])
    raise AssertionError(f"no row {name!r} in report.md")


@pytest.mark.parametrize("mode", ["boards", "in-process"])
def test_short_demo_report_matches_the_runs_own_records(tmp_path, capsys, mode):
    """boards: one MicroPython process per device, each writing its history.json;
    in-process: the firmware's decision modules under CPython in the runner's process, which
    writes their histories where the boards write theirs."""
    out = tmp_path / "out"
    path = short_scenario(tmp_path)
    rc = cli.main(["demo", "--scenario", str(path), "--poles", "2", "--inlets", "1",
                   "--hours", str(HOURS), "--speed", str(SPEED), "--seed", "3",
                   "--out", str(out), "--no-live", "--broker", "mosquitto"]
                  + (["--in-process"] if mode == "in-process" else []))
    printed = capsys.readouterr().out
    assert rc == 0, printed
    assert f"report: {out / 'report.md'}" in printed
    assert "broker: Mosquitto" in printed
    rep = json.loads((out / "report.json").read_text())
    world = json.loads((out / "world.json").read_text())
    md = (out / "report.md").read_text()
    s = scn.load(path, poles=2, inlets=1, seed=3, hours=HOURS)
    light = scn.light_settings(s)
    # The span 16:30..18:00 lies outside the late window: the boost level is boost_pct.
    assert light["late_from"] > "18:00" or light["late_from"] < "16:30"
    hist = {d: json.loads((out / "devices" / d / "history.json").read_text())
            for d in ("pole-01", "pole-02", "inlet-01")}
    score = rep["score"]
    assert score["missing"] == []
    assert rep["scenario"]["seed"] == 3 and rep["speed"]["asked"] == SPEED
    assert [o["from"] for o in rep["outages"]] == [scn.wall_at(s, "17:00")]
    assert rep["broker"].startswith("Mosquitto")

    # energy, per pole and in all
    total = 0.0
    for pid in ("pole-01", "pole-02"):
        wh = energy_wh(s, hist[pid], s["start_wall"], s["end_wall"])
        assert abs(score["poles"][pid]["wh"] - wh) < 0.02, (pid, score["poles"][pid], wh)
        total += wh
    assert total > 10  # lamps were lit after dusk: a real figure, not zeros
    assert abs(score["totals"]["wh"] - total) < 0.05
    assert f"| **all** | {score['totals']['wh']:.1f} |" in md

    # dark encounters: a night visit of a pole's zone with its lamp below the boost level
    enc = sum(dark_encounters(s, world, pid, hist[pid], light["boost_pct"])
              for pid in ("pole-01", "pole-02"))
    assert score["totals"]["visits_checked"] > 0
    assert score["totals"]["encounters"] == enc
    assert md_count(md, "dark encounters") == enc

    # the inlet: overflow minutes and discharges from its own record
    h = hist["inlet-01"]
    ovf = overflow_minutes(h["levels"], h["end_wall"])
    assert score["inlets"]["inlet-01"]["overflow_minutes"] == ovf
    assert md_count(md, "overflow minutes") == ovf
    assert h["discharges"] >= 1  # full and busy: the station granted at least one cycle
    assert h["discharges"] <= len(h["opens"])  # each discharge had its valve opened
    assert score["totals"]["discharges"] == h["discharges"]
    assert md_count(md, "discharges") == h["discharges"]
    deposits = [d for d in world["deposits"]["inlet-01"]]
    assert score["inlets"]["inlet-01"]["deposits"] == len(deposits) == md_count(md, "deposits")

    # the boards' run is set beside the same street on one exact clock (in-process)
    if mode == "boards":
        ex = rep["exact_clock"]
        assert "on one exact clock" in md and f"**{ex['encounters']} dark encounters**" in md
        assert ex["overflow_minutes"] >= 0 and ex["wh"] > 10
    else:
        assert "exact_clock" not in rep

    # the plots: real PNG images of a readable size
    import matplotlib.image

    for name in ("lamps", "inlets", "energy"):
        png = out / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        img = matplotlib.image.imread(png)
        assert img.shape[0] >= 300 and img.shape[1] >= 600, (name, img.shape)
        assert f"({name}.png)" in md
