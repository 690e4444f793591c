"""Lighting benchmark: energy and dark encounters of the baselines, a clairvoyant oracle and
(from a street run) this controller, on the same world as `make demo` (host_tools.street).

Every strategy is a lamp-level history per pole, [(wall s, level %)], each level holding until
the next (account.Steps); all are scored by the same two rules:

ENERGY (Wh): account.integrate_wh over [scenario start, end] with account.power_w
(standby_w + watts * level / 100), the demo's accounting.

DARK ENCOUNTER (issue 14): one per person per pole-zone visit (World.visits: the true
presence, seen by the sensor or not) if, anywhere in [enter + encounter.ramp_s, exit], the
illuminance on the road, sky(t) + level(t) * lamp.lux_per_pct, is below the class's
lighting.avg_lux by more than encounter.tolerance_pct * lux_per_pct. Day or night alike:
by day the sky alone meets the class. account.py's rule differs: it checks only inside
World.nights and compares the level with the boost level in force, not the light with the
class (so a lamp at 70 % on a P4 street that needs 62.5 % is dark there and not here).

Strategies (light settings are the devices' own: scenario.light_settings):
- ALWAYS-ON: 100 % through World.nights (a plain photocell's dusk to dawn, no delay, on the
  sky alone), standby by day: account.py's always-on, the reference for savings.
- PHOTOCELL: 100 % / off switched by the pole's own photocell (its lux stimulus: headlight
  sweeps and a covered cell included) with on_lux / off_lux and switch_delay_s.
- D60: agent.energy.d60_level by local time through World.nights (account.py's D60).
- MOTION-ONLY: through World.nights min_level_pct until the pole's PIR (its motion stimulus:
  misses and stuck or dead sensors included) goes high, then boost_pct (late_boost_pct in
  the late window) until hold_s (late_hold_s) after it falls; no light-ahead, no ramp time.
- ORACLE: knows every visit; from ramp_s before a person enters a zone until they leave, the
  level that just meets the class, (avg_lux - sky) / lux_per_pct, within 0..100 % and never
  below the floor; otherwise the floor: min_level_pct through World.nights (the level the
  dimming rows keep when nobody is there), off by day. ORACLE-OFF: the same with a floor of
  0 (off whenever nobody is near): what no controller that keeps a floor can reach.
"""

import bisect
import weakref

from agent import civil
from agent.energy import d60_level
from host_tools.street import account
from host_tools.street import scenario as scn

STRATEGIES = ("always_on", "photocell", "d60", "motion_only", "oracle", "oracle_off")
_CACHE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _cached(world, what, pole_id):
    """world.visits / world.stimuli_for, each worked out once per pole (they scan every
    passage)."""
    c = _CACHE.setdefault(world, {})
    key = (what, pole_id)
    if key not in c:
        c[key] = world.visits(pole_id) if what == "visits" else world.stimuli_for(pole_id)
    return c[key]


def _compact(pairs):
    """Sorted steps with repeats and zero-length steps dropped (the last at a time wins)."""
    out = []
    for t, v in sorted(pairs, key=lambda p: p[0]):
        if out and out[-1][0] == t:
            out[-1] = (t, v)
            if len(out) > 1 and out[-2][1] == v:
                out.pop()
        elif not out or out[-1][1] != v:
            out.append((t, v))
    return out


def _span_steps(start, spans, level_in, level_out):
    """Steps: level_out from start, level_in over each [a, b] of sorted disjoint spans."""
    pairs = [(start, level_out)]
    for a, b in spans:
        pairs += [(a, level_in), (b, level_out)]
    return _compact(pairs)


def _merge(spans):
    out = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return out


def always_on(s, world, pole_id):
    return _span_steps(world.start, [list(n) for n in world.nights], 100.0, 0.0)


def d60(s, world, pole_id):
    """agent.energy.d60_level by local minute through the nights, off by day."""
    pairs = [(world.start, 0.0)]
    for a, b in world.nights:
        t = a
        while t < b:
            pairs.append((t, float(d60_level(scn.local_minute(s, t)))))
            t = (int(t) // 60 + 1) * 60
        pairs.append((b, 0.0))
    return _compact(pairs)


def photocell(s, world, pole_id):
    """On at 100 % when the pole's own reading stayed below on_lux for switch_delay_s, off
    when it stayed above off_lux as long (the firmware's thresholds and delay)."""
    light = world.light
    on_lux, off_lux, delay = light["on_lux"], light["off_lux"], light["switch_delay_s"]
    lux = _cached(world, "stimuli", pole_id)["lux"]
    lit = lux[0][1] < on_lux  # at the start, as a lamp already settled
    pairs = [(world.start, 100.0 if lit else 0.0)]
    since = None  # when the reading crossed the threshold that would switch it
    for i, (t, v) in enumerate(lux):
        wants = v < on_lux if not lit else v <= off_lux
        if wants != lit:
            if since is None:
                since = t
            nxt = lux[i + 1][0] if i + 1 < len(lux) else world.end
            if nxt - since >= delay:  # held long enough before the next reading
                lit = wants
                pairs.append((max(world.start, since + delay), 100.0 if lit else 0.0))
                since = None
        else:
            since = None
    return _compact(pairs)


def _boost_level(s, light, t):
    m = scn.local_minute(s, t)
    late = civil.in_window(m, civil.minutes(light["late_from"]), civil.minutes(light["late_to"]))
    return (light["late_boost_pct"], light["late_hold_s"]) if late else \
        (light["boost_pct"], light["hold_s"])


def _inside(spans):
    """A test: is t inside one of the sorted disjoint [a, b) spans?"""
    starts = [a for a, _ in spans]

    def test(t):
        i = bisect.bisect_right(starts, t) - 1
        return i >= 0 and t < spans[i][1]

    return test


def motion_only(s, world, pole_id):
    light = world.light
    floor = float(light["min_level_pct"])
    nights = [list(n) for n in world.nights]
    events = []  # (t, +1/-1, level): a boost begins or ends
    for t, dur_ms in _cached(world, "stimuli", pole_id)["motion"]:
        level, hold = _boost_level(s, light, t)
        events += [(t, 1, float(level)), (t + dur_ms / 1000 + hold, -1, float(level))]
    events.sort()
    cuts = sorted({world.start, *(x for n in nights for x in n), *(e[0] for e in events)})
    at_night = _inside(nights)
    active: dict = {}  # level -> boosts holding it now
    pairs, i = [], 0
    for x in cuts:
        while i < len(events) and events[i][0] <= x:
            _, d, lv = events[i]
            active[lv] = active.get(lv, 0) + d
            i += 1
        if not at_night(x):
            pairs.append((x, 0.0))
            continue
        live = [lv for lv, n in active.items() if n > 0]
        pairs.append((x, max(live) if live else floor))
    return _compact(pairs)


def needed_pct(s, sky_lux):
    """The level that just meets the class over a sky of sky_lux (0..100)."""
    need = (s["lighting"]["avg_lux"] - sky_lux) / s["lamp"]["lux_per_pct"]
    return min(100.0, max(0.0, need))


def oracle(s, world, pole_id, floor=None):
    """See the module docstring; floor None: min_level_pct through the nights."""
    floor = float(world.light["min_level_pct"]) if floor is None else float(floor)
    ramp = s["encounter"]["ramp_s"]
    nights = [list(n) for n in world.nights]
    here = _merge([[max(a - ramp, world.start), b]
                   for _, a, b, _ in _cached(world, "visits", pole_id)])
    here = [sp for sp in here if sp[0] < sp[1]]
    cuts = {world.start, *(x for n in nights for x in n)}
    for a, b in here:
        cuts |= {a, b}
        t = _next_sky_cut(world, a)
        while t < b:  # the sky is a per-minute sample: the need changes on the minute
            cuts.add(t)
            t += 60
    at_night, near = _inside(nights), _inside(here)
    pairs = []
    for x in sorted(cuts):
        base = floor if at_night(x) else 0.0
        pairs.append((x, max(base, needed_pct(s, world.sky(x))) if near(x) else base))
    return _compact(pairs)


def _next_sky_cut(world, t):
    """The first minute boundary of the sky's samples after t."""
    i = int((t - world.sky_t[0]) // 60) + 1
    return world.sky_t[0] + i * 60


def levels(s, world, strategy, pole_id):
    if strategy == "oracle_off":
        return oracle(s, world, pole_id, floor=0)
    return {"always_on": always_on, "photocell": photocell, "d60": d60,
            "motion_only": motion_only, "oracle": oracle}[strategy](s, world, pole_id)


def dark_encounters(s, world, pole_id, pairs):
    """[encounter dict] at one pole for a level history (module docstring), and the number
    of visits checked (a window after the ramp time that is not empty)."""
    enc = s["encounter"]
    lux_pp = s["lamp"]["lux_per_pct"]
    need_lux = s["lighting"]["avg_lux"]
    tol = enc["tolerance_pct"] * lux_pp
    steps = account.Steps(pairs)
    out, checked = [], 0
    lo_t, hi_t = world.start, world.end
    for p, enter, exit_, seen in _cached(world, "visits", pole_id):
        w0, w1 = max(enter + enc["ramp_s"], lo_t), min(exit_, hi_t)
        if w0 >= w1:
            continue
        checked += 1
        cuts = [w0, *steps.times_in(w0, w1)]
        t = _next_sky_cut(world, w0)
        while t < w1:
            cuts.append(t)
            t += 60
        cuts = sorted(set(cuts))
        dark_s, worst = 0.0, None
        for x, y in zip(cuts, [*cuts[1:], w1], strict=True):
            lux = world.sky(x) + steps.at(x) * lux_pp
            if lux < need_lux - tol:
                dark_s += y - x
                worst = lux if worst is None else min(worst, lux)
        if worst is not None:
            out.append({"who": p["who"], "type": p["type"], "pole": pole_id, "enter": enter,
                        "exit": exit_, "seen": seen, "dark_s": round(dark_s, 3),
                        "min_lux": round(worst, 3)})
    return out, checked


def score_levels(s, world, per_pole):
    """{wh, encounters, visits_checked, by_type, per_pole} of {pole id: level steps}."""
    wh, encs, checked, per = 0.0, [], 0, {}
    for pid, pairs in per_pole.items():
        e, c = dark_encounters(s, world, pid, pairs)
        w = account.integrate_wh(s, account.Steps(pairs), world.start, world.end)
        wh += w
        encs += e
        checked += c
        per[pid] = {"wh": round(w, 2), "encounters": len(e)}
    return {"wh": round(wh, 2), "encounters": len(encs), "visits_checked": checked,
            "by_type": {k: sum(1 for x in encs if x["type"] == k) for k in scn.TRAFFIC_KINDS},
            "unseen": sum(1 for x in encs if not x["seen"]), "per_pole": per}


def controller_levels(world, histories):
    """{pole id: level steps} from a street run's histories (the lamp's PWM as levels; before
    the device booted, off)."""
    out = {}
    for pid, _ in world.poles:
        lamp = (histories.get(pid) or {}).get("lamp") or []
        out[pid] = _compact([(world.start, 0.0)] + [(float(t), float(v)) for t, v in lamp
                                                    if t > world.start] +
                            [(world.start, account.Steps(lamp).at(world.start))])
    return out


def bench(s, world, controller=None, inproc=None):
    """The lighting table of one scenario: {strategy: score} (+ "controller" from a street
    run's histories, "controller_inproc" from the in-process street's, when given), with
    savings against always-on and the ratio to the oracle."""
    rows = {}
    for name in STRATEGIES:
        rows[name] = score_levels(s, world, {pid: levels(s, world, name, pid)
                                             for pid, _ in world.poles})
    if controller is not None:
        rows["controller"] = score_levels(s, world, controller_levels(world, controller))
    if inproc is not None:
        rows["controller_inproc"] = score_levels(s, world, controller_levels(world, inproc))
    on, orc = rows["always_on"]["wh"], rows["oracle"]["wh"]
    for r in rows.values():
        r["saving_vs_always_on_pct"] = round((on - r["wh"]) * 100 / on, 1) if on else None
        r["x_oracle"] = round(r["wh"] / orc, 3) if orc else None
    return {"class": s["lighting"]["class"], "avg_lux": s["lighting"]["avg_lux"],
            "lux_per_pct": s["lamp"]["lux_per_pct"], "ramp_s": s["encounter"]["ramp_s"],
            "tolerance_lux": round(s["encounter"]["tolerance_pct"] * s["lamp"]["lux_per_pct"],
                                   4),
            "watts": s["lamp"]["watts"], "standby_w": s["lamp"]["standby_w"],
            "poles": len(world.poles), "hours": s["hours"], "passages": len(world.passages),
            "night_h": round(sum(b - a for a, b in world.nights) / 3600, 2),
            "light": {k: world.light[k] for k in ("on_lux", "off_lux", "switch_delay_s",
                                                  "min_level_pct", "boost_pct", "hold_s",
                                                  "late_boost_pct", "late_hold_s",
                                                  "late_from", "late_to")},
            "rows": rows}


def boost_delays(s, world, per_pole):
    """Seconds from each PIR rise at night (the pole's motion stimulus) while its lamp was
    below the class's level to the lamp reaching that level, over {pole id: level steps}:
    how fast a run answered a walker, in scenario time (sorted)."""
    need = needed_pct(s, 0.0) - s["encounter"]["tolerance_pct"]
    out = []
    for pid, pairs in per_pole.items():
        steps = account.Steps(pairs)
        for t, _ in _cached(world, "stimuli", pid)["motion"]:
            if not world.is_night(t) or steps.at(t) >= need:
                continue
            lit = [a for a in steps.times_in(t, t + 3600) if steps.at(a) >= need]
            if lit:
                out.append(round(lit[0] - t, 3))
    return sorted(out)


def spread(xs):
    """{n, median, p90, max} of a sorted list (None figures when empty)."""
    if not xs:
        return {"n": 0, "median": None, "p90": None, "max": None}
    return {"n": len(xs), "median": xs[len(xs) // 2], "p90": xs[int(0.9 * (len(xs) - 1))],
            "max": xs[-1]}
