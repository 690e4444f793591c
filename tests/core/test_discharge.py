"""The discharge valve's interlock (agent.discharge): scripted sequences, and hypothesis over
random grants, vacuum messages, revokes, lost links, stuck valves, reboots and step timings.
The valve model follows the command after its travel time unless the test jams it."""

from hypothesis import given, settings
from hypothesis import strategies as st

from agent import discharge
from agent.discharge import CHECKING, CLOSING, FAULT, GRANTED, IDLE, OPEN, Discharge
from agent.sched import ticks_add, ticks_diff

WRAP = 1 << 30
T0 = WRAP - 30000  # start just below the ticks wrap
OPEN_S, MAX_OPEN_S, TRAVEL = 5, 8, 1500


def make(now=T0, check="message", open_s=OPEN_S):
    return Discharge(open_s, MAX_OPEN_S, TRAVEL, check, 0.25, now)


class Valve:
    """A valve that closes its limit switch TRAVEL/2 after being commanded closed, and
    releases it TRAVEL/2 after being commanded open, unless stuck."""

    def __init__(self, now):
        self.closed = True
        self.cmd = False
        self.changed = now
        self.stuck = False

    def command(self, want, now):
        if want != self.cmd:
            self.cmd = want
            self.changed = now

    def update(self, now):
        if not self.stuck and ticks_diff(now, self.changed) >= TRAVEL // 2:
            self.closed = not self.cmd


def run(d, valve, now, ms, vac_in=True, link=True, level=None, step_ms=50):
    """Step for `ms` with the valve following; returns the new now."""
    end = ticks_add(now, ms)
    while ticks_diff(end, now) > 0:
        valve.update(now)
        d.step(now, valve.closed, vac_in, link, level)
        valve.command(d.valve, now)
        now = ticks_add(now, step_ms)
    return now


def steps(d):
    return [f["step"] for n, f in d.events if n == "discharge"]


def test_a_full_cycle_opens_for_open_s_then_checks_the_level():
    d, v = make(), Valve(T0)
    assert d.grant(7, 30, True, T0, True, 0.9)
    assert d.phase == GRANTED
    now = run(d, v, T0, 100)
    assert d.phase == OPEN and d.valve
    opened = d.since
    now = run(d, v, now, 5000)
    assert not d.valve and d.phase in (CLOSING, CHECKING)
    assert ticks_diff(now, opened) <= 5100
    now = run(d, v, now, 2000)
    assert d.phase == CHECKING
    now = run(d, v, now, 100, level=0.05)
    assert d.phase == IDLE and d.emptied is True and d.completed == 1
    assert steps(d) == ["opened", "closed", "done"]
    done = d.events[-1][1]
    assert done["level_before"] == 0.9 and done["level_after"] == 0.05


def test_no_vacuum_no_opening_and_the_grant_expires():
    d, v = make(), Valve(T0)
    d.grant(1, 10, False, T0, True, 0.9)
    now = run(d, v, T0, 9900)
    assert d.phase == GRANTED and not d.valve
    run(d, v, now, 200)
    assert d.phase == IDLE and not d.valve
    assert d.events[-1][1] == {"cycle": 1, "step": "aborted", "why": "grant_expired"}


def test_vacuum_by_input_or_both():
    for check, msg, inp, opens in (("input", False, True, True), ("input", True, False, False),
                                   ("both", True, False, False), ("both", True, True, True)):
        d, v = make(check=check), Valve(T0)
        d.grant(1, 10, msg, T0, True, 0.9)
        run(d, v, T0, 200, vac_in=inp)
        assert (d.phase == OPEN) == opens, (check, msg, inp)


def test_vacuum_lost_link_lost_or_revoke_close_at_once():
    for fault in ("vacuum", "link", "revoke"):
        d, v = make(), Valve(T0)
        d.grant(3, 30, True, T0, True, 0.9)
        now = run(d, v, T0, 1000)
        assert d.valve
        if fault == "vacuum":
            d.vacuum(False)
        elif fault == "revoke":
            d.revoke(3)
        d.step(now, v.closed, True, fault != "link")
        assert not d.valve and d.phase == CLOSING, fault
        now = run(d, v, now, 2000, link=fault != "link")
        closed = [f for n, f in d.events if n == "discharge" and f["step"] == "closed"]
        assert closed[0]["why"] == {"vacuum": "vacuum_lost", "link": "link_lost",
                                    "revoke": "revoked"}[fault]


def test_a_grant_is_one_shot_and_refused_unless_idle_and_asking():
    d = make()
    assert not d.grant(1, 30, True, T0, False, 0.2)
    assert d.events[-1][1]["why"] == "not_requested"
    assert d.grant(2, 30, True, T0, True, 0.9)
    assert not d.grant(2, 30, True, T0, True, 0.9)  # the same message again: ignored
    assert not d.grant(3, 30, True, T0, True, 0.9)
    assert d.events[-1][1] == {"cycle": 3, "step": "aborted", "why": "busy"}


def test_a_valve_that_does_not_close_is_a_fault_until_its_switch_confirms():
    d, v = make(), Valve(T0)
    d.grant(1, 30, True, T0, True, 0.9)
    now = run(d, v, T0, 1000)
    v.stuck = True
    now = run(d, v, now, 6000)
    assert d.phase == FAULT and not d.valve
    assert ("valve", {"fault": "not_closed_after_discharge"}) in d.events
    assert not d.grant(2, 30, True, now, True, 0.9)
    assert d.events[-1][1]["why"] == "valve_fault"
    v.stuck = False
    run(d, v, now, 2000)
    assert d.phase == IDLE


def test_a_valve_forced_open_at_rest_is_a_fault_and_one_that_will_not_open_closes():
    d, v = make(), Valve(T0)
    run(d, v, T0, 1000)
    v.closed = False
    v.stuck = True
    run(d, v, T0 + 1000, 2000)
    assert d.phase == FAULT
    d, v = make(), Valve(T0)
    v.stuck = True  # seized shut: the switch never releases
    d.grant(1, 30, True, T0, True, 0.9)
    run(d, v, T0, 2000)
    assert not d.valve
    assert [f for n, f in d.events if n == "discharge"][-1]["why"] == "valve_not_opening"


# ---- properties ----

actions = st.lists(st.tuples(
    st.sampled_from(["grant", "grant", "vac_on", "vac_off", "revoke", "link", "stick",
                     "unstick", "reboot", "wait", "wait", "wait"]),
    st.integers(0, 20000), st.booleans(), st.integers(0, 5)), min_size=1, max_size=60)


@settings(max_examples=300)
@given(actions, st.sampled_from(["message", "input", "both"]), st.integers(1, 60))
def test_the_valve_is_never_open_without_a_live_grant_and_vacuum(script, check, ttl_s):
    now = T0
    d, v = make(now, check), Valve(now)
    link, vac_in, vac_msg = True, True, False
    grant_at, grant_cycle, revoked = None, None, False
    open_since = None
    cycles_opened = []
    for kind, ms, flag, cycle in script:
        if kind == "grant":
            if d.grant(cycle, ttl_s, flag, now, True, 0.9):
                grant_at, grant_cycle, revoked = now, cycle, False
            vac_msg = flag if d.cycle == cycle and d.phase == GRANTED else vac_msg
        elif kind in ("vac_on", "vac_off"):
            vac_msg = kind == "vac_on"
            d.vacuum(vac_msg)
        elif kind == "revoke":
            d.revoke(cycle)
            revoked = revoked or cycle == grant_cycle
        elif kind == "link":
            link = flag
        elif kind == "stick":
            v.stuck = True
        elif kind == "unstick":
            v.stuck = False
        elif kind == "reboot":
            d = make(now, check)  # the valve pin is driven closed at boot
            grant_at, grant_cycle, open_since = None, None, None
            cycles_opened = []  # a grant is one-shot per boot (grants are never redelivered)
            v.command(False, now)
        vac_in = flag if kind == "wait" else vac_in
        # time passes, never beyond what the machine asked for
        left = ms
        while True:
            v.update(now)
            was_open = d.valve
            wait = d.step(now, v.closed, vac_in, link)
            v.command(d.valve, now)
            if d.valve:
                ready = {"message": vac_msg, "input": vac_in, "both": vac_msg and vac_in}[check]
                assert link and ready and not revoked
                assert grant_at is not None and d.cycle == grant_cycle
                assert ticks_diff(now, grant_at) < ttl_s * 1000
                if not was_open:
                    open_since = now
                    assert grant_cycle not in cycles_opened  # one discharge per grant
                    cycles_opened.append(grant_cycle)
                assert ticks_diff(now, open_since) < min(OPEN_S, MAX_OPEN_S) * 1000
            else:
                open_since = None
            if d.phase == FAULT:
                assert not d.valve
            if left <= 0:
                break
            dt = min(left, wait, 2000)
            now = ticks_add(now, max(dt, 1))
            left -= max(dt, 1)


@given(st.integers(0, 60000))
def test_after_a_reboot_the_valve_is_closed_and_no_old_grant_acts(at):
    d = make(ticks_add(T0, at))
    assert not d.valve and d.phase == IDLE and d.cycle is None
    assert d.step(ticks_add(T0, at), True, True, True) == discharge.IDLE_MS
    assert not d.valve


def test_a_repeated_grant_after_the_cycle_is_answered_and_a_cut_short_done_says_why():
    d, v = make(), Valve(T0)
    d.grant(4, 30, True, T0, True, 0.9)
    now = run(d, v, T0, 1000)
    d.vacuum(False)
    now = run(d, v, now, 2000)
    now = run(d, v, now, 100, level=0.8)
    done = d.events[-1][1]
    assert done["step"] == "done" and done["why"] == "vacuum_lost" and done["emptied"] is False
    assert not d.grant(4, 30, True, now, True, 0.9)
    assert d.events[-1][1] == {"cycle": 4, "step": "aborted", "why": "repeat"}


def test_the_switch_is_watched_while_checking_and_a_fault_needs_a_steady_close():
    d, v = make(), Valve(T0)
    d.grant(1, 30, True, T0, True, 0.9)
    now = run(d, v, T0, 7000)
    assert d.phase == CHECKING
    v.closed, v.stuck = False, True  # forced open after the discharge
    now = run(d, v, now, 2000)
    assert d.phase == FAULT and ("valve", {"fault": "opened_after_discharge"}) in d.events
    # a switch that bounces closed for one step does not end the fault
    d.step(now, True, True, True)
    now = ticks_add(now, 100)
    d.step(now, False, True, True)
    assert d.phase == FAULT
    v.stuck, v.closed = False, True
    now = run(d, v, now, TRAVEL + 200)
    assert d.phase == IDLE
