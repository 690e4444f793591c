"""Scenarios of the simulated street: JSON data files (scenarios/*.json), validated here.

`load(name_or_path, poles=None, inlets=None, seed=0, hours=None)` returns the scenario as a
plain dict (JSON-able, so a report can embed it) with every default filled in and these
derived fields added: `seed`, `source` (the file), `start_wall` and `end_wall` (UTC epoch
seconds of the scenario's start and end), `utc_offset_min` (local offset at the start).

A bad file fails with one ScenarioError line naming the file and the field. The fields and
their meaning are documented in docs/street.md.
"""

import json
from pathlib import Path

from agent import civil, config

SCENARIOS = Path(__file__).resolve().parent / "scenarios"
DEFAULT = "residential"
TRAFFIC_KINDS = ("pedestrian", "cyclist", "car")
REQUIRED = object()


class ScenarioError(ValueError):
    """One line: the file and the field that is wrong."""


# field: (kind, default, lo, hi). Kinds: "num", "int", "str", "bool", "hhmm", "date",
# "steps" ([["HH:MM", rate], ...]: a rate by local time of day, each step holding until the
# next, wrapping over midnight), "weights" ([[value, weight], ...]), a tuple of allowed
# strings, "list" (checked by the section's own rule), "dict" (free-form, checked elsewhere).
_TRAFFIC = {
    "speed_m_s": ("num", REQUIRED, 0.1, 60),
    "speed_sd": ("num", 0.15, 0, 1),  # relative spread of speeds (log-normal)
    # Share of trips that run the whole street; the others start or end at a door along it.
    "through_share": ("num", 1.0, 0, 1),
    "per_hour": ("steps", REQUIRED, 0, 5000),
}
SCHEMA = {
    "title": ("str", REQUIRED, 1, 120),
    "place": {
        "name": ("str", REQUIRED, 1, 80),
        "lat": ("num", REQUIRED, -66, 66),  # beyond the polar circles a night may not end
        "lon": ("num", REQUIRED, -180, 180),
        "tz_offset_min": ("int", REQUIRED, -720, 840),  # standard time, east positive
        "dst": (("eu", "us", "none"), REQUIRED, None, None),
    },
    "date": ("date", REQUIRED, None, None),  # local date of the start
    "start": ("hhmm", "15:00", None, None),  # local time of the start
    "hours": ("num", 24, 0.05, 240),
    "site": ("str", "main", 1, 32),
    "poles": {
        "count": ("int", REQUIRED, 1, 200),
        "spacing_m": ("num", REQUIRED, 5, 200),
        "sensor_range_m": ("num", REQUIRED, 1, 50),  # a PIR sees this far either way
        "miss_rate": ("num", 0.0, 0, 1),  # share of zone visits the sensor misses
        "pir_hold_s": ("num", 2.5, 0.3, 60),  # the PIR output stays high at least this long
        "ahead_reach_m": ("num", 90, 0, 1000),
    },
    "lamp": {
        "watts": ("num", REQUIRED, 1, 2000),  # at 100 %
        "standby_w": ("num", 0.5, 0, 50),  # the driver and the node, always
        "lux_per_pct": ("num", REQUIRED, 0.001, 100),  # average on the road per % of level
    },
    "lighting": {
        "class": ("str", REQUIRED, 1, 16),
        "standard": ("str", "EN 13201-2:2015", 1, 64),
        "avg_lux": ("num", REQUIRED, 0.1, 100),  # maintained average the class requires
        "min_lux": ("num", 0, 0, 100),
        "note": ("str", "", 0, 300),
    },
    "encounter": {
        # A person is in the dark when the lamp is below its boost level this long after
        # entering the zone: the agent's detection, debounce and ramp all fit within it.
        "ramp_s": ("num", 2.0, 0, 60),
        "tolerance_pct": ("num", 0.5, 0, 10),
    },
    "sky": {
        "cloud": ("num", 0.4, 0, 1),  # mean cloud cover (oktas / 8)
        "cloud_sd": ("num", 0.2, 0, 1),  # how much the cover wanders around its mean
        "headlight_lux": ("num", 30, 0, 2000),  # a car's headlights on the photocell
        "headlight_share": ("num", 0.05, 0, 1),  # share of cars whose beam sweeps it
        "headlight_s": ("num", 1.5, 0.1, 30),
    },
    "traffic": {k: dict(_TRAFFIC) for k in TRAFFIC_KINDS},
    "inlets": {
        "count": ("int", 0, 0, 50),
        "branches": ("list", ["north"], None, None),  # inlets go round-robin on these
        "capacity_l": ("num", 120, 10, 5000),
        "start_level": ("num", 0.3, 0, 1),  # mean starting fill (each inlet +/- 0.2)
    },
    "waste": {
        "per_hour": ("steps", [["00:00", 0]], 0, 1000),  # deposits per inlet per hour
        "bag_l": ("weights", [[10, 1]], 0.1, 1000),  # [[litres, weight], ...]
        "bulk_per_day": ("num", 0, 0, 100),  # the odd bulk dump, per inlet per day
        "bulk_l": ("num", 80, 1, 5000),
    },
    "faults": {
        # [{"pole": 3, "at": "01:30", "minutes": 120, "kind": "motion_stuck"}, ...]
        "sensors": ("list", [], None, None),
        # [{"at": "23:30", "minutes": 10}, ...]: the broker is unreachable
        "broker_outages": ("list", [], None, None),
    },
    # Passed into every device's config.json (validated by agent.config): e.g. the boost
    # level, the night profile, the inlet's may_go. {"light": {...}, "inlet": {...}}
    "device_config": ("dict", {}, None, None),
}
SENSOR_FAULTS = ("motion_stuck", "motion_dead", "photocell_dark")


def _num(v):
    return type(v) is not bool and isinstance(v, (int, float)) and v == v and abs(v) != \
        float("inf")


def _date(v):
    try:
        y, m, d = (int(x) for x in v.split("-"))
    except (AttributeError, ValueError):
        return None
    if not (1970 <= y <= 2100 and 1 <= m <= 12 and 1 <= d <= 31):
        return None
    return y, m, d


def _check_field(path, spec, v):
    kind, _, lo, hi = spec
    if isinstance(kind, tuple):
        return None if v in kind else f"must be one of {', '.join(kind)}, got {v!r}"
    if kind in ("num", "int"):
        if not _num(v) or (kind == "int" and not isinstance(v, int)):
            return f"must be {'an integer' if kind == 'int' else 'a number'}, got {v!r}"
        if v < lo or v > hi:
            return f"must be within {lo}..{hi}, got {v!r}"
        return None
    if kind == "str":
        if not isinstance(v, str) or not lo <= len(v) <= hi:
            return f"must be a string of {lo}..{hi} characters, got {v!r}"
        return None
    if kind == "hhmm":
        return None if civil.minutes(v) is not None else f'must be "HH:MM", got {v!r}'
    if kind == "date":
        return None if _date(v) else f'must be a date "YYYY-MM-DD", got {v!r}'
    if kind == "steps":
        if not isinstance(v, list) or not v:
            return 'must be a list of ["HH:MM", rate] steps'
        seen = set()
        for step in v:
            if not (isinstance(step, list) and len(step) == 2):
                return f'each step must be ["HH:MM", rate], got {step!r}'
            m = civil.minutes(step[0])
            if m is None or m in seen:
                return f"step time {step[0]!r} is not HH:MM or appears twice"
            seen.add(m)
            if not _num(step[1]) or not lo <= step[1] <= hi:
                return f"step rate must be within {lo}..{hi}, got {step[1]!r}"
        return None
    if kind == "weights":
        if not isinstance(v, list) or not v:
            return "must be a list of [value, weight] pairs"
        for p in v:
            if not (isinstance(p, list) and len(p) == 2 and _num(p[0]) and _num(p[1])
                    and lo <= p[0] <= hi and p[1] > 0):
                return f"each entry must be [value {lo}..{hi}, weight > 0], got {p!r}"
        return None
    if kind == "list":
        return None if isinstance(v, list) else f"must be a list, got {v!r}"
    if kind == "dict":
        return None if isinstance(v, dict) else f"must be an object, got {v!r}"
    raise AssertionError(kind)


def _fill(schema, obj, where):
    if not isinstance(obj, dict):
        raise ScenarioError(f"{where or 'the file'}: must be an object, got {obj!r}")
    for k in obj:
        if k not in schema and not k.startswith("_"):  # "_comment" and the like are notes
            raise ScenarioError(f"{where}{k}: unknown field")
    out = {}
    for k, spec in schema.items():
        name = where + k
        if isinstance(spec, dict):
            out[k] = _fill(spec, obj.get(k, {}), name + ".")
            continue
        if k not in obj:
            if spec[1] is REQUIRED:
                raise ScenarioError(f"{name}: required, missing")
            out[k] = json.loads(json.dumps(spec[1]))  # a copy of the default
            continue
        err = _check_field(name, spec, obj[k])
        if err:
            raise ScenarioError(f"{name}: {err}")
        out[k] = obj[k]
    return out


def _cross_checks(s):
    inl = s["inlets"]
    if inl["count"]:
        b = inl["branches"]
        if not b or not all(isinstance(x, str) and config.field_error(
                ("id", None, 1, 32, None), x) is None for x in b):
            raise ScenarioError("inlets.branches: must be a list of ids (letters, digits, "
                                f"_ - .), got {b!r}")
    for i, f in enumerate(s["faults"]["sensors"]):
        where = f"faults.sensors[{i}]"
        if not isinstance(f, dict) or set(f) - {"pole", "at", "minutes", "kind"}:
            raise ScenarioError(f"{where}: must be {{pole, at, minutes, kind}}, got {f!r}")
        if f.get("kind") not in SENSOR_FAULTS:
            raise ScenarioError(f"{where}.kind: must be one of {', '.join(SENSOR_FAULTS)}")
        if not isinstance(f.get("pole"), int) or not 1 <= f["pole"] <= s["poles"]["count"]:
            raise ScenarioError(f"{where}.pole: must be a pole number "
                                f"1..{s['poles']['count']}, got {f.get('pole')!r}")
        _check_when(where, f)
    for i, f in enumerate(s["faults"]["broker_outages"]):
        where = f"faults.broker_outages[{i}]"
        if not isinstance(f, dict) or set(f) != {"at", "minutes"}:
            raise ScenarioError(f"{where}: must be {{at, minutes}}, got {f!r}")
        _check_when(where, f)
    dc = s["device_config"]
    if set(dc) - {"light", "inlet", "loop", "mqtt"}:
        raise ScenarioError("device_config: only light, inlet, loop and mqtt sections may be "
                            f"set, got {sorted(dc)}")
    for role, sec in (("streetlight", "light"), ("inlet", "inlet")):
        probe = {"device": {"id": "probe", "role": role}, "mqtt": {"host": "h"}}
        for k, v in dc.items():
            if k in ("loop", "mqtt") or k == sec:
                probe.setdefault(k, {}).update(v)
        if role == "inlet":
            probe.setdefault("inlet", {}).setdefault("branch", "b")
        _, errors = config.check(config.CONFIG, probe)
        if errors:
            raise ScenarioError(f"device_config.{errors[0]}")


def _check_when(where, f):
    if not isinstance(f.get("at"), str) or civil.minutes(f["at"]) is None:
        raise ScenarioError(f'{where}.at: must be "HH:MM", got {f.get("at")!r}')
    if not _num(f.get("minutes")) or not 0 < f["minutes"] <= 10000:
        raise ScenarioError(f"{where}.minutes: must be a number 0..10000, got "
                            f"{f.get('minutes')!r}")


def local_to_utc(y, m, d, minute, tz_offset_min, dst):
    """UTC epoch seconds of a local wall time (the offset that applies then, DST included)."""
    local = (civil.days_from_civil(y, m, d) + 10957) * 86400 + minute * 60
    utc = local - tz_offset_min * 60
    for _ in range(2):  # the offset at the guess, then at the corrected time
        utc = local - civil.local_offset_min(utc, tz_offset_min, dst) * 60
    return utc


def path_of(name_or_path):
    p = Path(name_or_path)
    if p.suffix == ".json" or p.exists():
        return p
    return SCENARIOS / f"{name_or_path}.json"


def names():
    """The scenarios shipped with the project."""
    return sorted(p.stem for p in SCENARIOS.glob("*.json"))


def load(name_or_path=DEFAULT, poles=None, inlets=None, seed=0, hours=None):
    """The scenario, validated and with overrides applied (see the module docstring)."""
    path = path_of(name_or_path)
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise ScenarioError(f"{name_or_path}: no such scenario (have: "
                            f"{', '.join(names())})") from None
    except (OSError, ValueError) as e:
        raise ScenarioError(f"{path}: not readable JSON: {e}") from None
    try:
        return build(raw, poles=poles, inlets=inlets, seed=seed, hours=hours,
                     source=str(path))
    except ScenarioError as e:
        raise ScenarioError(f"{path.name}: {e}") from None


def build(raw, poles=None, inlets=None, seed=0, hours=None, source="<dict>"):
    """As load(), from an already parsed object (tests build small scenarios in code)."""
    s = _fill(SCHEMA, raw, "")
    for name, v, lo, hi in (("poles", poles, 1, 200), ("inlets", inlets, 0, 50)):
        if v is not None:
            if not isinstance(v, int) or not lo <= v <= hi:
                raise ScenarioError(f"{name}: the override must be an integer {lo}..{hi}, "
                                    f"got {v!r}")
            s[name]["count"] = v
    if hours is not None:
        if not _num(hours) or not 0.05 <= hours <= 240:
            raise ScenarioError(f"hours: the override must be 0.05..240, got {hours!r}")
        s["hours"] = hours
    if not isinstance(seed, int):
        raise ScenarioError(f"seed: must be an integer, got {seed!r}")
    _cross_checks(s)
    place = s["place"]
    y, m, d = _date(s["date"])
    s["seed"] = seed
    s["source"] = source
    s["start_wall"] = local_to_utc(y, m, d, civil.minutes(s["start"]), place["tz_offset_min"],
                                   place["dst"])
    s["end_wall"] = s["start_wall"] + int(round(s["hours"] * 3600))
    s["utc_offset_min"] = civil.local_offset_min(s["start_wall"], place["tz_offset_min"],
                                                 place["dst"])
    return s


def wall_at(s, hhmm):
    """The first wall time (UTC epoch s) at or after the scenario's start whose local time
    is hhmm."""
    place = s["place"]
    start = s["start_wall"]
    now_min = civil.local_minute(start, place["tz_offset_min"], place["dst"])
    ahead = (civil.minutes(hhmm) - now_min) % 1440
    return start - start % 60 + ahead * 60 if ahead else start


def light_settings(s):
    """The streetlight's `light` config section as the devices get it (agent.config's
    defaults with the scenario's device_config applied): boost levels, the late window and
    the photocell thresholds the accounting and the sky's nights use."""
    cfg = {"device": {"id": "probe", "role": "streetlight"}, "mqtt": {"host": "h"},
           "light": dict(s["device_config"].get("light", {}))}
    return config.load(cfg)["light"]


def pole_ids(s):
    """[(device id, position m along the street)] of the scenario's poles."""
    n, dx = s["poles"]["count"], s["poles"]["spacing_m"]
    return [("pole-%02d" % (i + 1), round(i * dx, 3)) for i in range(n)]


def inlet_ids(s):
    """[(device id, pipe branch)] of the scenario's inlets, round-robin on the branches."""
    b = s["inlets"]["branches"]
    return [("inlet-%02d" % (i + 1), b[i % len(b)]) for i in range(s["inlets"]["count"])]


def local_minute(s, wall):
    place = s["place"]
    return civil.local_minute(int(wall), place["tz_offset_min"], place["dst"])
