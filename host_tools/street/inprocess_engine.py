"""The in-process street's clock: one virtual clock for every agent, one heap of due times.

Lockstep: every agent's next wake-up, every world event (a lux step, a motion edge, a
deposit, the valve's limit switch) and the station's ticks sit in ONE heap ordered by
virtual time (integer ms since the engine's origin), so agents never disagree on the hour
and a walker seen by pole 1 at 21:14:03.250 reaches pole 2's inbox at that virtual time.

Paced (speed > 0): virtual time t is due at real0 + t / speed; the engine sleeps (in the
I/O poller, so broker traffic is served meanwhile) until the next due time. When it cannot
keep up, events run late, never out of order, and `late` says by how much. Unpaced (speed
None): events run back to back, as fast as the host goes (ring-1 tests).
"""

import heapq
import time
from bisect import bisect_left

_LATE_EDGES_MS = (0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
# Paced, an event due within this much real time runs now instead of after a sleep: at
# thousands of events a second, a sleep (or a poll) per event costs more CPU than the
# agents themselves. Virtual time is untouched; only the real moment is up to 2 ms early.
EARLY_NS = 2_000_000


class Lateness:
    """How far behind their due time (real ms) the agents' ticks ran: a histogram, so a
    10,000-agent minute costs no list of a million numbers."""

    def __init__(self):
        self.count = 0
        self.total_ms = 0.0
        self.max_ms = 0.0
        self.buckets = [0] * (len(_LATE_EDGES_MS) + 1)

    def add(self, ms):
        self.count += 1
        self.total_ms += ms
        if ms > self.max_ms:
            self.max_ms = ms
        self.buckets[bisect_left(_LATE_EDGES_MS, ms)] += 1  # the first edge >= ms

    def raw(self):
        """(count, total, max, buckets): what merge() takes (e.g. from another process)."""
        return (self.count, self.total_ms, self.max_ms, list(self.buckets))

    def merge(self, raw):
        count, total, mx, buckets = raw
        self.count += count
        self.total_ms += total
        if mx > self.max_ms:
            self.max_ms = mx
        self.buckets = [a + b for a, b in zip(self.buckets, buckets, strict=True)]

    def quantile_ms(self, q):
        """The bucket edge below which a share q of the ticks ran (an upper bound)."""
        if not self.count:
            return 0.0
        need = q * self.count
        seen = 0
        for i, n in enumerate(self.buckets):
            seen += n
            if seen >= need:
                return float(_LATE_EDGES_MS[i]) if i < len(_LATE_EDGES_MS) else self.max_ms
        return self.max_ms

    def summary(self):
        return {"ticks": self.count,
                "mean_ms": round(self.total_ms / self.count, 2) if self.count else 0.0,
                "p50_ms_at_most": self.quantile_ms(0.5), "p99_ms_at_most": self.quantile_ms(0.99),
                "max_ms": round(self.max_ms, 1),
                "over_100_ms": sum(self.buckets[_LATE_EDGES_MS.index(100) + 1:])}


class Engine:
    """at(t_ms, fn, *args) schedules fn(*args) at virtual time t_ms; run_until(t) plays."""

    def __init__(self, speed=None, real0_ns=None):
        self.now = 0
        self.heap = []
        self._seq = 0
        self.speed = speed if speed else None
        self.real0_ns = real0_ns if real0_ns is not None else time.monotonic_ns()
        self.late = Lateness()
        self.events = 0
        # fn(timeout_s) -> None: serves sockets while the engine waits (inprocess_mqtt)
        self.io = None
        self.stopped = False

    def at(self, t_ms, fn, *args):
        self._seq += 1
        heapq.heappush(self.heap, (t_ms if t_ms > self.now else self.now, self._seq, fn, args))

    def after(self, dt_ms, fn, *args):
        self.at(self.now + dt_ms, fn, *args)

    def virtual_of_real(self, real_ns):
        return (real_ns - self.real0_ns) / 1e6 * self.speed if self.speed else float(self.now)

    def run_until(self, t_end_ms, stop=None):
        """Play every event due before t_end_ms; stop() polled between batches ends early."""
        heap = self.heap
        speed = self.speed
        io = self.io
        pop = heapq.heappop
        late = self.late
        mono = time.monotonic_ns
        real0 = self.real0_ns
        n = 0
        last_io = mono()
        while not self.stopped:
            if stop is not None and (n & 1023) == 0 and stop():
                break
            if not heap or heap[0][0] >= t_end_ms:
                if speed is None or not self._wait_until(t_end_ms):
                    break
                continue
            t = heap[0][0]
            if speed is not None:
                due_ns = real0 + t / speed * 1e6
                real = mono()
                if due_ns > real + EARLY_NS:
                    self._wait_until(t)
                    continue
                if io is not None and real - last_io > 5_000_000:
                    # behind: still serve the sockets now and then, never block on them
                    last_io = real
                    io(0.0)
            t, _, fn, args = pop(heap)
            self.now = t
            n += 1
            if fn(*args) and speed is not None:  # a tick: how late did it run?
                late.add((mono() - (real0 + t / speed * 1e6)) / 1e6)
        self.events += n
        if t_end_ms > self.now and not self.stopped and (stop is None or not stop()):
            self.now = t_end_ms

    def _wait_until(self, t_ms):
        """Paced: wait (serving I/O) until t_ms is due or I/O scheduled something sooner.
        False when t_ms is due already."""
        due_ns = self.real0_ns + t_ms / self.speed * 1e6
        left_s = (due_ns - EARLY_NS - time.monotonic_ns()) / 1e9
        if left_s <= 0:
            return False
        if self.io is not None:
            self.io(min(left_s, 0.05))
        else:
            time.sleep(min(left_s, 0.05))
        return True

    def io_now_ms(self):
        """The virtual time at which something arriving from the network now is handled: the
        real clock's, but never before the last event run nor past the next one due."""
        t = self.virtual_of_real(time.monotonic_ns())
        if self.heap and self.heap[0][0] < t:
            t = self.heap[0][0]
        return int(t) if t > self.now else self.now
