# The discharge valve's interlocked sequence (pure, fail-closed):
#
#   idle --grant--> granted --vacuum ready--> open --time up--> closing --limit switch-->
#   checking --level read--> idle
#
# The valve is commanded open only in "open", and "open" is left at once (valve commanded
# closed) when any of these stops holding: the grant is live (received within its ttl and not
# revoked), vacuum is ready (station message and/or pressure switch, as configured), the
# broker link is up, the valve's closed switch behaves (it must release after opening), and
# the open time is below open_s (itself never above max_open_s). A valve whose closed switch
# does not confirm within valve_travel_ms is a fault: it stays commanded closed and no grant
# is accepted until the switch confirms. After a reboot the machine starts idle with the valve
# commanded closed, and a grant from before the reboot is never acted on (grants are one-shot
# messages, not retained). Every input arrives as an argument; nothing here reads a pin.
from micropython import const

from agent.sched import ticks_diff
from agent.vacuum import STEP_ABORTED, STEP_CLOSED, STEP_DONE, STEP_OPENED

IDLE, GRANTED, OPEN, CLOSING, CHECKING, FAULT = (
    "idle", "granted", "open", "closing", "checking", "fault")
POLL_MS = const(100)  # while a grant or the valve is active: how often the inputs are looked at
IDLE_MS = const(1000)  # idle: the closed switch is still watched (a valve forced open is a fault)
CHECK_MS = const(120000)  # how long "checking" waits for a good level reading after closing


class Discharge:
    def __init__(self, open_s, max_open_s, travel_ms, vacuum_check, emptied_level, now_ms):
        self.open_ms = int(min(open_s, max_open_s) * 1000)
        self.travel_ms = travel_ms
        self.vacuum_check = vacuum_check  # "message", "input" or "both"
        self.emptied_level = emptied_level
        self.phase = IDLE
        self.valve = False  # what the valve is commanded to: the one output
        self.cycle = None  # the grant being served
        self.last_cycle = None  # the last grant seen: a repeated message is not a new grant
        self.granted_at = now_ms
        self.ttl_ms = 0
        self.vac_msg = False  # the station says the branch is at vacuum
        self.since = now_ms  # when the current phase began
        self.unclosed_at = None  # commanded closed, yet the switch open since (ticks)
        self.why = None  # why the valve closed (None: its time was up)
        self.level_before = None
        self.emptied = None  # result of the last completed discharge (None: unknown)
        self.completed = 0  # discharges that reached "done"
        self.stops = {}  # why the valve closed ("done": its time was up) -> count, for diag
        self.events = []  # (name, fields) for the shell to publish

    # ---- station messages ----

    def grant(self, cycle, ttl_s, vac, now_ms, requesting, level):
        """A grant for this inlet. Accepted only while idle and asking; else the station
        hears why at once (a discharge step "aborted") so it can move on."""
        if cycle == self.last_cycle:
            if self.phase == IDLE:  # served already: say so, or the station waits it out
                self._event(STEP_ABORTED, cycle, why="repeat")
            return False
        self.last_cycle = cycle
        why = None
        if self.phase == FAULT:
            why = "valve_fault"
        elif self.phase != IDLE:
            why = "busy"
        elif not requesting:
            why = "not_requested"
        if why is not None:
            self._event(STEP_ABORTED, cycle, why=why)
            return False
        self.cycle = cycle
        self.granted_at = now_ms
        self.ttl_ms = int(ttl_s * 1000)
        self.vac_msg = vac
        self.level_before = level
        self.why = None
        self._enter(GRANTED, now_ms)
        return True

    def vacuum(self, ready):
        self.vac_msg = ready

    def revoke(self, cycle):
        if cycle == self.cycle and self.phase in (GRANTED, OPEN):
            self.ttl_ms = 0  # the grant is no longer live; the next step acts on it
            self.why = "revoked"

    # ---- one step ----

    def live(self, now_ms):
        # == rather than `in (GRANTED, OPEN)`: that tuple would be built at every step (the
        # phases are not const()), 16 bytes of garbage each 100 ms while the valve is open.
        phase = self.phase
        return self.cycle is not None and (phase == GRANTED or phase == OPEN) and \
            ticks_diff(now_ms, self.granted_at) < self.ttl_ms

    def vacuum_ready(self, vacuum_input):
        c = self.vacuum_check
        if c == "message":
            return self.vac_msg
        if c == "input":
            return vacuum_input
        return self.vac_msg and vacuum_input

    def step(self, now_ms, closed, vacuum_input, link_up, level=None):
        """closed: the valve's closed limit switch; vacuum_input: the pressure switch;
        link_up: the broker link; level: a fresh valid fill level, or None. Returns the
        longest wait in ms before the next step is needed (the shell must honour it)."""
        phase = self.phase
        if phase == IDLE:
            if self._unclosed_too_long(now_ms, closed):
                self._fault(now_ms, "not_closed_at_rest")
            return IDLE_MS if closed else POLL_MS
        if phase == GRANTED:
            why = "valve_not_closed" if not closed else \
                self._stop_reason(now_ms, vacuum_input, link_up, False)
            if why is not None and why != "vacuum":
                self.valve = False
                self._event(STEP_ABORTED, self.cycle, why=why)
                self.cycle = None
                self._enter(IDLE, now_ms)
                return POLL_MS
            if why is None:
                self.valve = True
                self.why = None
                self._enter(OPEN, now_ms)
                self._event(STEP_OPENED, self.cycle)
                return self._open_wait(now_ms)
            return self._wait_grant(now_ms)
        if phase == OPEN:
            why = self._stop_reason(now_ms, vacuum_input, link_up, True)
            if why is None and closed and ticks_diff(now_ms, self.since) >= self.travel_ms:
                why = "valve_not_opening"
            if why is None and ticks_diff(now_ms, self.since) >= self.open_ms:
                why = "done"
            if why is None:
                return self._open_wait(now_ms)
            self.valve = False
            self.why = None if why == "done" else why
            self.stops[why] = self.stops.get(why, 0) + 1
            self._enter(CLOSING, now_ms)
            return POLL_MS
        if phase == CLOSING:
            if closed:
                self._event(STEP_CLOSED, self.cycle, why=self.why)
                self._enter(CHECKING, now_ms)
                return POLL_MS
            if ticks_diff(now_ms, self.since) >= self.travel_ms:
                self._fault(now_ms, "not_closed_after_discharge")
            return POLL_MS
        if phase == CHECKING:
            if self._unclosed_too_long(now_ms, closed):
                self._fault(now_ms, "opened_after_discharge")
                return POLL_MS
            if level is not None:
                self.emptied = level <= self.emptied_level
                self._finish(now_ms, level)
            elif ticks_diff(now_ms, self.since) >= CHECK_MS:
                self.emptied = None  # no good reading: unknown, not a failure
                self._finish(now_ms, None)
            return POLL_MS if not closed else 1000
        # FAULT: stays closed until the limit switch confirms, steadily (not one bounce)
        if not closed:
            self.unclosed_at = now_ms  # here: when the switch last read open
        elif ticks_diff(now_ms, self.unclosed_at if self.unclosed_at is not None
                        else self.since) >= self.travel_ms:
            self.events.append(("valve", {"fault": None}))
            self._enter(IDLE, now_ms)
        return POLL_MS

    def _unclosed_too_long(self, now_ms, closed):
        """The closed switch has read open for travel_ms while the valve is commanded
        closed (a glitch of the switch is not a fault)."""
        if closed:
            self.unclosed_at = None
            return False
        if self.unclosed_at is None:
            self.unclosed_at = now_ms
        return ticks_diff(now_ms, self.unclosed_at) >= self.travel_ms

    # ---- helpers ----

    def _stop_reason(self, now_ms, vacuum_input, link_up, is_open):
        if not self.live(now_ms):
            return self.why if self.why == "revoked" else "grant_expired"
        if not link_up:
            return "link_lost"
        if not self.vacuum_ready(vacuum_input):
            return "vacuum_lost" if is_open else "vacuum"
        return None

    def _open_wait(self, now_ms):
        left = self.open_ms - ticks_diff(now_ms, self.since)
        grant_left = self.ttl_ms - ticks_diff(now_ms, self.granted_at)
        w = left if left < grant_left else grant_left
        return w if w < POLL_MS else POLL_MS

    def _wait_grant(self, now_ms):
        left = self.ttl_ms - ticks_diff(now_ms, self.granted_at)
        return left if 0 < left < POLL_MS else POLL_MS

    def _finish(self, now_ms, level):
        # why: None when the valve stayed open its full time, else why it was cut short
        self._event(STEP_DONE, self.cycle, emptied=self.emptied, level_before=self.level_before,
                    level_after=level, why=self.why)
        self.completed += 1
        self.cycle = None
        self._enter(IDLE, now_ms)

    def _fault(self, now_ms, why):
        self.valve = False
        if self.cycle is not None and self.phase == GRANTED:
            self._event(STEP_ABORTED, self.cycle, why=why)
        # After an opening no "closed" comes: the station times the grant out, and keeps the
        # branch shut while this inlet's state says "fault".
        self.cycle = None
        self.events.append(("valve", {"fault": why}))
        self._enter(FAULT, now_ms)

    def _enter(self, phase, now_ms):
        self.phase = phase
        self.unclosed_at = None
        self.since = now_ms

    def _event(self, step, cycle, **fields):
        fields["cycle"] = cycle
        fields["step"] = step
        self.events.append(("discharge", fields))
