"""Scale: the station coordinator's throughput with 10,000 simulated inlets' messages fed to
it in-process, and what one agent's CPU at real time says about agents per machine."""

import random
import statistics
import time

from agent import vacuum
from host_tools.station.coordinator import Coordinator

INLETS = 10_000
BRANCHES = 100


def coordinator_throughput(rounds: int = 3, states_per_inlet: int = 3, seed: int = 1) -> dict:
    """States from INLETS inlets on BRANCHES branches (a random request each: none, may or
    must, with a time to full), a tick() after every 100 messages as the station's service
    does between reads, one simulated second apart. Medians over `rounds` fresh
    coordinators."""
    rng = random.Random(seed)
    reqs = (vacuum.REQ_NONE, vacuum.REQ_MAY, vacuum.REQ_MUST)
    msgs = [(f"inlet-{i:05d}", {"branch": f"b{i % BRANCHES}", "request": rng.choice(reqs),
                                "priority": 0, "ttf_s": rng.uniform(600, 86400),
                                "ttf_err_s": 60})
            for _ in range(states_per_inlet) for i in range(INLETS)]
    per_s, actions = [], []
    for _ in range(rounds):
        coord = Coordinator()
        now, n_act = 0.0, 0
        t0 = time.perf_counter()
        for k, (iid, st) in enumerate(msgs):
            coord.on_state(iid, st, now)
            if k % 100 == 99:
                now += 1000
                n_act += len(coord.tick(now))
        dt = time.perf_counter() - t0
        per_s.append(len(msgs) / dt)
        actions.append(n_act)
    return {"inlets": INLETS, "branches": BRANCHES, "messages": len(msgs), "rounds": rounds,
            "msgs_per_s_median": round(statistics.median(per_s)),
            "msgs_per_s_all": [round(x) for x in per_s], "actions": actions[0]}


def agents_per_machine(cpu_rows: list, cores: int) -> dict:
    """Extrapolations from the one-agent CPU figures (oneagent.cpu)."""
    out = {}
    for r in cpu_rows:
        per_agent = r["cores"] / r["speed"]  # cores one agent needs at real time, from here
        out[f"{r['speed']}x"] = {"cores_per_realtime_agent": per_agent,
                                 "agents_per_machine": int(cores / per_agent)
                                 if per_agent > 0 else None}
    return out
