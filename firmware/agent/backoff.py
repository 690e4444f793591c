# Reconnect delays: exponential backoff with full jitter (pure; the shell injects randomness).
#
# Full jitter (a uniform delay in [0, ceiling]) spreads a fleet that lost its broker at the
# same moment, so the broker is not hit by every pole at once when it comes back. The attempt
# count resets only after the link stayed up stable_ms: a broker that accepts and then drops
# every connection keeps the delays growing.
from agent.sched import ticks_diff


def uniform_from_bits(getrandbits):
    """rand(n) -> int in [0, n) from a getrandbits function (random.getrandbits on the chip),
    by rejection so no value is favoured. n must be at most 2**30."""

    def rand(n):
        if n <= 1:
            return 0
        bits = _bit_length(n - 1)
        while True:
            v = getrandbits(bits)
            if v < n:
                return v

    return rand


def _bit_length(v):
    n = 0
    while v:
        v >>= 1
        n += 1
    return n


def _xorshift(seed):
    # Fallback when no randomness is injected: deterministic, so it spreads one device's
    # retries but not a fleet's. The shell always passes a real source.
    state = [seed or 1]

    def rand(n):
        x = state[0]
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        state[0] = x
        return x % n if n > 0 else 0

    return rand


class Backoff:
    def __init__(self, base_ms=500, cap_ms=60000, stable_ms=30000, rand=None):
        if base_ms < 1 or cap_ms < base_ms:
            raise ValueError("backoff: need 1 <= base_ms <= cap_ms")
        self.base_ms = base_ms
        self.cap_ms = cap_ms
        self.stable_ms = stable_ms
        self.rand = rand or _xorshift(0x2545F491)
        self.attempt = 0
        self.up_since = None  # ticks_ms when the link came up, None while down

    def ceiling(self):
        """The largest delay the next retry may get."""
        c = self.base_ms
        for _ in range(self.attempt):
            c *= 2
            if c >= self.cap_ms:
                return self.cap_ms
        return min(c, self.cap_ms)

    def next_delay(self):
        """ms to wait before the next connect attempt, uniform in [0, ceiling()]; each call
        widens the window for the one after, up to cap_ms."""
        c = self.ceiling()
        if c < self.cap_ms:
            self.attempt += 1
        return self.rand(c + 1)

    def failed(self):
        """A connect failed or the link dropped: the up time so far does not count."""
        self.up_since = None

    def connected(self, now_ms):
        self.up_since = now_ms

    def maybe_reset(self, now_ms):
        """Call while connected: after stable_ms of link, retries start small again."""
        if self.up_since is not None and self.attempt and \
                ticks_diff(now_ms, self.up_since) >= self.stable_ms:
            self.attempt = 0
            return True
        return False
