# Deadline scheduler for the one cooperative loop (pure: the caller passes now_ms).
#
# Times are ticks_ms values, which wrap at 2**30 on the ESP32 port, so all comparisons go
# through ticks_diff-style arithmetic. Tasks live in pre-allocated lists: running the due
# ones allocates nothing, which keeps steady-state ticks free of GC churn.

from micropython import const

TICKS_PERIOD = 1 << 30  # a long int on the chip: for tests and docs, never in arithmetic
_TICKS_MASK = const(0x3FFFFFFF)
_TICKS_HALF = const(0x20000000)


def ticks_diff(a, b):
    """a - b on the wrapping tick counter, in [-2**29, 2**29).

    Written so no intermediate leaves the ESP32's 31-bit small ints (a long int would
    allocate on every call): a - b fits, and so do the mask and the two halves."""
    d = (a - b) & _TICKS_MASK
    if d >= _TICKS_HALF:
        d = d - _TICKS_HALF - _TICKS_HALF
    return d


def ticks_add(t, delta):
    """t + delta on the wrapping counter (|delta| < 2**29), without a long intermediate."""
    if delta >= 0:
        if t > _TICKS_MASK - delta:
            return t - (_TICKS_MASK - delta) - 1
        return t + delta
    if t < -delta:
        return t + (delta + _TICKS_MASK) + 1
    return t + delta


class Scheduler:
    def __init__(self, now_ms):
        self.names = []
        self.periods = []
        self.due = []
        self.funcs = []
        self.now = now_ms
        self.woken = False
        self.poked = False  # set from an interrupt handler: see poke()
        self.poked_name = ""

    def add(self, name, period_ms, func, first_in_ms=0):
        """func(now_ms) runs every period_ms; it may instead return the delay until its next
        run (sooner while a fade is in progress, later while a link waits out a backoff),
        or None to keep the period."""
        if period_ms <= 0:
            raise ValueError("task %s: period must be > 0 ms, got %r" % (name, period_ms))
        self.names.append(name)
        self.periods.append(period_ms)
        self.due.append(ticks_add(self.now, first_in_ms))
        self.funcs.append(func)

    def run_due(self, now_ms):
        """Run every task whose deadline has passed; return ms until the next deadline."""
        self.now = now_ms
        self.woken = False
        wait = _TICKS_HALF - 1  # "no deadline": the largest wait the counter can express
        for i in range(len(self.funcs)):
            if ticks_diff(now_ms, self.due[i]) >= 0:
                sooner = self.funcs[i](now_ms)
                if sooner is not None:
                    nxt = ticks_add(now_ms, max(0, sooner))
                else:
                    # From the deadline, not from now, so periods do not drift; after a long
                    # stall, skip the missed runs instead of bursting them.
                    nxt = ticks_add(self.due[i], self.periods[i])
                    if ticks_diff(nxt, now_ms) < 0:
                        nxt = ticks_add(now_ms, self.periods[i])
                self.due[i] = nxt
            left = ticks_diff(self.due[i], now_ms)
            if left < wait:
                wait = left
        if self.woken:  # a task was made due during this pass: go round again at once
            self.woken = False
            return 0
        return max(0, wait)

    def poke(self, name):
        """From an interrupt handler: ask the loop to run `name` as soon as it can. Only
        assigns (no allocation, no list search), as an ISR must."""
        self.poked_name = name
        self.poked = True

    def wake(self, name, now_ms):
        """Make a task due now (an interrupt or a message arrived)."""
        i = self.names.index(name)
        self.due[i] = now_ms
        self.woken = True


class Uptime:
    """Milliseconds since a start, past the ticks wrap (ticks_diff alone turns negative after
    2**29 ms, about 6.2 days). Call at() at least that often: every heartbeat does."""

    def __init__(self, now_ms):
        self.mark = now_ms
        self.ms = 0

    def at(self, now_ms):
        self.ms += ticks_diff(now_ms, self.mark)
        self.mark = now_ms
        return self.ms
