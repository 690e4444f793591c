"""The vacuum station's decisions (pure: no MQTT, no clock; every input carries now_ms).

Each pipe branch runs its own cycle:

    fan off --demand--> spin-up --vacuum ready--> granting, one inlet at a time
        --nothing left for rundown_s--> fan off

- Demand (what starts a fan): an online inlet asking "must"; or start_may inlets of the
  branch asking at once (several bins at their may-go level are a run's worth); or, if
  start_ttf_s is set, a "may" inlet whose forecast is sure to reach full within it (the
  predicted time to full PLUS its error under start_ttf_s). A lone "may" does not start a
  fan: it waits to be taken along. Starting a run before something must go only empties
  bins earlier, so over a day it means more runs, not fewer (measured: docs/inlet.md).
  An uncertain forecast is no reason to run: the inlet asks "must" in time by itself.
- During a run the must-go inlets are emptied first, then (batching) the may-go inlets of the
  branch at or above the take-along level (take_along, on the fillingLevel they report),
  each group by priority (high first) then predicted time to full (soonest first). One fan
  start then serves many discharges, which is where the energy goes.
- One grant outstanding per branch: from its send until the inlet reports closed, done or
  aborted for that cycle, or until confirm_s passes ("no_confirm" alarm, a revoke, and nobody
  else is granted for guard_s because that valve may still be open). After a discharge that
  opened, the next valve waits transport_s: the plug must reach the station first.
- Grants carry vac=True and are only sent while the branch is at vacuum. Vacuum lost: the
  branch hears vacuum(False), the outstanding grant is revoked, and after vacuum_restored the
  spin-up time runs again before any grant. Never restored within giveup_s: the fan stops and
  the branch retries after retry_s.
- After a cycle ends, an inlet needs a fresh state (received after its "done", or the end)
  before it can be granted again: its retained state from before the discharge is stale.
- Offline inlets, and inlets reporting a valve fault, are not granted. An inlet that fails to
  confirm twice in a row is skipped for skip_s.

Actions returned by tick(): ("publish", branch, fields) with vacuum.grant/vacuum/revoke fields,
("alarm", branch, inlet_id or None, kind, detail dict) and ("fan", branch, on) for the fan
controls. Times are ms (ints or floats, CPython: no wrap); durations given in seconds.
"""

from collections import OrderedDict, deque

from agent import topics, vacuum

from .cost import CostModel

# Inlet "discharge" phase saying its valve is faulty: a grant would only be refused.
_VALVE_FAULT_PHASE = "fault"
# Aborts that are part of normal life (no alarm): the rest name a valve or inlet fault.
_BENIGN_ABORTS = ("revoked", "grant_expired", "vacuum", "not_requested", "busy", "link_lost",
                  "vacuum_lost", "repeat")
_CYCLES_KEPT = 1024  # grants remembered to match late or repeated events
_KEPT = 100000

BRANCH_KEYS = ("spinup_s", "transport_s", "rundown_s")


class _Grant:
    __slots__ = ("cycle", "inlet", "branch", "sent_ms", "deadline_ms", "opened", "ended",
                 "done", "revoked")

    def __init__(self, cycle, inlet, branch, sent_ms, deadline_ms):
        self.cycle = cycle
        self.inlet = inlet
        self.branch = branch
        self.sent_ms = sent_ms
        self.deadline_ms = deadline_ms
        self.opened = False  # an opened/closed/done step was heard (valve cost counted)
        self.ended = False  # no longer outstanding (confirmed or timed out)
        self.done = False  # "done" or "aborted" heard: later states are fresh
        self.revoked = False


class _Inlet:
    __slots__ = ("id", "branch", "online", "request", "priority", "ttf_s", "ttf_err_s",
                 "level", "state_ms", "fresh", "phase", "fails", "skip_until", "last_cycle")

    def __init__(self, inlet_id):
        self.id = inlet_id
        self.branch = None
        self.online = True  # until a status says otherwise (retained status may come later)
        self.request = vacuum.REQ_NONE
        self.priority = 0
        self.ttf_s = None
        self.ttf_err_s = None
        self.level = None  # the fillingLevel it reported (0..1), None: unknown
        self.state_ms = 0.0
        self.fresh = False  # a state heard since its last cycle ended
        self.phase = None
        self.fails = 0  # no_confirm timeouts in a row
        self.skip_until = None
        self.last_cycle = None


class _Branch:
    __slots__ = ("id", "spinup_ms", "transport_ms", "rundown_ms", "fan", "at_vac", "vac_said",
                 "lost", "spin_since", "stall_since", "gate", "idle_since", "outstanding",
                 "grants_in_run", "retry_at", "run")

    def __init__(self, branch_id, spinup_s, transport_s, rundown_s):
        self.id = branch_id
        self.spinup_ms = spinup_s * 1000
        self.transport_ms = transport_s * 1000
        self.rundown_ms = rundown_s * 1000
        self.fan = False
        self.at_vac = False  # fan spun up and vacuum not lost
        self.vac_said = False  # the last vacuum message published said ready
        self.lost = False  # vacuum_lost without vacuum_restored since
        self.spin_since = 0.0
        self.stall_since = 0.0  # fan on but no vacuum since (for giveup)
        self.gate = None  # no grant before this (transport or guard), None: no wait
        self.idle_since = None  # at vacuum with nothing to do since
        self.outstanding = None
        self.grants_in_run = 0
        self.retry_at = None
        self.run = None  # the current run's record (dict)


def branch_ok(branch) -> bool:
    """A branch id that makes a valid group topic (letters, digits, _ - ., at most 32)."""
    return isinstance(branch, str) and topics.parse(
        "p/s/inlet/group/%s/peer" % branch) is not None


class Coordinator:
    def __init__(self, branches_cfg: dict | None = None, *, spinup_s: float = 20,
                 transport_s: float = 20, ttl_s: float = 30, max_open_s: float = 8,
                 confirm_margin_s: float = 15, guard_s: float | None = None,
                 rundown_s: float = 10, start_ttf_s: float | None = None,
                 start_may: int | None = None, take_along: float | None = 0.5,
                 batch: bool = True,
                 batch_max_ttf_s: float | None = None, skip_s: float = 1800,
                 giveup_s: float = 120, retry_s: float = 300, first_cycle: int = 1,
                 max_wait_ms: float = 5000, cost: CostModel | None = None,
                 restart_hold_s: float | None = None):
        """branches_cfg: {branch: {"spinup_s"|"transport_s"|"rundown_s": value}} overrides
        per branch (a long branch needs a longer transport); other branches found in inlet
        states use the defaults. ttl_s: the grant's lifetime at the inlet (<= 600).
        max_open_s: the longest an inlet keeps its valve open (its inlet.max_open_s).
        A grant is awaited ttl_s + max_open_s + confirm_margin_s; then guard_s (default
        max_open_s + transport_s) passes before anyone else on that branch is granted.
        batch: empty may-go inlets in the same run (False: one inlet per fan run, the
        baseline to compare with); batch_max_ttf_s: only may-go inlets predicted full
        within this join a run (None: all). start_may: this many inlets asking (may or must)
        on a branch start a run (None: only a must does); start_ttf_s: a may-go inlet sure
        to be full within this starts one (None: never). take_along: a may-go inlet joins a
        run only if its reported fillingLevel is at least this (None: every may-go inlet;
        an inlet that reports no level joins). first_cycle: the first grant's cycle number
        (pass something that grows over restarts, e.g. from the epoch). restart_hold_s
        (default ttl_s + max_open_s): no grant for this long after the first tick, so a grant
        the previous station run left live has expired and its valve closed."""
        if not 0 < ttl_s <= vacuum.TTL_MAX_S:
            raise ValueError("ttl_s must be in (0, %d]" % vacuum.TTL_MAX_S)
        if not 0 <= first_cycle <= vacuum.CYCLE_MAX:
            raise ValueError("first_cycle must be in 0..%d" % vacuum.CYCLE_MAX)
        self.branches_cfg = dict(branches_cfg or {})
        for b, cfg in self.branches_cfg.items():
            if not branch_ok(b):
                raise ValueError("branch %r is not a valid id" % (b,))
            bad = set(cfg) - set(BRANCH_KEYS)
            if bad:
                raise ValueError("branch %s: unknown keys %s" % (b, ", ".join(sorted(bad))))
        self.spinup_s = spinup_s
        self.transport_s = transport_s
        self.rundown_s = rundown_s
        self.ttl_s = ttl_s
        self.max_open_s = max_open_s
        self.confirm_ms = (ttl_s + max_open_s + confirm_margin_s) * 1000
        self.restart_hold_ms = (ttl_s + max_open_s if restart_hold_s is None
                                else restart_hold_s) * 1000
        self.guard_ms = (max_open_s + transport_s if guard_s is None else guard_s) * 1000
        if start_may is not None and start_may < 1:
            raise ValueError("start_may must be at least 1 (or None)")
        if take_along is not None and not 0 <= take_along <= 1:
            raise ValueError("take_along must be in [0, 1] (or None)")
        self.start_ttf_s = start_ttf_s
        self.start_may = start_may
        self.take_along = take_along
        self.batch = batch
        self.batch_max_ttf_s = batch_max_ttf_s
        self.skip_ms = skip_s * 1000
        self.giveup_ms = giveup_s * 1000
        self.retry_ms = retry_s * 1000
        self.max_wait_ms = max_wait_ms
        self.cost = cost if cost is not None else CostModel()
        self.next_cycle = first_cycle
        self.inlets: dict[str, _Inlet] = {}
        self.branches: dict[str, _Branch] = {}
        self._members: dict[str, set[str]] = {}  # branch -> ids of its inlets
        self.cycles: OrderedDict[int, _Grant] = OrderedDict()
        # The latest runs and grants, for reports and tests (bounded: the station runs for years)
        self.runs: deque = deque(maxlen=_KEPT)  # {"branch", "start_ms", "end_ms", "grants"}
        self.grants: deque = deque(maxlen=_KEPT)  # (now_ms, branch, inlet_id, cycle)
        self.ignored_events = 0  # discharge steps for unknown, stale or repeated cycles
        # No grant before this (set at the first grant decision): a station restarted while
        # its previous run's grant was live must not grant a second valve beside it.
        self.hold_until: float | None = None  # set by the first tick
        self._out: list[tuple] = []
        for b in sorted(self.branches_cfg):
            self._branch(b)

    # ---- inputs ----

    def on_state(self, inlet_id: str, state: dict, now_ms: float) -> None:
        """An inlet's state message (decoded dict; {} or None: its retained state cleared)."""
        inl = self._inlet(inlet_id)
        state = state if isinstance(state, dict) else {}
        branch = state.get("branch")
        if inl.branch is not None:
            self._members[inl.branch].discard(inlet_id)
        if branch_ok(branch):
            inl.branch = branch
            self._branch(branch)
            self._members[branch].add(inlet_id)
        else:
            inl.branch = None  # cannot be granted: nowhere to send the grant
        req = vacuum.read_request(state)
        if req is None:
            inl.request, inl.priority, inl.ttf_s = vacuum.REQ_NONE, 0, None
        else:
            inl.request, inl.priority, inl.ttf_s = req
        err = state.get("ttf_err_s")
        inl.ttf_err_s = err if type(err) in (int, float) and err >= 0 else None
        lv = state.get("fillingLevel")
        inl.level = lv if type(lv) in (int, float) else None
        phase = state.get("discharge")
        inl.phase = phase if isinstance(phase, str) else None
        inl.state_ms = now_ms
        inl.fresh = True

    def on_status(self, inlet_id: str, online: bool, now_ms: float) -> None:
        self._inlet(inlet_id).online = bool(online)

    def on_event(self, inlet_id: str, event: dict, now_ms: float) -> None:
        if not isinstance(event, dict):
            return
        if event.get("event") == "jam":
            inl = self._inlet(inlet_id)
            detail = {k: v for k, v in event.items() if k not in ("event", "v", "seq", "ts",
                                                                    "up")}
            self._alarm(inl.branch, inlet_id, "jam", detail)
            return
        got = vacuum.read_discharge(event)
        if got is None:
            return
        cycle, step = got
        g = self.cycles.get(cycle)
        if g is None or g.inlet != inlet_id:
            self.ignored_events += 1  # not ours (an older station) or not this inlet's
            return
        if step != vacuum.STEP_ABORTED and not g.opened:
            # closed and done only follow an opening, so they stand in for a lost "opened"
            g.opened = True
            self.cost.valve_opened(g.branch, inlet_id)
        elif step == vacuum.STEP_OPENED:
            self.ignored_events += 1  # a repeat
            return
        if step == vacuum.STEP_OPENED:
            return
        inl = self._inlet(inlet_id)
        if g.ended and (step == vacuum.STEP_CLOSED or g.done):
            self.ignored_events += 1  # a repeat, or "closed" after the wait timed out
            return
        if not g.ended:
            g.ended = True
            inl.fails = 0
            br = self.branches[g.branch]
            if br.outstanding is g:
                br.outstanding = None
                gap = br.transport_ms if g.opened else 0
                br.gate = self._later(br.gate, now_ms + gap)
                br.idle_since = None
        if inl.last_cycle == cycle:
            inl.fresh = False  # its state from before this cycle's end is stale
        if step == vacuum.STEP_CLOSED:
            return
        g.done = True
        if step == vacuum.STEP_ABORTED:
            why = event.get("why")
            if why not in _BENIGN_ABORTS:
                self._alarm(g.branch, inlet_id, "aborted", {"cycle": cycle, "why": why})

    def vacuum_lost(self, branch: str, now_ms: float) -> None:
        br = self._branch(branch)
        if br.lost:
            return
        br.lost = True
        br.stall_since = now_ms
        br.at_vac = False
        self._alarm(branch, None, "vacuum_lost", {"fan": br.fan})
        self._say_vacuum(br, False)
        g = br.outstanding
        if g is not None and not g.revoked:
            g.revoked = True
            self._out.append(("publish", branch, vacuum.revoke(g.inlet, g.cycle)))

    def vacuum_restored(self, branch: str, now_ms: float) -> None:
        br = self._branch(branch)
        if not br.lost:
            return
        br.lost = False
        br.spin_since = now_ms  # spin up again before trusting it
        self._alarm(branch, None, "vacuum_restored", {})

    # ---- the clock ----

    def tick(self, now_ms: float) -> list[tuple]:
        """Everything due at now_ms, and the actions decided since the last tick."""
        if self.hold_until is None:
            self.hold_until = now_ms + self.restart_hold_ms
        for b in sorted(self.branches):
            self._tick_branch(self.branches[b], now_ms)
        out, self._out = self._out, []
        return out

    def next_due_ms(self, now_ms: float) -> float:
        """ms from now_ms until tick() should run again (inputs may make it sooner)."""
        if self._out:
            return 0
        due = [now_ms + self.max_wait_ms]
        for br in self.branches.values():
            g = br.outstanding
            if g is not None:
                due.append(g.deadline_ms)
            if not br.fan:
                if br.retry_at is not None:
                    due.append(br.retry_at)
                elif self._demand(br, now_ms):
                    due.append(now_ms)
                continue
            if not br.at_vac:
                due.append(br.stall_since + self.giveup_ms if br.lost
                           else br.spin_since + br.spinup_ms)
            elif g is None:
                if br.gate is not None and br.gate > now_ms:
                    due.append(br.gate)
                elif self.hold_until is not None and self.hold_until > now_ms:
                    due.append(self.hold_until)
                elif br.idle_since is not None:
                    due.append(br.idle_since + br.rundown_ms)
                else:
                    due.append(now_ms)
        return max(0, min(due) - now_ms)

    # ---- per branch ----

    def _tick_branch(self, br: _Branch, now: float) -> None:
        g = br.outstanding
        if g is not None and now >= g.deadline_ms:
            self._timeout(br, g, now)
        if not br.fan:
            if br.retry_at is not None and now < br.retry_at:
                return
            br.retry_at = None
            if not self._demand(br, now):
                return
            self._start_fan(br, now)
        if not br.at_vac:
            if br.lost:
                if now - br.stall_since >= self.giveup_ms:
                    self._alarm(br.id, None, "vacuum_gave_up",
                                {"waited_s": (now - br.stall_since) / 1000})
                    self._stop_fan(br, now)
                    br.retry_at = now + self.retry_ms
                return
            if now - br.spin_since < br.spinup_ms:
                return
            br.at_vac = True
            br.idle_since = None
            self._say_vacuum(br, True)
        if br.outstanding is not None:
            br.idle_since = None
            return
        if br.gate is not None:
            if now < br.gate:
                return  # a plug in transit, or the guard after a silent inlet
            br.gate = None
        if now < self.hold_until:
            return  # just started: a grant from before a restart may still be live
        inl = None
        if (self.batch or br.grants_in_run == 0) and not self._blocked(br):
            inl = self._pick(br, now)
        if inl is not None:
            self._grant(br, inl, now)
            return
        if br.idle_since is None:
            br.idle_since = now
        if now - br.idle_since >= br.rundown_ms:
            self._stop_fan(br, now)

    def _timeout(self, br: _Branch, g: _Grant, now: float) -> None:
        g.ended = True
        br.outstanding = None
        br.idle_since = None
        br.gate = self._later(br.gate, now + self.guard_ms)
        self._out.append(("publish", br.id, vacuum.revoke(g.inlet, g.cycle)))
        g.revoked = True
        self._alarm(br.id, g.inlet, "no_confirm",
                    {"cycle": g.cycle, "waited_s": (now - g.sent_ms) / 1000})
        inl = self._inlet(g.inlet)
        if inl.last_cycle == g.cycle:
            inl.fresh = False
        inl.fails += 1
        if inl.fails >= 2:
            inl.fails = 0
            inl.skip_until = now + self.skip_ms
            self._alarm(br.id, g.inlet, "skipped", {"for_s": self.skip_ms / 1000})

    def _start_fan(self, br: _Branch, now: float) -> None:
        br.fan = True
        br.at_vac = False
        br.spin_since = now
        br.stall_since = now
        br.idle_since = None
        br.grants_in_run = 0
        br.run = {"branch": br.id, "start_ms": now, "end_ms": None, "grants": []}
        self.runs.append(br.run)
        self.cost.fan_on(br.id, now)
        self._out.append(("fan", br.id, True))

    def _stop_fan(self, br: _Branch, now: float) -> None:
        self._say_vacuum(br, False)
        br.fan = False
        br.at_vac = False
        br.idle_since = None
        if br.run is not None:
            br.run["end_ms"] = now
            br.run = None
        self.cost.fan_off(br.id, now)
        self._out.append(("fan", br.id, False))

    def _say_vacuum(self, br: _Branch, ready: bool) -> None:
        if br.vac_said != ready:
            br.vac_said = ready
            self._out.append(("publish", br.id, vacuum.vacuum(ready)))

    def _grant(self, br: _Branch, inl: _Inlet, now: float) -> None:
        cycle = self.next_cycle
        self.next_cycle = 0 if cycle >= vacuum.CYCLE_MAX else cycle + 1
        g = _Grant(cycle, inl.id, br.id, now, now + self.confirm_ms)
        self.cycles.pop(cycle, None)
        self.cycles[cycle] = g
        while len(self.cycles) > _CYCLES_KEPT:
            self.cycles.popitem(last=False)
        br.outstanding = g
        br.idle_since = None
        br.grants_in_run += 1
        if br.run is not None:
            br.run["grants"].append(inl.id)
        inl.last_cycle = cycle
        self.grants.append((now, br.id, inl.id, cycle))
        self._out.append(("publish", br.id, vacuum.grant(inl.id, cycle, self.ttl_s, True)))

    # ---- who ----

    def _eligible(self, br: _Branch, now: float):
        for inlet_id in self._members[br.id]:
            inl = self.inlets[inlet_id]
            if not inl.online or not inl.fresh:
                continue
            if inl.request == vacuum.REQ_NONE or inl.phase == _VALVE_FAULT_PHASE:
                continue
            if inl.skip_until is not None:
                if now < inl.skip_until:
                    continue
                inl.skip_until = None
            yield inl

    def _ttf(self, inl: _Inlet, now: float):
        """Predicted seconds to full now (the state's forecast, aged), or None."""
        if inl.ttf_s is None:
            return None
        return inl.ttf_s - (now - inl.state_ms) / 1000

    def _urgent(self, inl: _Inlet, now: float) -> bool:
        """Worth a fan start on its own: it must go, or (start_ttf_s) it surely will soon.
        Sure: the forecast plus its error; a wide error makes it less urgent, never more."""
        if inl.request == vacuum.REQ_MUST:
            return True
        if self.start_ttf_s is None:
            return False
        ttf = self._ttf(inl, now)
        return ttf is not None and inl.ttf_err_s is not None and \
            ttf + inl.ttf_err_s < self.start_ttf_s

    def _joins(self, inl: _Inlet) -> bool:
        """A may-go inlet full enough to be taken along in a run (take_along)."""
        return self.take_along is None or inl.level is None or inl.level >= self.take_along

    def _blocked(self, br: _Branch) -> bool:
        """A valve on the branch that does not confirm closed may be open: the pipe is not
        free for anyone (the fan runs down; an operator must look)."""
        return any(self.inlets[i].phase == _VALVE_FAULT_PHASE for i in self._members[br.id])

    def _demand(self, br: _Branch, now: float) -> bool:
        if self._blocked(br):
            return False
        asking = 0
        for inl in self._eligible(br, now):
            if self._urgent(inl, now):
                return True
            if self._joins(inl):
                asking += 1
        return self.batch and self.start_may is not None and asking >= self.start_may

    def _pick(self, br: _Branch, now: float):
        best = []
        for inl in self._eligible(br, now):
            must = inl.request == vacuum.REQ_MUST
            if not self.batch and not self._urgent(inl, now):
                continue
            if not must and not self._joins(inl):
                continue
            ttf = self._ttf(inl, now)
            if not must and self.batch_max_ttf_s is not None and (
                    ttf is None or ttf > self.batch_max_ttf_s):
                continue
            key = (0 if must else 1, -inl.priority, 0 if ttf is not None else 1,
                   ttf if ttf is not None else 0.0, inl.id)
            best.append((key, inl))
        if not best:
            return None
        return min(best, key=lambda kv: kv[0])[1]

    # ---- helpers ----

    def _inlet(self, inlet_id: str) -> _Inlet:
        inl = self.inlets.get(inlet_id)
        if inl is None:
            inl = self.inlets[inlet_id] = _Inlet(inlet_id)
        return inl

    def _branch(self, branch: str) -> _Branch:
        br = self.branches.get(branch)
        if br is None:
            cfg = self.branches_cfg.get(branch, {})
            self._members[branch] = set()
            br = self.branches[branch] = _Branch(
                branch, cfg.get("spinup_s", self.spinup_s),
                cfg.get("transport_s", self.transport_s), cfg.get("rundown_s", self.rundown_s))
            # First word to a branch: no vacuum (until this station builds it), so an inlet
            # holding a grant from before a restart closes.
            self._out.append(("publish", branch, vacuum.vacuum(False)))
        return br

    def _alarm(self, branch, inlet_id, kind: str, detail: dict) -> None:
        self._out.append(("alarm", branch, inlet_id, kind, detail))

    @staticmethod
    def _later(a, b):
        return b if a is None or b > a else a

    def outstanding(self, branch: str):
        """(inlet_id, cycle) of the branch's outstanding grant, or None."""
        br = self.branches.get(branch)
        g = br.outstanding if br is not None else None
        return None if g is None else (g.inlet, g.cycle)

    def summary(self) -> dict:
        """Each branch's phase, for the station's retained state."""
        out = {}
        for b, br in sorted(self.branches.items()):
            if not br.fan:
                phase = "off"
            elif not br.at_vac:
                phase = "vacuum_lost" if br.lost else "spinup"
            elif br.outstanding is not None:
                phase = "granted"
            else:
                phase = "ready"
            g = br.outstanding
            out[b] = {"phase": phase, "inlet": g.inlet if g else None,
                      "cycle": g.cycle if g else None}
        return out
