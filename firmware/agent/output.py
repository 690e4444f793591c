# From a perceived light level to the driver's PWM duty (pure).
#
# "log" is the DALI (IEC 62386-102) logarithmic dimming curve: arc power level n in 1..254
# gives light output X(n) = 10 ** ((n - 1) / (253 / 3) - 1) percent, so n = 254 is 100 %,
# n = 1 is 0.1 %, and each step is the same ratio (about 2.8 %) brighter than the last:
# equal steps look equal to the eye. A level p in 0 < p <= 100 maps to n = 1 + p / 100 * 253
# without rounding to whole steps (PWM is finer than DALI's 254 steps), which simplifies to
#     output = 10 ** (3 * p / 100 - 1)
# 0 stays 0 (off). "linear" passes the level through unchanged.
#
# Ramp limits how fast the level may change (a smooth fade instead of a jump), on the
# perceived level, before the curve; it uses ticks_diff so the tick wrap does no harm.
from micropython import const

from agent.sched import ticks_diff

DUTY_MAX = const(65535)


def perceived_to_output(level_pct, curve="log"):
    """Light output in percent of full for a perceived level in percent."""
    if level_pct <= 0:
        return 0.0
    if level_pct >= 100:
        return 100.0
    if curve == "linear":
        return float(level_pct)
    return 10 ** (0.03 * level_pct - 1)


def duty_u16(level_pct, curve="log", invert=False):
    """PWM duty 0..65535 for machine.PWM.duty_u16; invert for drivers whose dim input is
    active-low (then 65535 is dark)."""
    # Scaled before the division: 50 % is 3276750 / 100 exactly, also in the chip's float32
    # (655.35 is not a float32, and 50 * 655.35 rounds to 32767).
    d = int(perceived_to_output(level_pct, curve) * DUTY_MAX / 100 + 0.5)
    if d > DUTY_MAX:
        d = DUTY_MAX
    elif d < 0:
        d = 0
    return DUTY_MAX - d if invert else d


class Ramp:
    """Slew-rate limit: the level follows its target at most rate_pct_per_s percent per
    second (rate <= 0: no limit). The first step starts the clock; call jump() to go
    somewhere at once (e.g. switching off at dawn)."""

    def __init__(self, rate_pct_per_s, start_pct=0.0):
        self.rate = rate_pct_per_s
        self.current = start_pct
        self._last = None

    def jump(self, pct):
        self.current = pct

    def step(self, target_pct, now_ms):
        last = self._last
        if last is None:
            self._last = now_ms
            if self.rate <= 0:
                self.current = target_pct
            return self.current
        dt = ticks_diff(now_ms, last)
        if dt < 0:
            return self.current  # a stale clock reading: keep time moving forwards only
        self._last = now_ms
        cur = self.current
        if cur == target_pct:
            return cur
        if self.rate <= 0:
            self.current = target_pct
            return target_pct
        most = self.rate * dt / 1000
        if target_pct > cur:
            cur = target_pct if target_pct - cur <= most else cur + most
        else:
            cur = target_pct if cur - target_pct <= most else cur - most
        self.current = cur
        return cur

    def settled(self, target_pct):
        return self.current == target_pct
