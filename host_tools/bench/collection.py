"""Collection benchmark: overflow minutes, fan starts, valve openings and station energy of
fixed emptying schedules, the offline oracle and (from a street run) this policy, on the
deposits of the simulated street (World.deposits).

Every figure of energy and starts comes from the station's own cost model
(host_tools.station.cost.CostModel, through its Coordinator) so schedules and the policy are
costed alike: 110 kW per branch's fan, a start worth 30 s of running, 2 Wh a valve opening.

SCHEDULE every N h: at each local time whose hour is a multiple of N (00:00, N:00, ...)
every inlet asks "must"; the reference Coordinator (its defaults: spin-up 20 s, one valve
at a time, 20 s of transport after each discharge, 10 s run-down) grants them one by one;
an inlet opens 1 s after its grant, closes open_s later (its config's inlet.open_s), which
empties it (level 0), and reports done 2 s after closing. Overflow minutes are counted by
account.overflow_minutes on the resulting fill trace (level = litres / capacity, above 1.0
overflowing: deposits into a full inlet are kept, as a bag left on the lid is).

OFFLINE ORACLE (knows every deposit). Fan starts: EXACT minimum per branch. A run empties
every inlet of its branch at once (emptying more never hurts); greedy places each run at the
last moment before a deposit would push some inlet of the branch over full, then starts
again from empty inlets. Any feasible schedule's k-th run is no later than greedy's k-th
(induction: after a run at or before greedy's, every inlet holds at least as much, so its
next deadline comes no later), so it has at least as many runs. Discharges: the same
greedy per inlet gives each inlet's exact minimum. Energy: a PROVEN LOWER BOUND for any
schedule on this station: a run of k discharges keeps its fan on at least spin-up +
k * open_s + (k - 1) * transport + run-down, so with R runs and D discharges at their minima
E >= kW * (R * (start_equiv + spinup + rundown - transport) + D * (open_s + transport))
+ D * valve_wh. Not necessarily reachable (no real run is instantaneous).
A deposit larger than a whole inlet overflows whatever anyone does: counted apart as
unavoidable.
"""

import heapq

from agent import config, vacuum
from host_tools.station.coordinator import Coordinator
from host_tools.street import account
from host_tools.street import scenario as scn

GRANT_TO_OPEN_S = 1.0
CLOSED_TO_DONE_S = 2.0
SCHEDULES_H = (2, 4)


def inlet_settings(s):
    """The inlet's config section as the street's devices get it (defaults + device_config)."""
    cfg = {"device": {"id": "probe", "role": "inlet"}, "mqtt": {"host": "h"},
           "inlet": dict(s["device_config"].get("inlet", {}), branch="b")}
    return config.load(cfg)["inlet"]


def inlets_of(s, world):
    """{inlet id: {branch, start_level, capacity_l, deposits [(t, litres)]}}."""
    cap = s["inlets"]["capacity_l"]
    return {iid: {"branch": br, "start_level": world.start_levels[iid], "capacity_l": cap,
                  "deposits": [(float(t), float(litres)) for t, litres, _ in
                               world.deposits[iid]]}
            for iid, br in world.inlets}


def fill_trace(inlet, empties, t0):
    """[(t, level)] from the start level, the deposits and the times it was emptied (to 0)."""
    cap = inlet["capacity_l"]
    events = [(t, 1, litres) for t, litres in inlet["deposits"]] + \
        [(t, 0, 0.0) for t in empties]
    events.sort()  # an emptying at the same moment as a deposit goes first
    level = inlet["start_level"]
    out = [(t0, level)]
    for t, kind, litres in events:
        level = level + litres / cap if kind else 0.0
        out.append((t, level))
    return out


def overflow_of(inlets, empties, t0, end):
    """{inlet id: overflow minutes} given {inlet id: [emptying times]}."""
    return {iid: account.overflow_minutes(fill_trace(inl, empties.get(iid, []), t0), end)
            for iid, inl in inlets.items()}


# ---- fixed schedules through the coordinator ----

def schedule_times(s, world, every_h):
    """Wall times in [start, end) whose local time is a multiple of every_h hours."""
    t = world.start + (-world.start) % 60  # the first whole minute
    out = []
    while t < world.end:
        if scn.local_minute(s, t) % (every_h * 60) == 0:
            out.append(t)
        t += 60
    return out


def run_coordinator(inlets, asks, t0, end, open_s, coord=None):
    """Drive a Coordinator with well-behaved inlets. asks: sorted [(wall t, [inlet ids])]:
    when each inlet says "must" (and "none" once emptied). Returns (cost report, {inlet id:
    [emptying times]}, runs)."""
    coord = coord or Coordinator()
    ms = lambda t: (t - t0) * 1000  # noqa: E731
    queue: list = []
    seq = [0]

    def later(at_ms, kind, who, cycle=None):
        seq[0] += 1
        heapq.heappush(queue, (at_ms, seq[0], kind, who, cycle))

    def state(iid, req, now):
        coord.on_state(iid, {"branch": inlets[iid]["branch"], "request": req, "priority": 0,
                             "ttf_s": None, "ttf_err_s": 0}, now)

    for iid in inlets:
        state(iid, vacuum.REQ_NONE, 0.0)
    for t, who in asks:
        for iid in who:
            later(ms(t), "ask", iid)
    empties: dict = {iid: [] for iid in inlets}
    now = 0.0
    stop_ms = ms(end) + 3600_000  # let the last run finish
    while now <= stop_ms:
        for act in coord.tick(now):
            if act[0] == "publish" and act[2].get("t") == "grant":
                f = act[2]
                later(now + GRANT_TO_OPEN_S * 1000, vacuum.STEP_OPENED, f["id"], f["cycle"])
                later(now + (GRANT_TO_OPEN_S + open_s) * 1000, vacuum.STEP_CLOSED, f["id"],
                      f["cycle"])
                later(now + (GRANT_TO_OPEN_S + open_s + CLOSED_TO_DONE_S) * 1000,
                      vacuum.STEP_DONE, f["id"], f["cycle"])
        if not queue and not coord.cost.running() and now >= ms(end):
            break
        nxt = now + coord.next_due_ms(now)
        if queue:
            nxt = min(nxt, queue[0][0])
        now = max(nxt, now + 1)
        while queue and queue[0][0] <= now:
            at, _, kind, iid, cycle = heapq.heappop(queue)
            if kind == "ask":
                state(iid, vacuum.REQ_MUST, at)
                continue
            coord.on_event(iid, vacuum.discharge_event(cycle, kind), at)
            if kind == vacuum.STEP_CLOSED:
                empties[iid].append(t0 + at / 1000)
            elif kind == vacuum.STEP_DONE:
                state(iid, vacuum.REQ_NONE, at)
    return coord.cost.report(now), empties, list(coord.runs)


def schedule(s, world, every_h, inlets=None):
    inlets = inlets or inlets_of(s, world)
    asks = [(t, sorted(inlets)) for t in schedule_times(s, world, every_h)]
    open_s = inlet_settings(s)["open_s"]
    report, empties, _ = run_coordinator(inlets, asks, world.start, world.end, open_s)
    return _row(report, overflow_of(inlets, empties, world.start, world.end))


def _row(report, overflow):
    return {"overflow_minutes": sum(overflow.values()), "overflow_by_inlet": overflow,
            "fan_starts": report["fan_starts"], "valve_openings": report["valve_openings"],
            "fan_s": round(report["fan_s"], 1), "kwh": round(report["kwh"], 3),
            "exact": True}


# ---- the offline oracle ----

def greedy_runs(members, t0, end):
    """(run times, unavoidable overflows) for inlets emptied together, each run at the last
    moment before a deposit would overflow one of them (module docstring)."""
    events = sorted((t, iid, litres / m["capacity_l"]) for iid, m in members.items()
                    for t, litres in m["deposits"] if t0 <= t < end)
    level = {iid: m["start_level"] for iid, m in members.items()}
    runs, unavoidable = [], 0
    for t, iid, add in events:
        if level[iid] + add > account.OVERFLOW:
            if add > account.OVERFLOW:  # no emptying can take this one: it overflows anyway
                unavoidable += 1
                level[iid] += add
                continue
            runs.append(t)  # just before this deposit: everyone on the branch emptied
            level = dict.fromkeys(level, 0.0)
        level[iid] += add
    return runs, unavoidable


def oracle(s, world, inlets=None, coord=None):
    inlets = inlets or inlets_of(s, world)
    coord = coord or Coordinator()
    cost = coord.cost
    open_s = inlet_settings(s)["open_s"]
    branches: dict = {}
    for iid, inl in inlets.items():
        branches.setdefault(inl["branch"], {})[iid] = inl
    runs, unavoidable = 0, 0
    for members in branches.values():
        r, u = greedy_runs(members, world.start, world.end)
        runs += len(r)
        unavoidable += u
    discharges = sum(len(greedy_runs({iid: inl}, world.start, world.end)[0])
                     for iid, inl in inlets.items())
    per_run_s = cost.start_equiv_s + coord.spinup_s + coord.rundown_s - coord.transport_s
    per_dis_s = open_s + coord.transport_s
    fan_kwh = cost.fan_kw * (runs * per_run_s + discharges * per_dis_s) / 3600
    return {"overflow_minutes": 0, "unavoidable_overflows": unavoidable, "fan_starts": runs,
            "valve_openings": discharges,
            "fan_s": round(runs * (coord.spinup_s + coord.rundown_s - coord.transport_s) +
                           discharges * per_dis_s, 1),
            "kwh": round(fan_kwh + discharges * cost.valve_wh / 1000, 3), "exact": False,
            "starts_exact": True}


# ---- this policy, from a street run ----

def controller(s, world, result):
    """The policy's row from a street run's result (host_tools.street.run): overflow minutes
    from the inlets' histories (account.score), starts and energy from the station's report."""
    rep = (result.get("station") or {}).get("report") or {}
    inl = result["score"]["inlets"]
    overflow = {iid: r.get("overflow_minutes", 0) for iid, r in inl.items()}
    return {"overflow_minutes": sum(overflow.values()), "overflow_by_inlet": overflow,
            "fan_starts": rep.get("fan_starts", 0), "valve_openings": rep.get("valve_openings",
                                                                                0),
            "fan_s": round(rep.get("fan_s", 0.0), 1), "kwh": round(rep.get("kwh", 0.0), 3),
            "discharges": sum(r.get("discharges", 0) for r in inl.values()), "exact": True}


def nominal_kwh(s, fan_starts, valve_openings, coord=None):
    """Station energy of a count of fan starts and valve openings at the coordinator's nominal
    timing (the oracle bound's formula): a street run faster than real time stretches every
    real millisecond of message latency into seconds of fan running, so its measured kWh
    overstates what the same decisions cost on a real street."""
    coord = coord or Coordinator()
    cost = coord.cost
    per_run_s = cost.start_equiv_s + coord.spinup_s + coord.rundown_s - coord.transport_s
    per_dis_s = inlet_settings(s)["open_s"] + coord.transport_s
    return round(cost.fan_kw * (fan_starts * per_run_s + valve_openings * per_dis_s) / 3600 +
                 valve_openings * cost.valve_wh / 1000, 3)


def bench(s, world, result=None, inproc=None):
    """The collection table of one scenario (None when it has no inlets); result: a street
    run's, inproc: the in-process street's (bench/inproc.py)."""
    if not world.inlets:
        return None
    inlets = inlets_of(s, world)
    rows = {f"every_{h}h": schedule(s, world, h, inlets) for h in SCHEDULES_H}
    rows["oracle"] = oracle(s, world, inlets)
    if result is not None:
        rows["controller"] = controller(s, world, result)
    if inproc is not None and (inproc.get("station") or {}).get("report"):
        rows["controller_inproc"] = controller(s, world, inproc)
    orc = rows["oracle"]["kwh"]
    for r in rows.values():
        r["kwh_nominal"] = nominal_kwh(s, r["fan_starts"], r["valve_openings"])
        r["x_oracle_kwh"] = round(r["kwh"] / orc, 3) if orc else None
        r["x_oracle_nominal"] = round(r["kwh_nominal"] / orc, 3) if orc else None
    return {"inlets": len(inlets), "branches": sorted({i["branch"] for i in inlets.values()}),
            "capacity_l": s["inlets"]["capacity_l"], "hours": s["hours"],
            "deposits": sum(len(i["deposits"]) for i in inlets.values()),
            "litres": round(sum(x for i in inlets.values() for _, x in i["deposits"]), 1),
            "open_s": inlet_settings(s)["open_s"], "cost_params": Coordinator().cost.report()[
                "params"], "rows": rows}
