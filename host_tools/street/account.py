"""The street's accounting: what the devices did against what the world did.

`score(scenario, world, histories) -> dict`, histories: {device id: the history JSON that
boot_device.py writes with history=FILE (host_tools/simboard/simstreet.py)}.

Counted, never averaged away (docs/street.md has the definitions with their reasons):

DARK ENCOUNTER: one per person per pole-zone visit. A visit is the span [enter, exit] a
passage spends within the pole's sensor range (World.visits, the true presence, seen by
the sensor or not). It is checked over [enter + encounter.ramp_s, exit], only where that
lies inside a night (World.nights: the sky below the photocell's on_lux) and inside the
device's history; it is a dark encounter if the lamp's level is anywhere in that window
below the boost level in force (light.late_boost_pct inside the late window
late_from..late_to local time, else light.boost_pct) by more than encounter.tolerance_pct.
A visit shorter than ramp_s is never one. A person passing 8 poles in the dark is 8.

OVERFLOW MINUTE: each spell of an inlet's fill level above full (level > 1.0, simbin's
OVERFLOW) counts its length in minutes rounded UP: a 10 s spell is 1, 3 min is 3, 3 min 1 s
is 4. Summed per inlet.

ENERGY per pole (Wh): the lamp level history integrated as steps (each level holds until
the next entry; before the first entry the device had not booted and is not counted) with
P(level) = standby_w + watts * level / 100, over [scenario start, end of the history].
Baselines over the same span, same power model:
  ALWAYS-ON  100 % through every night of World.nights (dusk to dawn as a plain photocell
             with the devices' on_lux/off_lux thresholds sees the sky), standby by day;
  D60        the fixed schedule agent.energy.d60_level (the firmware's own night report uses
             it): 100 % from dusk to 20:00, 70 % to 22:00, 50 % to 05:00, 100 % to dawn,
             local time, only through the nights; standby by day.
"""

import bisect
import math

from agent import civil
from agent.energy import d60_level

from . import scenario as scn

OVERFLOW = 1.0  # simbin.OVERFLOW: the level above which the bin overflows


def power_w(s, pct):
    """Watts drawn at a level (0: off, the driver's standby)."""
    return s["lamp"]["standby_w"] + s["lamp"]["watts"] * max(0.0, pct) / 100


class Steps:
    """A piecewise-constant level [(t, value)]; before the first entry: `before`."""

    def __init__(self, pairs, before=0.0):
        self.t = [float(a) for a, _ in pairs]
        self.v = [float(b) for _, b in pairs]
        self.before = before

    def at(self, t):
        i = bisect.bisect_right(self.t, t) - 1
        return self.before if i < 0 else self.v[i]

    def times_in(self, a, b):
        i = bisect.bisect_right(self.t, a)
        j = bisect.bisect_left(self.t, b)
        return self.t[i:j]


def integrate_wh(s, steps, a, b):
    """Energy (Wh) of a level history over [a, b]."""
    if b <= a:
        return 0.0
    cuts = [a, *steps.times_in(a, b), b]
    ws = 0.0
    for x, y in zip(cuts, cuts[1:], strict=False):
        ws += power_w(s, steps.at(x)) * (y - x)
    return ws / 3600


def _minute_cuts(a, b):
    """a, every whole minute strictly between, b."""
    first = (int(a) // 60 + 1) * 60
    return [a, *range(first, int(math.ceil(b)), 60), b] if first < b else [a, b]


def baseline_wh(s, world, a, b, schedule):
    """Energy (Wh) over [a, b] of a lamp at schedule(local minute) % through the nights and
    off (standby) by day."""
    place = s["place"]
    ws = 0.0
    cuts = [a, b, *(t for n in world.nights for t in n if a < t < b)]
    cuts = sorted(set(cuts))
    for x, y in zip(cuts, cuts[1:], strict=False):
        if not world.is_night(x):
            ws += power_w(s, 0) * (y - x)
            continue
        mc = _minute_cuts(x, y)
        for u, v in zip(mc, mc[1:], strict=False):
            m = civil.local_minute(int(u), place["tz_offset_min"], place["dst"])
            ws += power_w(s, schedule(m)) * (v - u)
    return ws / 3600


def _late_window(s, light):
    lf, lt = civil.minutes(light["late_from"]), civil.minutes(light["late_to"])

    def need(t):
        m = scn.local_minute(s, t)
        return light["late_boost_pct"] if civil.in_window(m, lf, lt) else light["boost_pct"]

    return need


def encounters_at(s, world, pole_id, history, need):
    """The dark encounters at one pole (see the module docstring), and the visits checked."""
    enc = s["encounter"]
    lamp = history.get("lamp") or []
    if not lamp:
        return [], 0
    steps = Steps(lamp)
    h0, h1 = steps.t[0], float(history.get("end_wall", world.end))
    out = []
    checked = 0
    for p, enter, exit_, seen in world.visits(pole_id):
        w0, w1 = max(enter + enc["ramp_s"], h0), min(exit_, h1)
        for n0, n1 in world.nights:
            c0, c1 = max(w0, n0), min(w1, n1)
            if c0 >= c1:
                continue
            checked += 1
            dark_from, dark_s, low, needed = None, 0.0, 101.0, 0.0
            # the level and the boost level needed are steps: look at every change
            cuts = sorted({c0, c1, *steps.times_in(c0, c1), *(_m for _m in range(
                (int(c0) // 60 + 1) * 60, int(c1), 60))})
            for x, y in zip(cuts, cuts[1:], strict=False):
                lv, nd = steps.at(x), need(x)
                if lv < nd - enc["tolerance_pct"]:
                    if dark_from is None:
                        dark_from = x
                    dark_s += y - x
                    if lv < low:
                        low, needed = lv, nd
            if dark_from is not None:
                out.append({"who": p["who"], "type": p["type"], "pole": pole_id,
                            "enter": enter, "exit": exit_, "seen": seen,
                            "dark_from": round(dark_from, 3), "dark_s": round(dark_s, 3),
                            "min_pct": round(low, 2), "need_pct": needed})
    return out, checked


def overflow_minutes(levels, end):
    """Overflow minutes of a fill history [(t, level)] up to `end` (module docstring)."""
    total, since = 0, None
    for t, lv in levels:
        if lv > OVERFLOW and since is None:
            since = t
        elif lv <= OVERFLOW and since is not None:
            total += _spell_minutes(t - since)
            since = None
    if since is not None:
        total += _spell_minutes(end - since)
    return total


def _spell_minutes(seconds):
    return max(1, math.ceil(round(seconds, 3) / 60)) if seconds > 0 else 0


def _pct(base, x):
    return round((base - x) * 100 / base, 1) if base > 0 else 0.0


def score(s, world, histories):
    """Per-device figures, totals and the list of dark encounters (module docstring)."""
    light = world.light
    need = _late_window(s, light)
    poles, inlets, encounters, missing = {}, {}, [], []
    for pid, _ in world.poles:
        h = histories.get(pid)
        if h is None:
            missing.append(pid)
            continue
        enc, checked = encounters_at(s, world, pid, h, need)
        encounters += enc
        lamp = h.get("lamp") or []
        a = world.start
        b = min(world.end, float(h.get("end_wall", world.end)))
        steps = Steps(lamp)
        a_dev = max(a, steps.t[0]) if lamp else b
        wh = integrate_wh(s, steps, a_dev, b) + power_w(s, 0) * max(0.0, a_dev - a) / 3600
        on = baseline_wh(s, world, a, b, lambda m: 100)
        d60 = baseline_wh(s, world, a, b, d60_level)
        poles[pid] = {"visits": len(world.visits(pid)), "visits_checked": checked,
                      "encounters": len(enc), "dark_s": round(sum(e["dark_s"] for e in enc), 1),
                      "wh": round(wh, 2), "always_on_wh": round(on, 2), "d60_wh": round(d60, 2),
                      "saving_vs_always_on_pct": _pct(on, wh), "saving_vs_d60_pct": _pct(d60, wh),
                      "agent_wh": (h.get("energy") or {}).get("wh"),
                      "pulses": h.get("motion_pulses"), "detections": len(h.get("detections", [])),
                      "hours": round((b - a) / 3600, 3)}
    for iid, branch in world.inlets:
        deps = world.deposits[iid]
        h = histories.get(iid)
        row = {"branch": branch, "deposits": len(deps),
               "litres": round(sum(d[1] for d in deps), 1),
               "bulk": sum(1 for d in deps if d[2])}
        if h is None:
            missing.append(iid)
        else:
            levels = h.get("levels") or []
            row.update({"overflow_minutes": overflow_minutes(levels, float(h.get(
                "end_wall", world.end))), "discharges": h.get("discharges", 0),
                "opens": len(h.get("opens") or []),
                "max_level": round(max((lv for _, lv in levels), default=0.0), 3),
                "requests": len([r for r in h.get("requests") or [] if r[1] != "none"])})
        inlets[iid] = row
    encounters.sort(key=lambda e: (e["dark_from"], e["pole"]))
    tot_wh = sum(p["wh"] for p in poles.values())
    tot_on = sum(p["always_on_wh"] for p in poles.values())
    tot_d60 = sum(p["d60_wh"] for p in poles.values())
    totals = {"passages": len(world.passages),
              "visits_checked": sum(p["visits_checked"] for p in poles.values()),
              "encounters": len(encounters),
              "encounters_by_type": {k: sum(1 for e in encounters if e["type"] == k)
                                     for k in scn.TRAFFIC_KINDS},
              "people_in_the_dark": len({e["who"] for e in encounters}),
              "wh": round(tot_wh, 2), "always_on_wh": round(tot_on, 2),
              "d60_wh": round(tot_d60, 2), "saving_vs_always_on_pct": _pct(tot_on, tot_wh),
              "saving_vs_d60_pct": _pct(tot_d60, tot_wh),
              "overflow_minutes": sum(i.get("overflow_minutes", 0) for i in inlets.values()),
              "discharges": sum(i.get("discharges", 0) for i in inlets.values()),
              "deposits": sum(i["deposits"] for i in inlets.values())}
    return {"scenario": s["title"], "seed": s["seed"], "start_wall": world.start,
            "end_wall": world.end, "nights": [list(n) for n in world.nights],
            "poles": poles, "inlets": inlets, "totals": totals, "encounters": encounters,
            "missing": missing}
