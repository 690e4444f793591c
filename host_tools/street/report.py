"""The demo's report: report.md, report.json (every figure in it), world.json (the world's own
event log: passages with their pole zones, deposits, nights, outages) and PNG plots, from a
run's result (host_tools.street.run.Run.run). Plots use matplotlib's Agg backend (no display).

    lamps.png    lamp level per pole through the run (a heat map: position along the street x
                 local time), people's passages drawn over it, dark encounters marked
    inlets.png   each inlet's fill level, its valve openings and the deposits
    energy.png   energy per pole: the agent against always-on and the D60 schedule
"""

import json
import math
import time
from pathlib import Path

from .account import Steps

PLOT_DPI = 110


def _local(wall, offset_min):
    t = time.gmtime(int(wall + offset_min * 60))
    return "%04d-%02d-%02d %02d:%02d" % (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min)


def _hours(wall, start):
    return (wall - start) / 3600


def write(out: Path, result: dict) -> Path:
    """Write everything under `out`; returns the path of report.md."""
    out.mkdir(parents=True, exist_ok=True)
    figures = {}
    try:
        figures = plots(out, result)
    except ImportError as e:  # matplotlib missing: the text report still says everything
        figures = {"error": f"no plots: {e} (run `make setup`)"}
    slim = {k: v for k, v in result.items() if k not in ("histories", "world")}
    slim["figures"] = figures
    (out / "report.json").write_text(json.dumps(slim, indent=1) + "\n")
    (out / "world.json").write_text(json.dumps(result["world"]) + "\n")
    md = out / "report.md"
    md.write_text(markdown(result, figures))
    return md


# ---- text ----

def _table(head, rows):
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def markdown(r: dict, figures: dict) -> str:
    sc, sp, sco, beh, cpu = r["scenario"], r["speed"], r["score"], r["behind"], r["cpu"]
    tot = sco["totals"]
    off = sc["utc_offset_min"]
    end = sp["stopped_at_wall"]
    lines = [f"# Street demo: {sc['title']}", ""]
    lines.append(
        f"Scenario **{sc['name']}** (seed {sc['seed']}), {sc['place']}: {sc['poles']} poles, "
        f"{sc['inlets']} inlets, from {_local(sc['start_wall'], off)} to "
        f"{_local(sc['end_wall'], off)} local time ({sc['hours']:g} h).")
    if sp["stopped_early"]:
        lines.append(f"**Stopped early (Ctrl-C) at {_local(end, off)}**: the figures cover "
                     f"{sp['scenario_s'] / 3600:.2f} h of the scenario.")
    lines += ["", f"Broker: {r['broker']}.", "",
              f"Speed-up: asked **{sp['asked']:g}x**; {sp['scenario_s'] / 3600:.2f} scenario "
              f"hours took {sp['wall_s']:.0f} s of wall time, devices' start and stop "
              f"included: **{sp['reached']:g}x** reached.", ""]
    lines += _behind_text(r)
    lines += ["", "## Safety and service", ""]
    lines.append(_table(
        ["figure", "count", "what it means"],
        [["dark encounters", tot["encounters"],
          "a person in a pole's zone at night while its lamp was below the boost level "
          f"(after a {r.get('encounter_ramp_s', 2):g} s grace)"],
         ["people in the dark", tot["people_in_the_dark"], "different people among them"],
         ["zone visits checked", tot["visits_checked"], "night-time visits the rule looked at"],
         ["passages", tot["passages"], "people, bikes and cars along the street"],
         ["overflow minutes", tot["overflow_minutes"], "minutes an inlet was over full"],
         ["discharges", tot["discharges"], "inlets emptied through the vacuum pipe"],
         ["deposits", tot["deposits"], "bags put into the inlets"]]))
    ex = r.get("exact_clock")
    if ex:
        lines += ["", f"The same street with the firmware's decisions on one exact clock (the "
                      f"in-process mode, {ex['real_s']:g} s): **{ex['encounters']} dark "
                      f"encounters** ({ex['people_in_the_dark']} people), "
                      f"{ex['overflow_minutes']} overflow minutes, {ex['wh']:.0f} Wh. "
                      "At this speed-up every real millisecond a board's loop pass takes "
                      "becomes most of a scenario second, so lamps rise late by the host's "
                      "doing: the difference between the two counts is the simulation's, not "
                      "the firmware's (docs/demo.md)."]
    if sco["encounters"]:
        lines += ["", "Dark encounters (first 10):", ""]
        lines.append(_table(
            ["time", "pole", "who", "dark for", "lamp", "needed", "sensor saw them",
             "pole was behind"],
            [[_local(e["dark_from"], off)[11:], e["pole"], e["who"], f"{e['dark_s']:.1f} s",
              f"{e['min_pct']:.0f} %", f"{e['need_pct']:.0f} %", "yes" if e["seen"] else "no",
              "yes" if e in r.get("encounters_while_behind", []) else "no"]
             for e in sco["encounters"][:10]]))
    lines += ["", "## Energy", ""]
    rows = [[pid, f"{p['wh']:.1f}", f"{p['always_on_wh']:.1f}", f"{p['d60_wh']:.1f}",
             f"{p['saving_vs_always_on_pct']:.1f} %", f"{p['saving_vs_d60_pct']:.1f} %",
             "-" if p["agent_wh"] is None else f"{p['agent_wh']:.1f}"]
            for pid, p in sco["poles"].items()]
    rows.append(["**all**", f"{tot['wh']:.1f}", f"{tot['always_on_wh']:.1f}",
                 f"{tot['d60_wh']:.1f}", f"{tot['saving_vs_always_on_pct']:.1f} %",
                 f"{tot['saving_vs_d60_pct']:.1f} %", ""])
    lines.append(_table(["pole", "Wh", "always-on Wh", "D60 Wh", "saved vs always-on",
                         "saved vs D60", "the pole's own meter Wh"], rows))
    lines += ["", "Wh is the lamp's level history integrated with the scenario's power model "
              "(standby plus watts x level); always-on is 100 % from dusk to dawn, D60 the Dutch "
              "schedule (70 % from 20:00, 50 % from 22:00, 100 % from 05:00)."]
    if sco["inlets"]:
        lines += ["", "## Inlets", ""]
        lines.append(_table(
            ["inlet", "branch", "deposits", "litres", "discharges", "valve openings",
             "highest fill", "overflow minutes"],
            [[iid, i["branch"], i["deposits"], f"{i['litres']:.0f}", i.get("discharges", "-"),
              i.get("opens", "-"),
              "-" if "max_level" not in i else f"{i['max_level'] * 100:.0f} %",
              i.get("overflow_minutes", "-")] for iid, i in sco["inlets"].items()]))
        st = r.get("station")
        if st:
            rep = st["report"]
            lines += ["", f"Vacuum station: {st['grants']} grants, {rep.get('fan_starts', 0)} "
                      f"fan starts, {rep.get('kwh', 0):.1f} kWh; alarms: "
                      f"{len(st['alarms']) or 'none'}."]
    if sco["missing"]:
        lines += ["", f"**No history from**: {', '.join(sco['missing'])} (see "
                  "devices/<id>/console.log): not counted."]
    if r["outages"]:
        lines += ["", "Broker outages played: " + ", ".join(
            f"{_local(o['from'], off)[11:]} for {(o['to'] - o['from']) / 60:.0f} min"
            for o in r["outages"]) + "."]
    lines += ["", "## Plots", ""]
    for name, what in (("lamps", "Lamp level and people along the street"),
                       ("inlets", "Fill level and discharges per inlet"),
                       ("energy", "Energy per pole")):
        if name in figures:
            lines += [f"![{what}]({figures[name]})", ""]
    if "error" in figures:
        lines += [figures["error"], ""]
    lines += ["## How the simulation kept up", ""]
    rows = [[d, v["role"], f"{v['cpu_s']:.1f}", "-" if v["cores"] is None else
             f"{v['cores']:.2f}", f"{v['loop_max_s']:.1f}", v["reconnects"],
             sum(1 for x in beh["late"] if x["device"] == d)]
            for d, v in cpu["per_device"].items()]
    lines.append(_table(["device", "role", "CPU s", "cores", "longest loop pass (scenario s)",
                         "reconnects", "fell behind"], rows))
    lines += ["", f"Devices together used {cpu['devices_cores']:.2f} of the host's "
              f"{cpu['host_cores']} cores; the whole host was busy "
              f"{cpu.get('host_busy_cores', '?')} cores on average (other programs included)."]
    lines += ["", "Files: devices/<id>/ holds each device's config, stimuli.json (what its "
              "pins saw), history.json (what it did) and console.log; report.json has every "
              "figure; world.json the world's event log.", ""]
    return "\n".join(lines)


def _behind_text(r):
    beh = r["behind"]
    if not beh:
        return []
    late = beh["late"]
    out = []
    if not late:
        out.append(f"Fell behind: **never** (no device's minute report came more than "
                   f"{beh['late_threshold_s']:g} s late).")
    else:
        out.append(
            f"Fell behind: **{beh['late_count']} times**: a device's once-a-minute report came "
            f"more than {beh['late_threshold_s']:g} scenario seconds late, meaning the host "
            f"could not run its loop on time; {beh['late_total_s']:.0f} s late in all, "
            f"{beh['late_max_s']:.0f} s at worst. The dark encounters that happened in such "
            "a minute at that pole are marked below: they may be the simulation's, not the "
            "agent's.")
        off = r["scenario"]["utc_offset_min"]
        worst = sorted(late, key=lambda x: -x["late_s"])[:8]
        out.append("Worst: " + ", ".join(f"{x['device']} {_local(x['at'], off)[11:]} "
                                         f"+{x['late_s']:.0f} s" for x in worst) + ".")
    if beh["lag_max_s"] > beh["lag_threshold_s"]:
        out.append(f"The runner's own view lagged up to {beh['lag_max_s']:.0f} scenario s "
                   "behind the devices (messages delivered late: a busy host).")
    return out


# ---- plots ----

def plots(out: Path, r: dict) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figs = {}
    for name, fn in (("lamps", _plot_lamps), ("inlets", _plot_inlets),
                     ("energy", _plot_energy)):
        fig = fn(plt, r)
        if fig is None:
            continue
        path = out / f"{name}.png"
        fig.savefig(path, dpi=PLOT_DPI)
        plt.close(fig)
        figs[name] = path.name
    return figs


def _time_axis(ax, start, hours, off):
    """Ticks at round local times (every 30 min to 3 h, by the span); data in hours from
    the start."""
    step = 1800 if hours <= 3 else 3600 if hours <= 6 else 7200 if hours <= 16 else 10800
    local0 = start + off * 60
    first = (int(local0) // step + 1) * step if local0 % step else int(local0)
    ticks = [(t - local0) / 3600 for t in range(first, int(local0 + hours * 3600) + 1, step)]
    ax.set_xticks(ticks)
    ax.set_xticklabels([time.strftime("%H:%M", time.gmtime(local0 + t * 3600)) for t in ticks])
    ax.set_xlim(0, hours)


def _level_grid(hist, start, end, bins):
    """Lamp level per time bin: the highest level in the bin (so a short boost shows)."""
    lamp = (hist or {}).get("lamp") or []
    if not lamp:
        return [math.nan] * bins
    steps = Steps(lamp, before=math.nan)
    h_end = float(hist.get("end_wall", end))
    dt = (end - start) / bins
    out = []
    for i in range(bins):
        a, b = start + i * dt, start + (i + 1) * dt
        if a >= h_end or b <= steps.t[0]:
            out.append(math.nan)
            continue
        vals = [steps.at(max(a, steps.t[0]))]
        vals += [steps.at(t) for t in steps.times_in(a, b)]
        out.append(max(vals))
    return out


def _plot_lamps(plt, r):
    w = r["world"]
    poles = w["poles"]
    if not poles:
        return None
    sc = r["scenario"]
    start = sc["start_wall"]
    end = min(sc["end_wall"], r["speed"]["stopped_at_wall"]) if r["speed"]["stopped_early"] \
        else sc["end_wall"]
    hours = max(1e-3, (end - start) / 3600)
    bins = max(60, min(1440, int(hours * 60)))
    grid = [_level_grid(r["histories"].get(pid), start, end, bins) for pid, _ in poles]
    xs = [p for _, p in poles]
    spacing = (xs[1] - xs[0]) if len(xs) > 1 else 30.0
    y_edges = [x - spacing / 2 for x in xs] + [xs[-1] + spacing / 2]
    t_edges = [hours * i / bins for i in range(bins + 1)]
    fig, ax = plt.subplots(figsize=(12, 4.8), constrained_layout=True)
    # grey where there is no data: the device had not booted yet, or had stopped
    cmap = plt.get_cmap("inferno").with_extremes(bad="0.8")
    mesh = ax.pcolormesh(t_edges, y_edges, grid, cmap=cmap, vmin=0, vmax=100,
                         shading="flat", zorder=1)
    for a, b in w["nights"]:
        for t, word in ((a, "dusk"), (b, "dawn")):
            if start < t < end:
                ax.axvline(_hours(t, start), color="white", ls=":", lw=1, zorder=2)
                ax.annotate(word, (_hours(t, start), y_edges[-1]), xytext=(3, -12),
                            textcoords="offset points", fontsize=8, zorder=4,
                            bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none",
                                  "alpha": 0.8})
    cb = fig.colorbar(mesh, ax=ax, pad=0.01)
    cb.set_label("lamp level (%), highest in each minute")
    drawn = False
    for p in w["passages"]:  # at night only: by day they hide the map and need no light
        t0 = p["t"]
        t1 = t0 + abs(p["to_m"] - p["from_m"]) / p["speed_m_s"]
        if not p["zones"] or t1 < start or t0 > end or \
                not any(a <= t0 < b for a, b in w["nights"]):
            continue
        ax.plot([_hours(t0, start), _hours(t1, start)], [p["from_m"], p["to_m"]],
                color="#4fc3f7", lw=0.6, alpha=0.7, zorder=2,
                label=None if drawn else "a passage at night (person, bike or car)")
        drawn = True
    enc = r["score"]["encounters"]
    if enc:
        pos = dict(poles)
        ax.scatter([_hours(e["dark_from"], start) for e in enc], [pos[e["pole"]] for e in enc],
                   marker="x", color="#00e676", s=40, zorder=3, label="dark encounter")
    ax.set_ylim(y_edges[0], y_edges[-1])
    ax.set_yticks(xs)
    ax.set_yticklabels([f"{pid} ({x:.0f} m)" for pid, x in poles])
    ax.set_ylabel("pole (position along the street)")
    _time_axis(ax, start, hours, sc["utc_offset_min"])
    ax.set_xlabel("local time")
    ax.set_title(f"Lamp level and passages along the street: {sc['title']} "
                 f"(seed {sc['seed']})")
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(handles, labels, loc="upper right", fontsize=8, framealpha=0.9)
    return fig


def _plot_inlets(plt, r):
    inlets = r["world"]["inlets"]
    if not inlets:
        return None
    sc = r["scenario"]
    start = sc["start_wall"]
    hours = max(1e-3, (min(sc["end_wall"], r["speed"]["stopped_at_wall"]) - start) / 3600)
    n = len(inlets)
    fig, axes = plt.subplots(n, 1, figsize=(12, 1.6 + 2.0 * n), sharex=True, squeeze=False,
                             constrained_layout=True)
    for ax, (iid, branch) in zip(axes[:, 0], inlets, strict=True):
        h = r["histories"].get(iid) or {}
        lv = h.get("levels") or []
        ax.axhline(100, color="red", lw=1, ls="--", label="full (overflow above)")
        if lv and h.get("end_wall", 0) > lv[-1][0]:
            lv = lv + [[h["end_wall"], lv[-1][1]]]  # the level holds to the history's end
        if lv:
            ax.step([_hours(t, start) for t, _ in lv], [v * 100 for _, v in lv], where="post",
                    color="#1565c0", lw=1.2, label="fill level")
        opened = False
        for o in h.get("opens") or []:
            a = o[0]
            b = o[1] if o[1] is not None else a + 60
            ax.axvspan(_hours(a, start), max(_hours(b, start), _hours(a, start) + hours / 250),
                       color="#ff9800", alpha=0.6,
                       label=None if opened else "valve open (discharge)")
            opened = True
        deps = [d for d in r["world"]["deposits"].get(iid, []) if d[0] <= start + hours * 3600]
        if deps:
            ax.plot([_hours(d[0], start) for d in deps], [3] * len(deps), "|", color="0.3",
                    ms=8, label="a deposit")
        ax.set_ylim(0, 115)
        ax.set_ylabel("fill (%)")
        ax.set_title(f"{iid} (branch {branch}): {h.get('discharges', 0)} discharges",
                     fontsize=10, loc="left")
        ax.legend(loc="upper left", fontsize=8, ncol=4, framealpha=0.9)
    _time_axis(axes[-1, 0], start, hours, sc["utc_offset_min"])
    axes[-1, 0].set_xlabel("local time")
    fig.suptitle(f"Inlets: fill level, deposits and discharges ({sc['title']})")
    return fig


def _plot_energy(plt, r):
    poles = r["score"]["poles"]
    if not poles:
        return None
    names = list(poles)
    fig, ax = plt.subplots(figsize=(max(7, 1.1 * len(names) + 3), 4.5), constrained_layout=True)
    width = 0.27
    xs = range(len(names))
    series = (("always_on_wh", "always-on (100 % dusk to dawn)", "0.6"),
              ("d60_wh", "D60 schedule", "#90caf9"), ("wh", "the agent", "#2e7d32"))
    for k, (key, label, color) in enumerate(series):
        ax.bar([x + (k - 1) * width for x in xs], [poles[p][key] for p in names], width,
               label=label, color=color)
    for x, p in zip(xs, names, strict=True):
        ax.annotate(f"-{poles[p]['saving_vs_always_on_pct']:.0f} %", (x + width, poles[p]["wh"]),
                    ha="center", va="bottom", fontsize=8)
    ax.set_xticks(list(xs))
    ax.set_xticklabels(names, rotation=30 if len(names) > 8 else 0)
    ax.set_ylabel("energy (Wh)")
    ax.set_xlabel("pole (label: the agent's saving against always-on)")
    tot = r["score"]["totals"]
    ax.set_title(f"Energy per pole: {tot['wh']:.0f} Wh in all, "
                 f"{tot['saving_vs_always_on_pct']:.0f} % less than always-on, "
                 f"{tot['saving_vs_d60_pct']:.0f} % less than D60")
    top = max(max(poles[p]["always_on_wh"], poles[p]["d60_wh"], poles[p]["wh"]) for p in names)
    ax.set_ylim(0, top * 1.3 if top > 0 else 1)
    ax.legend(loc="upper center", ncol=3, fontsize=8, framealpha=0.9)
    return fig
