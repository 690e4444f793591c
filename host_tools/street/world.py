"""The world of the simulated street (pure CPython, deterministic per scenario seed).

`build(scenario) -> World`. The world decides, once and ahead of time, everything the
devices' pins will see: the sky's illuminance, the people and vehicles moving along the
poles (each pole's motion sensor sees them while they are within its range, or misses them
at the scenario's miss rate), the car headlights that sweep a photocell, the waste deposits
at each inlet, and the faults. Devices then only react; the accounting compares what they
did with what the world did (host_tools.street.account).

Every random draw comes from a `random.Random` seeded with the scenario seed and the name
of the stream (sky, one per traffic kind, one per inlet), so adding an inlet does not move
the people, and the same seed gives the same world on any machine.

Model (details and sources in docs/street.md):
- Sky: sun elevation from the date and place (low-precision solar coordinates of the
  Astronomical Almanac, ~0.01 deg), clear-sky illuminance interpolated in log10(lux) through
  reference points (3.4 lx at the end of civil twilight, ~400 lx at sunset, 10^5 lx at high
  sun), dimmed by cloud cover (Kasten & Czeplak: 1 - 0.75 (N/8)^3.4) that wanders around the
  scenario's mean (an AR(1) process, 30-minute memory), sampled each minute.
- Traffic: arrivals are a Poisson process whose hourly rate follows the scenario's steps by
  local time (drawn by thinning); each trip has a log-normal speed and either runs the whole
  street or starts/ends at a door along it; direction is either way with equal odds.
- Sensors: a zone visit is [enter, exit] inside a pole's sensor_range_m either side; a seen
  visit raises the motion pin from enter until pir_hold_s after exit (the PIR's retrigger
  hold), overlapping highs merge into one pulse.
- Waste: deposits per inlet as a Poisson process by local time, sizes from the scenario's
  weighted bag sizes; bulk dumps at a constant daily rate.
"""

import math
import random

from agent import profile

from . import scenario as scn

LUX_REL_STEP = 0.03  # a new lux step when the sky moved this much (relative) ...
LUX_ABS_STEP = 0.05  # ... and at least this much (lx): the list stays a change list
SKY_DT_S = 60
CLOUD_MEMORY_MIN = 30
HEADLIGHT_SKY_MAX = 200  # lx: brighter than this, a headlight changes nothing that matters
# (elevation deg, log10 lux) of a clear sky: night sky glow, nautical and civil twilight,
# sunset, daylight (docs/street.md gives the sources).
_SKY_POINTS = ((-90, -3.0), (-18, -3.0), (-12, -2.1), (-6, 0.53), (-0.833, 2.6), (5, 3.6),
               (10, 4.0), (20, 4.5), (40, 4.85), (90, 5.05))


def sun_elevation(utc_s, lat, lon):
    """Sun elevation in degrees (geometric, no refraction), Astronomical Almanac
    low-precision formulas (good to about 0.01 deg in 1950..2050)."""
    n = utc_s / 86400.0 - 10957.5  # days from J2000.0 (2000-01-01 12:00 UTC)
    mean_lon = (280.460 + 0.9856474 * n) % 360
    g = math.radians((357.528 + 0.9856003 * n) % 360)
    ecl = math.radians(mean_lon + 1.915 * math.sin(g) + 0.020 * math.sin(2 * g))
    eps = math.radians(23.439 - 0.0000004 * n)
    ra = math.atan2(math.cos(eps) * math.sin(ecl), math.cos(ecl))
    dec = math.asin(math.sin(eps) * math.sin(ecl))
    gmst_h = (18.697374558 + 24.06570982441908 * n) % 24
    ha = math.radians(gmst_h * 15 + lon) - ra
    phi = math.radians(lat)
    s = math.sin(phi) * math.sin(dec) + math.cos(phi) * math.cos(dec) * math.cos(ha)
    return math.degrees(math.asin(max(-1.0, min(1.0, s))))


def clear_sky_lux(elevation_deg):
    """Horizontal illuminance of a clear sky (lx) at a sun elevation."""
    pts = _SKY_POINTS
    for (e0, l0), (e1, l1) in zip(pts, pts[1:], strict=False):
        if elevation_deg <= e1:
            f = (elevation_deg - e0) / (e1 - e0)
            return 10 ** (l0 + f * (l1 - l0))
    return 10 ** pts[-1][1]


def cloud_factor(cover):
    """Share of clear-sky light that passes a cloud cover 0..1 (Kasten & Czeplak 1980)."""
    return 1 - 0.75 * cover ** 3.4


def _rng(s, stream):
    return random.Random(f"{s['seed']}:{stream}")


def _rate_steps(steps):
    return [(profile.step_minute(t), r) for t, r in steps]


def _poisson(rng, s, steps, t0, t1):
    """Arrival times in [t0, t1) of a Poisson process with the hourly rate `steps` by local
    time (thinning: draw at the top rate, keep each with rate(t) / top)."""
    steps = _rate_steps(steps)
    top = max(r for _, r in steps)
    out = []
    if top <= 0:
        return out
    t = t0
    while True:
        t += rng.expovariate(top / 3600.0)
        if t >= t1:
            return out
        rate = profile.level_at(steps, scn.local_minute(s, t))
        if rng.random() * top < rate:
            out.append(t)


def _merge(spans):
    """Union of [a, b] spans, sorted."""
    out = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            if b > out[-1][1]:
                out[-1][1] = b
        else:
            out.append([a, b])
    return out


def _cut(spans, holes):
    """spans minus holes (both lists of [a, b])."""
    out = []
    for a, b in spans:
        pieces = [[a, b]]
        for h0, h1 in holes:
            nxt = []
            for p0, p1 in pieces:
                if h1 <= p0 or h0 >= p1:
                    nxt.append([p0, p1])
                    continue
                if p0 < h0:
                    nxt.append([p0, h0])
                if h1 < p1:
                    nxt.append([h1, p1])
            pieces = nxt
        out += pieces
    return out


class World:
    """What happens on the street; see the module docstring. Times are UTC epoch seconds."""

    def __init__(self, s):
        self.scenario = s
        self.start, self.end = s["start_wall"], s["end_wall"]
        self.light = scn.light_settings(s)
        self.poles = scn.pole_ids(s)  # [(id, position_m)]
        self.inlets = scn.inlet_ids(s)  # [(id, branch)]
        self.log = []  # every event, dicts with "t" (wall s) and "kind", sorted by t
        self._sky()
        self._traffic()
        self._waste()
        self._faults()
        self.log.sort(key=lambda e: (e["t"], e["kind"]))

    # ---- sky ----

    def _sky(self):
        s = self.scenario
        sky, place = s["sky"], s["place"]
        rng = _rng(s, "sky")
        a = math.exp(-1.0 / CLOUD_MEMORY_MIN)
        x = rng.gauss(0, 1)
        self.sky_t, self.sky_lux, self.sky_cloud = [], [], []
        t = self.start - SKY_DT_S
        while t <= self.end + SKY_DT_S:
            cover = min(1.0, max(0.0, sky["cloud"] + sky["cloud_sd"] * x))
            lux = clear_sky_lux(sun_elevation(t, place["lat"], place["lon"])) * \
                cloud_factor(cover)
            self.sky_t.append(t)
            self.sky_lux.append(lux)
            self.sky_cloud.append(cover)
            x = a * x + math.sqrt(1 - a * a) * rng.gauss(0, 1)
            t += SKY_DT_S
        # Nights as a plain photocell with the devices' thresholds sees them (no delay, no
        # headlights): on below on_lux, off above off_lux. The always-on baseline and the
        # dark-encounter rule use these spans.
        on_lux, off_lux = self.light["on_lux"], self.light["off_lux"]
        self.nights = []
        lit = self.sky_lux[0] < on_lux
        since = self.start if lit else None
        for t, lux in zip(self.sky_t, self.sky_lux, strict=True):
            if not lit and lux < on_lux:
                lit, since = True, max(t, self.start)
            elif lit and lux > off_lux:
                lit = False
                if t > self.start:
                    self.nights.append((since, min(t, self.end)))
        if lit:
            self.nights.append((since, self.end))
        self.nights = [(a, b) for a, b in self.nights if b > a and a < self.end]

    def sky(self, t):
        """Sky illuminance (lx) at wall time t (the minute's sample; no headlights)."""
        i = int((t - self.sky_t[0]) // SKY_DT_S)
        return self.sky_lux[max(0, min(i, len(self.sky_lux) - 1))]

    def is_night(self, t):
        return any(a <= t < b for a, b in self.nights)

    # ---- people and vehicles ----

    def _traffic(self):
        s = self.scenario
        rng_range = s["poles"]["sensor_range_m"]
        xs = [x for _, x in self.poles]
        margin = s["poles"]["spacing_m"] / 2 + rng_range
        lo, hi = xs[0] - margin, xs[-1] + margin
        miss = s["poles"]["miss_rate"]
        self.passages = []
        n = 0
        for kind in scn.TRAFFIC_KINDS:
            tr = s["traffic"][kind]
            rng = _rng(s, kind)
            for t0 in _poisson(rng, s, tr["per_hour"], self.start, self.end):
                n += 1
                v = tr["speed_m_s"] * math.exp(tr["speed_sd"] * rng.gauss(0, 1))
                v = min(max(v, 0.2 * tr["speed_m_s"]), 3 * tr["speed_m_s"])
                ends = (lo, hi) if rng.random() < 0.5 else (hi, lo)
                if rng.random() >= tr["through_share"]:  # to or from a door
                    door = rng.uniform(xs[0], xs[-1])
                    ends = (ends[0], door) if rng.random() < 0.5 else (door, ends[1])
                x0, x1 = ends
                zones = []
                for pid, x in self.poles:
                    a, b = max(min(x0, x1), x - rng_range), min(max(x0, x1), x + rng_range)
                    if a >= b:
                        continue
                    d_in, d_out = (a - x0, b - x0) if x1 > x0 else (x0 - b, x0 - a)
                    seen = rng.random() >= miss
                    zones.append([pid, round(t0 + d_in / v, 3), round(t0 + d_out / v, 3),
                                  seen])
                p = {"t": round(t0, 3), "kind": "passage", "who": f"{kind}-{n}", "type": kind,
                     "speed_m_s": round(v, 2), "from_m": round(x0, 1), "to_m": round(x1, 1),
                     "zones": zones}
                self.passages.append(p)
                self.log.append(p)

    # ---- waste ----

    def _waste(self):
        s = self.scenario
        w = s["waste"]
        sizes = [v for v, _ in w["bag_l"]]
        weights = [k for _, k in w["bag_l"]]
        self.deposits = {}
        self.start_levels = {}
        for iid, branch in self.inlets:
            rng = _rng(s, iid)
            lv = s["inlets"]["start_level"] + rng.uniform(-0.2, 0.2)
            self.start_levels[iid] = round(min(0.9, max(0.0, lv)), 3)
            out = [(t, rng.choices(sizes, weights)[0], False)
                   for t in _poisson(rng, s, w["per_hour"], self.start, self.end)]
            if w["bulk_per_day"] > 0:
                t = self.start
                while True:
                    t += rng.expovariate(w["bulk_per_day"] / 86400.0)
                    if t >= self.end:
                        break
                    out.append((t, w["bulk_l"], True))
            out.sort()
            self.deposits[iid] = [[round(t, 3), litres, bulk] for t, litres, bulk in out]
            for t, litres, bulk in self.deposits[iid]:
                self.log.append({"t": t, "kind": "deposit", "inlet": iid, "branch": branch,
                                 "litres": litres, "bulk": bulk})

    # ---- faults ----

    def _faults(self):
        s = self.scenario
        self.sensor_faults = {}  # device id -> [{"kind", "from", "to"}]
        for f in s["faults"]["sensors"]:
            pid = self.poles[f["pole"] - 1][0]
            t = scn.wall_at(s, f["at"])
            e = {"t": t, "kind": "fault", "fault": f["kind"], "device": pid,
                 "from": t, "to": t + f["minutes"] * 60}
            self.sensor_faults.setdefault(pid, []).append(
                {"kind": f["kind"], "from": t, "to": e["to"]})
            self.log.append(e)
        self.outages = []
        for f in s["faults"]["broker_outages"]:
            t = scn.wall_at(s, f["at"])
            self.outages.append((t, f["minutes"]))
            self.log.append({"t": t, "kind": "outage", "minutes": f["minutes"]})

    # ---- what a device's pins see ----

    def visits(self, pole_id):
        """[(passage, enter, exit, seen)] of everyone who came within the pole's range."""
        out = []
        for p in self.passages:
            for pid, a, b, seen in p["zones"]:
                if pid == pole_id:
                    out.append((p, a, b, seen))
        return out

    def _motion(self, pole_id):
        hold = self.scenario["poles"]["pir_hold_s"]
        spans = [[a, b + hold] for _, a, b, seen in self.visits(pole_id) if seen]
        faults = self.sensor_faults.get(pole_id, [])
        spans = _cut(spans, [[f["from"], f["to"]] for f in faults
                             if f["kind"] in ("motion_dead", "motion_stuck")])
        spans += [[f["from"], f["to"]] for f in faults if f["kind"] == "motion_stuck"]
        return [[round(a, 3), int(round((b - a) * 1000))] for a, b in _merge(spans)
                if b > a and a < self.end]

    def _lux(self, pole_id):
        """[(wall s, lux)] change list: the sky, a headlight sweep now and then, and a
        photocell fault (covered: reads 0)."""
        sky = self.scenario["sky"]
        sweeps = []
        if sky["headlight_lux"] > 0 and sky["headlight_share"] > 0:
            rng = _rng(self.scenario, "headlights:" + pole_id)
            for p, a, _, _ in self.visits(pole_id):
                if p["type"] == "car" and rng.random() < sky["headlight_share"] and \
                        self.sky(a) < HEADLIGHT_SKY_MAX:
                    sweeps.append([a, a + sky["headlight_s"]])
        sweeps = _merge(sweeps)
        dark = _merge([[f["from"], f["to"]] for f in self.sensor_faults.get(pole_id, [])
                       if f["kind"] == "photocell_dark"])
        # boundaries at which the reading may change
        times = sorted({t for t in self.sky_t if self.start - SKY_DT_S <= t < self.end}
                       | {t for sp in sweeps + dark for t in sp if t < self.end})
        out = []
        last = None
        for t in times:
            if any(a <= t < b for a, b in dark):
                lux = 0.0
            else:
                lux = self.sky(t)
                if any(a <= t < b for a, b in sweeps):
                    lux += sky["headlight_lux"]
            if last is None or abs(lux - last) >= max(LUX_ABS_STEP, LUX_REL_STEP * last) or \
                    (lux == 0) != (last == 0):
                out.append([round(max(t, self.start - SKY_DT_S), 3), _round_lux(lux)])
                last = lux
        return out

    def stimuli_for(self, device_id):
        """What the device's pins see over the scenario (JSON-able; the runner writes it as
        stimuli.json in the device folder and host_tools/simboard/simstreet.py plays it).
        All times are UTC epoch seconds (floats, ms resolution)."""
        base = {"id": device_id, "start_wall": self.start, "end_wall": self.end,
                "faults": self.sensor_faults.get(device_id, [])}
        if device_id in dict(self.poles):
            base.update({"role": "streetlight", "lux": self._lux(device_id),
                         "motion": self._motion(device_id)})
            return base
        if device_id in dict(self.inlets):
            base.update({"role": "inlet", "capacity_l": self.scenario["inlets"]["capacity_l"],
                         "start_level": self.start_levels[device_id],
                         "deposits": [[t, litres] for t, litres, _ in
                                      self.deposits[device_id]]})
            return base
        raise KeyError(f"{device_id}: not a device of this street (have "
                       f"{', '.join(self.device_ids())})")

    def device_ids(self):
        return [d for d, _ in self.poles] + [d for d, _ in self.inlets]

    def counts(self):
        """Arrivals per traffic kind and deposits per inlet (for reports and tests)."""
        out = {k: 0 for k in scn.TRAFFIC_KINDS}
        for p in self.passages:
            out[p["type"]] += 1
        return {"passages": out, "deposits": {i: len(d) for i, d in self.deposits.items()}}


def _round_lux(lux):
    if lux >= 100:
        return round(lux)
    return round(lux, 3)


def build(s):
    """The world of a loaded scenario (host_tools.street.scenario.load)."""
    return World(s)
