"""The station's policy on a synthetic fill trace: a Coordinator against well-behaved
simulated inlets on a simulated clock, to compare batching with one inlet per fan run (the
coordinator's own tests, and any policy study). Kept apart from the pure coordinator."""

import heapq

from agent import vacuum

from .coordinator import Coordinator


class _SimInlet:
    def __init__(self, inlet_id, branch, level, rate_per_h, priority):
        self.id, self.branch, self.level = inlet_id, branch, level
        self.rate, self.priority = rate_per_h, priority
        self.request = None
        self.sent_ms = None


def simulate(fills, duration_s: float, batch: bool = True, must_go: float = 0.8,
             may_go: float = 0.5, heartbeat_s: float = 600, open_s: float = 5,
             step_s: float = 60, **coord_kw) -> dict:
    """Run a Coordinator against well-behaved simulated inlets that fill at a constant rate.

    fills: [(inlet_id, branch, start level 0..1, fill rate per hour, priority)]. An inlet asks
    "must" at must_go, "may" at may_go, and reports its time to full; granted, it opens 1 s
    later, closes after open_s, reports done 2 s later with its level back to 0. Returns
    {"report": cost report, "runs", "grants", "max_level": the fullest any inlet got}."""
    coord = Coordinator(batch=batch, **coord_kw)
    sims = {f[0]: _SimInlet(*f) for f in fills}
    queue: list = []  # (at_ms, seq, kind, inlet_id, payload)
    seq = [0]

    def later(at, kind, who, payload=None):
        seq[0] += 1
        heapq.heappush(queue, (at, seq[0], kind, who, payload))

    def request(s):
        return vacuum.REQ_MUST if s.level >= must_go else (
            vacuum.REQ_MAY if s.level >= may_go else vacuum.REQ_NONE)

    def state(s, now):
        req = request(s)
        ttf = None if s.rate <= 0 else max(0, (1 - s.level) / s.rate * 3600)
        s.request, s.sent_ms = req, now
        coord.on_state(s.id, {"branch": s.branch, "request": req, "priority": s.priority,
                              "ttf_s": ttf, "ttf_err_s": 0, "fillingLevel": s.level}, now)

    now = 0.0
    end = duration_s * 1000
    max_level = max((s.level for s in sims.values()), default=0.0)
    for s in sims.values():
        state(s, now)
    while now <= end:
        for act in coord.tick(now):
            if act[0] == "publish" and act[2].get("t") == "grant":
                f = act[2]
                later(now + 1000, vacuum.STEP_OPENED, f["id"], f["cycle"])
                later(now + 1000 + open_s * 1000, vacuum.STEP_CLOSED, f["id"], f["cycle"])
                later(now + 3000 + open_s * 1000, vacuum.STEP_DONE, f["id"], f["cycle"])
        nxt = min(now + step_s * 1000, now + coord.next_due_ms(now))
        if queue:
            nxt = min(nxt, queue[0][0])
        nxt = max(nxt, now + 1)
        for s in sims.values():
            s.level = min(1.0, s.level + s.rate * (nxt - now) / 3_600_000)
            max_level = max(max_level, s.level)
        now = nxt
        while queue and queue[0][0] <= now:
            _, _, kind, who, cycle = heapq.heappop(queue)
            coord.on_event(who, vacuum.discharge_event(cycle, kind), now)
            if kind == vacuum.STEP_DONE:
                sims[who].level = 0.0
                state(sims[who], now)
        for s in sims.values():
            if request(s) != s.request or now - s.sent_ms >= heartbeat_s * 1000:
                state(s, now)
    return {"report": coord.cost.report(now), "runs": list(coord.runs),
            "grants": list(coord.grants),
            "max_level": max_level}
