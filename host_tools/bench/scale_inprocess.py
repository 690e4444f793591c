"""Issue 14's scale question, in-process: how many agents run in REAL TIME on this machine?

    python -m host_tools.bench.scale_inprocess [N ...] [--window S] [--no-broker] [--profile]

N agents (streetlights and inlets of the busy square, at 20:40 local in July: people about,
bins filling) run as in-process agents (host_tools/street/inprocess.py) paced at real time
(speed 1) for a window (60 s), each with its own MQTT session on a private Mosquitto (or,
--no-broker, on the in-process bus). The street is tiled: one world of TILE_POLES poles and
TILE_INLETS inlets, copied with each copy's events shifted by its own offset (so N poles are
not one 300 km street whose walkers never reach most of them), each copy its own light-ahead
group, every inlet on the square's two pipe branches (one station for all).

Reported per N (measure() returns the dict; figures() runs the usual Ns for the report):
  cpu_cores          this process's CPU over the window (/proc/self/stat) / window
  cpu_us_per_agent_s its CPU per agent per second of the window: a busy host (other
                     processes on the cores) makes it fall behind, not cost more
  broker_cores       Mosquitto's CPU over the window (/proc/<pid>/stat)
  published_per_s    messages the agents published, delivered_per_s what they received
  lateness           how far behind their due time (real ms) the agents' ticks ran
  keeps_up           p99 lateness <= 100 ms and no tick later than 1 s
  station            the reference station's throughput on the inlets' messages (their
                     boot burst and the window), replayed through StationService._handle
                     and Coordinator.tick as fast as it goes (msgs_per_s), against what
                     the inlets sent
--profile: cProfile of the largest N, the top functions by own time.
"""

import argparse
import cProfile
import io
import json
import os
import pstats
import resource
import sys
import time

from host_tools.procstat import cpu_s as _cpu_s
from host_tools.street import devices, inprocess, world
from host_tools.street import scenario as scn

TILE_POLES = 8
TILE_INLETS = 2
SHIFT_S = 600  # each copy's events are shifted by up to this much
LEAD_S = 10.0  # boots spread over this before the window (at least)
BOOTS_PER_S = 500  # ... and no more boots (sessions opened, configs checked) a second
KEEP_UP_P99_MS = 100.0
KEEP_UP_MAX_MS = 1000.0
DEFAULT_NS = (1000, 5000, 10000)
BRANCH_INLETS = 50
CHUNK_S = 10
STARVED_BELOW = 0.9  # of one core


class TiledWorld:
    """`tiles` copies of one street's world; copy i's devices are t<i>-<base id>. With
    parts > 1, only the copies i % parts == part (one worker process's share)."""

    def __init__(self, base_world, tiles, window_start, part=0, parts=1):
        self.base = base_world
        self.tiles = tiles
        self.t0 = window_start
        self.outages = []
        ids = base_world.device_ids()
        mine = [i for i in range(tiles) if i % parts == part]
        self._ids = [f"t{i}-{d}" for i in mine for d in ids]
        self.inlets = [(f"t{i}-{d}", b) for i in mine for d, b in base_world.inlets]
        self._inlet_rank = {d: k for k, d in enumerate(
            f"t{i}-{d}" for i in range(tiles) for d, _ in base_world.inlets)}
        self._cache = {}

    def branch_of(self, dev_id):
        """The inlets' pipe branches: BRANCH_INLETS consecutive inlets on each."""
        return "b%d" % (self._inlet_rank[dev_id] // BRANCH_INLETS)

    def device_ids(self):
        return self._ids

    def split(self, dev_id):
        tile, base = dev_id.split("-", 1)
        return int(tile[1:]), base

    def stimuli_for(self, dev_id):
        i, base = self.split(dev_id)
        st = self._cache.get(base)
        if st is None:
            st = self._cache[base] = self.base.stimuli_for(base)
        off = (i * 0.6180339887) % 1.0 * SHIFT_S  # golden-ratio spread of the copies
        out = dict(st, id=dev_id)
        if "motion" in st:
            out["motion"] = [[t + off, w] for t, w in st["motion"]]
        if "deposits" in st:
            out["deposits"] = [[d[0] + off] + list(d[1:]) for d in st["deposits"]]
        return out


def _street(n, window_s, part=0, parts=1):
    raw = json.loads(scn.path_of("square").read_text())
    raw["start"] = "20:30"
    hours = (SHIFT_S + window_s + 60) / 3600
    s = scn.build(raw, poles=TILE_POLES, inlets=TILE_INLETS, hours=hours,
                  source=str(scn.path_of("square")))
    base = world.build(s)
    tiles = max(1, round(n / (TILE_POLES + TILE_INLETS)))
    t0 = s["start_wall"] + SHIFT_S
    return s, base, TiledWorld(base, tiles, t0, part, parts), t0


def _station_replay(messages, prefix, site):
    """The station's own handling of a window's inlet messages, as fast as it goes."""
    from host_tools.station.coordinator import Coordinator
    from host_tools.station.service import StationService

    clock = [0.0]
    svc = StationService("replay", 0, prefix, site, coordinator=Coordinator(first_cycle=1000),
                         clock_ms=lambda: clock[0], wall_s=lambda: 1.8e9,
                         client_id="bench-station")

    class _Null:
        def publish(self, *a, **k):
            pass

    svc.client = _Null()
    t0 = time.perf_counter()
    for t_ms, topic, payload in messages:
        clock[0] = t_ms
        svc._handle(("msg", topic, payload))
        for act in svc.coord.tick(t_ms):
            svc._act(act, t_ms)
    took = time.perf_counter() - t0
    return {"messages": len(messages), "replay_s": round(took, 3),
            "msgs_per_s": round(len(messages) / took) if took > 0 else None,
            "grants": len(svc.grants)}


def measure(n, window_s=60.0, broker=True, profile=False, say=print, workers=1):
    """Run about n agents at real time for window_s, split over `workers` processes (each
    its own share of the street's copies and its own MQTT sessions, one broker); the
    figures (module docstring)."""
    box = None
    host = port = None
    if broker:
        from host_tools.broker import Broker

        box = Broker().start()
        host, port = "127.0.0.1", box.port
    try:
        if workers <= 1:
            f = _part(n, window_s, host, port, box.proc.pid if box else None, 0, 1, None,
                      profile, say)
            return _merge([f], window_s)
        import multiprocessing as mp

        global _SYNC
        ctx = mp.get_context("fork")
        start = ctx.Value("q", 0)
        # inherited by the forked workers (synchronisation objects are not sent as arguments)
        _SYNC = (start, ctx.Barrier(workers, action=lambda: _set_start(start)))
        with ctx.Pool(workers) as pool:
            jobs = [pool.apply_async(_part, (n, window_s, host, port,
                                             box.proc.pid if box else None, i, workers,
                                             True, profile and i == 0))
                    for i in range(workers)]
            parts = [j.get() for j in jobs]
        return _merge(parts, window_s)
    finally:
        if box is not None:
            box.close()


_SYNC = None


def _set_start(value):
    value.value = time.monotonic_ns() + 500_000_000  # every worker past the barrier by then


def _merge(parts, window_s):
    """One run's figures from its workers' (their CPU added, lateness histograms merged,
    the inlets' messages of all replayed through one station)."""
    from host_tools.street.inprocess_engine import Lateness

    f = dict(parts[0])
    msgs = sorted(m for p in parts for m in p.pop("_inlet_msgs"))
    late, boot = Lateness(), Lateness()
    for p in parts:
        late.merge(p.pop("_late"))
        boot.merge(p.pop("_boot_late"))
    f.pop("_late", None)
    f.pop("_boot_late", None)
    f["workers"] = len(parts)
    f["late_max_per_chunk_ms"] = [max(c) for c in zip(*(p["late_max_per_chunk_ms"]
                                                         for p in parts), strict=False)]
    if len(parts) > 1:
        for k in ("agents", "sessions", "open_sockets", "inlet_boot_msgs"):
            f[k] = sum(p[k] or 0 for p in parts)
        for k in ("published_per_s", "delivered_per_s", "wakes_per_s", "inlet_msgs_per_s"):
            f[k] = round(sum(p[k] for p in parts), 1)
        f["cpu_cores"] = round(sum(p["cpu_cores"] for p in parts), 3)
        f["real_s"] = max(p["real_s"] for p in parts)
        f["speed_reached"] = min(p["speed_reached"] for p in parts)
        f["cpu_us_per_agent_s"] = round(f["cpu_cores"] / f["agents"] * 1e6, 1)
        f["cpu_cores_per_worker"] = [p["cpu_cores"] for p in parts]
        f["verdicts"] = [p["verdict"] for p in parts]
        f["loadavg"] = [min(p["loadavg"][0] for p in parts), max(p["loadavg"][1] for p in parts)]
    f["lateness"], f["boot_lateness"] = late.summary(), boot.summary()
    keeps_up = f["lateness"]["p99_ms_at_most"] <= KEEP_UP_P99_MS and \
        f["lateness"]["max_ms"] <= KEEP_UP_MAX_MS
    f["keeps_up"] = keeps_up
    if len(parts) > 1:
        busy = min(p["cpu_cores"] for p in parts)
        f["verdict"] = "keeps up" if keeps_up else \
            "starved" if busy < STARVED_BELOW else "could not keep up"
    f["station"] = _station_replay(msgs, f.pop("_prefix"), f.pop("_site"))
    for p in parts:
        p.pop("_prefix", None)
        p.pop("_site", None)
    return f


def _part(n, window_s, host, port, broker_pid, part, parts, sync, profile, say=print):
    """One worker's share of the street (all of it when parts == 1), run and measured."""
    s, _, tw, t0 = _street(n, window_s, part, parts)
    s2 = dict(s, start_wall=t0, end_wall=t0 + window_s)
    group = devices.street_group(s)

    def config_of(dev_id):
        i, base = tw.split(dev_id)
        raw = devices.config_for(s, base, host or "127.0.0.1", port or 1883)
        raw["device"] = dict(raw["device"], id=dev_id)
        if raw["device"]["role"] == "streetlight":
            raw["mqtt"] = dict(raw["mqtt"], group=f"{group}-{i}"[:32])
        else:
            raw["inlet"] = dict(raw["inlet"], branch=tw.branch_of(dev_id))
        return raw

    if part == 0:
        say(f"scale: {tw.tiles * (TILE_POLES + TILE_INLETS)} agents, {parts} process(es) ("
            f"{tw.tiles} copies of {TILE_POLES} poles + "
            f"{TILE_INLETS} inlets), {'Mosquitto' if host else 'in-process bus'}, "
            f"real time, {window_s:.0f} s window")
    lead_s = max(LEAD_S, n / BOOTS_PER_S)
    street = inprocess.InProcessStreet(s2, tw, host, port, speed=1.0, lead_s=lead_s,
                                       boot_spread_s=lead_s * 0.8, config_of=config_of,
                                       station=part == 0, say=say)
    inlet_msgs = []
    prefix = street.prefix
    inlet_root = f"{prefix}/{s['site']}/inlet/".encode()
    eng = street.engine

    def tap(topic, payload):
        if topic.startswith(inlet_root) and not topic.endswith((b"/telemetry", b"/diag")):
            inlet_msgs.append((float(eng.now), topic.decode(), bytes(payload)))

    (street.bus or street.sessions).tap = tap
    if sync:  # every worker built: one start for all
        start, barrier = _SYNC
        barrier.wait(timeout=900)
        while start.value == 0:
            time.sleep(0.01)
        eng.real0_ns = start.value
    if street.station is not None:
        street.station.start()
    boot_end = int(lead_s * 1000)
    figures = {"agents": len(street.agents), "window_s": window_s,
               "broker": "mosquitto" if host else "bus",
               "fd_limit": resource.getrlimit(resource.RLIMIT_NOFILE)[0]}
    prof = None
    try:
        eng.run_until(boot_end)
        sent0 = street.sessions.sent if street.sessions else street.bus.messages
        recv0 = street.sessions.received if street.sessions else 0
        booted_late = eng.late.summary()
        booted_raw = eng.late.raw()
        eng.late = type(eng.late)()
        boot_msgs = len(inlet_msgs)  # the boot burst stays in the replay: the station's
        # worst case (every inlet's boot event, state and online at once, as after an outage)
        load0 = os.getloadavg()[0]
        c0, b0, r0 = _cpu_s(), _cpu_s(broker_pid) if broker_pid else None, time.monotonic()
        if profile:
            prof = cProfile.Profile()
            prof.enable()
        total = type(eng.late)()
        chunk_max = []  # the worst lateness of each CHUNK_S: a transient or the whole window
        t = boot_end
        while t < street.end_ms:
            t = min(street.end_ms, t + CHUNK_S * 1000)
            eng.late = type(eng.late)()
            eng.run_until(t)
            chunk_max.append(round(eng.late.max_ms))
            total.merge(eng.late.raw())
        eng.late = total
        if prof is not None:
            prof.disable()
        real = time.monotonic() - r0
        c1, b1 = _cpu_s(), _cpu_s(broker_pid) if broker_pid else None
        sent = (street.sessions.sent if street.sessions else street.bus.messages) - sent0
        recv = (street.sessions.received if street.sessions else 0) - recv0
        late = eng.late.summary()
        keeps_up = late["p99_ms_at_most"] <= KEEP_UP_P99_MS and late["max_ms"] <= KEEP_UP_MAX_MS
        busy = (c1 - c0) / real  # of one core: the street runs on one thread
        figures.update({
            # the host's 1-minute load average at the start and end of the window (2 cores)
            "loadavg": [round(load0, 2), round(os.getloadavg()[0], 2)],
            # behind while using under STARVED_BELOW of a core: the CPU was not given to it
            # (a shared host), not too little CPU for the street
            "verdict": "keeps up" if keeps_up else
            "starved" if busy < STARVED_BELOW else "could not keep up",
            "real_s": round(real, 1),
            "cpu_cores": round((c1 - c0) / real, 3),
            # what one agent costs per second of its life, however busy the host: the
            # machine's cores over this is the most agents it can run at real time
            "cpu_us_per_agent_s": round((c1 - c0) / (len(street.agents) * window_s) * 1e6, 1),
            "speed_reached": round(window_s / real, 3),
            "broker_cores": round((b1 - b0) / real, 3) if broker_pid else None,
            "published_per_s": round(sent / real), "delivered_per_s": round(recv / real),
            "wakes_per_s": round(sum(a.wakes for a in street.agents) / (real + lead_s)),
            "lateness": late, "boot_lateness": booted_late,
            "keeps_up": keeps_up,
            "sessions": street.sessions.connects if street.sessions else None,
            "open_sockets": street.sessions.open_sockets() if street.sessions else None,
            "station_live": street.station.figures() if street.station else None,
            "inlet_msgs_per_s": round((len(inlet_msgs) - boot_msgs) / real, 1),
            "inlet_boot_msgs": boot_msgs})
        figures["late_max_per_chunk_ms"] = chunk_max
        figures.update({"_inlet_msgs": inlet_msgs, "_prefix": prefix, "_site": s["site"],
                        "_late": eng.late.raw(),
                        "_boot_late": booted_raw})
    finally:
        if street.station is not None:
            street.station.stop()
        if street.sessions is not None:
            street.sessions.close()
    if prof is not None:
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(15)
        figures["profile"] = out.getvalue()
    return figures


def figures(ns=DEFAULT_NS, window_s=60.0, broker=True, say=print, workers=2):
    """{N: measure(N)} for the report (host_tools/bench/__main__.py may call this), plus the
    largest N that kept up."""
    out = {}
    for n in ns:
        out[n] = measure(n, window_s, broker, say=say, workers=workers if n >= 2000 else 1)
        say(_line(out[n]))
    ok = [n for n, f in out.items() if f.get("keeps_up")]
    return {"runs": out, "largest_real_time": max(ok) if ok else None}


def _line(f):
    lt = f["lateness"]
    st = f.get("station") or {}
    return (f"{f['agents']:>6} agents: {f['cpu_cores']:.2f} cores, "
            f"{f['cpu_us_per_agent_s']} us per agent-second, speed {f['speed_reached']} (broker "
            f"{f['broker_cores'] if f['broker_cores'] is not None else '-'}), "
            f"{f['published_per_s']} msg/s out, {f['delivered_per_s']} in; late p50<="
            f"{lt['p50_ms_at_most']:.0f} p99<={lt['p99_ms_at_most']:.0f} max "
            f"{lt['max_ms']:.0f} ms; {f['verdict']} (load {f['loadavg'][0]}-{f['loadavg'][1]})"
            f"; "
            f"station: inlets sent {f['inlet_msgs_per_s']} msg/s (+{f['inlet_boot_msgs']} at "
            f"boot), it handles {st.get('msgs_per_s')} msg/s")


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m host_tools.bench.scale_inprocess",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("n", nargs="*", type=int, default=list(DEFAULT_NS))
    ap.add_argument("--window", type=float, default=60.0, help="real seconds (default 60)")
    ap.add_argument("--no-broker", action="store_true", help="the in-process bus instead")
    ap.add_argument("--profile", action="store_true", help="cProfile the largest N")
    ap.add_argument("--json", action="store_true", help="also print each run's figures")
    ap.add_argument("--workers", type=int, default=1,
                    help="processes to split the street over (each its own sessions)")
    a = ap.parse_args(argv)
    if any(n < 1 for n in a.n) or a.window <= 0 or a.workers < 1:
        ap.error("N, --window and --workers must be positive")
    for n in sorted(a.n):
        f = measure(n, a.window, not a.no_broker, profile=a.profile and n == max(a.n),
                    workers=a.workers)
        print(_line(f), flush=True)
        if a.json:
            print(json.dumps({k: v for k, v in f.items() if k != "profile"}, default=repr),
                  flush=True)
        if "profile" in f:
            print(f["profile"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
