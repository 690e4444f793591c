"""Getting messages out: the offline outbox, reconnect backoff, report-on-change."""

import random
import statistics
from collections import deque

from hypothesis import given
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from agent import message
from agent.backoff import Backoff, uniform_from_bits
from agent.outbox import Outbox
from agent.sched import TICKS_PERIOD, ticks_add

# ---- outbox: a model-based check against a bounded deque ----


class OutboxMachine(RuleBasedStateMachine):
    @initialize(cap=st.integers(1, 6))
    def start(self, cap):
        self.cap = cap
        self.ob = Outbox(cap)
        self.model = deque()
        self.dropped = 0
        self.n = 0

    @rule(topic=st.sampled_from([b"a/event", b"a/state"]))
    def put(self, topic):
        self.n += 1
        payload = b"%d" % self.n
        if len(self.model) == self.cap:
            self.model.popleft()
            self.dropped += 1
        self.model.append((topic, payload))
        self.ob.put(topic, payload)

    @precondition(lambda self: len(self.model) > 0)
    @rule()
    def deliver(self):
        assert self.ob.peek() == self.model.popleft()
        self.ob.pop()

    @rule()
    def pop_maybe_empty(self):
        if self.model:
            self.model.popleft()
        self.ob.pop()

    @invariant()
    def same_as_model(self):
        assert len(self.ob) == len(self.model)
        assert self.ob.dropped == self.dropped
        assert self.ob.peek() == (self.model[0] if self.model else None)
        # Freed slots hold nothing, so delivered payloads can be collected.
        held = sum(p is not None for p in self.ob.payloads)
        assert held == len(self.model)


TestOutbox = OutboxMachine.TestCase


@given(st.integers(1, 10), st.lists(st.binary(max_size=4), max_size=40))
def test_outbox_keeps_the_newest_in_order(cap, payloads):
    ob = Outbox(cap)
    for p in payloads:
        ob.put(b"t", p)
    out = []
    while len(ob):
        out.append(ob.peek()[1])
        ob.pop()
    assert out == payloads[-cap:] if payloads else out == []
    assert ob.dropped == max(0, len(payloads) - cap)


# ---- backoff ----

def seeded(seed):
    return random.Random(seed).randrange


@given(st.integers(1, 5000), st.integers(1, 200000), st.integers(0, 2**32), st.integers(0, 60))
def test_delays_stay_within_the_growing_window(base, cap, seed, failures):
    cap = max(cap, base)
    b = Backoff(base, cap, 30000, seeded(seed))
    for k in range(failures):
        window = min(cap, base * 2**k)
        assert b.ceiling() == window
        assert 0 <= b.next_delay() <= window


def test_a_fleet_is_spread_not_in_lockstep():
    """1000 poles lose the broker at once: their retries scatter over the whole window."""
    fleet = [Backoff(500, 60000, 30000, seeded(i)) for i in range(1000)]
    for attempt in range(10):
        window = min(60000, 500 * 2**attempt)
        delays = [b.next_delay() for b in fleet]
        assert len(set(delays)) > min(window, 1000) * 0.5
        # Uniform on [0, window]: mean window/2, standard deviation window/sqrt(12).
        assert abs(statistics.mean(delays) - window / 2) < window * 0.05
        assert abs(statistics.pstdev(delays) - window / 12 ** 0.5) < window * 0.05
        # No tenth of the window holds much more than its share.
        buckets = [0] * 10
        for d in delays:
            buckets[min(9, d * 10 // (window + 1))] += 1
        assert max(buckets) < 160


def test_uniform_from_bits_is_unbiased_enough():
    rand = uniform_from_bits(random.Random(7).getrandbits)
    counts = [0] * 3
    for _ in range(30000):
        counts[rand(3)] += 1
    assert all(9500 < c < 10500 for c in counts), counts
    assert rand(1) == 0 and rand(0) == 0


@given(st.integers(0, TICKS_PERIOD - 1), st.integers(0, 29999), st.integers(1, 20))
def test_reset_only_after_a_stable_link(t0, short, failures):
    b = Backoff(500, 60000, 30000, seeded(1))
    for _ in range(failures):
        b.next_delay()
    grown = b.ceiling()
    b.connected(t0)
    assert not b.maybe_reset(ticks_add(t0, short)) and b.ceiling() == grown
    b.failed()
    assert not b.maybe_reset(ticks_add(t0, 40000)) and b.ceiling() == grown
    b.connected(t0)
    assert b.maybe_reset(ticks_add(t0, 30000)) and b.ceiling() == 500


# ---- report on change ----

values = st.fixed_dictionaries({
    "lux": st.floats(0, 1000, allow_nan=False),
    "level": st.integers(0, 100),
    "mode": st.sampled_from(["auto", "manual", "failsafe"]),
})


@given(values, values, st.integers(0, TICKS_PERIOD - 1), st.integers(0, 59999))
def test_due_exactly_when_something_moved_past_its_deadband(a, b, t0, dt):
    deadbands = {"lux": 5, "level": 0}
    r = message.Reporter(deadbands, 60000)
    assert r.due(a, t0)
    r.sent(a, t0)
    now = ticks_add(t0, dt)
    assert not r.due(a, now)
    moved = abs(b["lux"] - a["lux"]) > 5 or b["level"] != a["level"] or b["mode"] != a["mode"]
    assert r.due(b, now) == moved
    assert r.due(b, ticks_add(t0, 60000))  # the heartbeat always comes


@given(st.lists(st.floats(-50, 50, allow_nan=False), min_size=1, max_size=50))
def test_slow_drift_is_reported_once_it_adds_up(steps):
    """Compared with the last *sent* value, small steps cannot hide a large move."""
    r = message.Reporter({"x": 10}, 0)
    x = 0.0
    r.sent({"x": x}, 0)
    sent = x
    for s in steps:
        x += s
        if r.due({"x": x}, 0):
            r.sent({"x": x}, 0)
            sent = x
        assert abs(x - sent) <= 10
