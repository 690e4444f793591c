# World-side device models for the simulated board: a BH1750 ambient-light sensor on I2C and
# an HC-SR04-style ultrasonic ranger on two GPIOs. Values may be constants or functions of
# virtual time in seconds, so a test can script a dusk or a filling bin.
import simclock
import simworld


def _at(v, t_us):
    return v(t_us / 1_000_000) if callable(v) else v


class BH1750:
    """BH1750FVI lux sensor. Commands: 0x00 power down, 0x01 power on, 0x07 reset data,
    0x10/0x11/0x13 continuous H/H2/L-res, 0x20/0x21/0x23 one-time H/H2/L-res (then powers
    down), 0x40-0x47/0x60-0x7F measurement time MTreg. A read returns the last completed
    measurement, 2 bytes big-endian; in H-res lux = raw / 1.2 (raw / 2.4 in H2).
    Conversions take 120 ms (H, H2) or 16 ms (L) at the default MTreg of 69."""

    CONT_H, CONT_H2, CONT_L = 0x10, 0x11, 0x13
    ONE_H, ONE_H2, ONE_L = 0x20, 0x21, 0x23
    _MODES = (0x10, 0x11, 0x13, 0x20, 0x21, 0x23)

    def __init__(self, lux=0.0, addr=0x23):
        self.addr = addr  # 0x23 with ADDR low, 0x5C with ADDR high
        self.lux = lux  # lux, or fn(t_s) -> lux
        self.acking = True  # False: the chip stops answering (unplugged, dead)
        self.powered = False
        self.mode = None
        self.mt = 69
        self.data = 0
        self.t0 = 0
        self.commands = []  # every command byte received, for tests

    def conv_us(self):
        base = 16_000 if self.mode in (0x13, 0x23) else 120_000
        return base * self.mt // 69

    def _settle(self, now):
        m = self.mode
        if m is None:
            return
        conv = self.conv_us()
        if now - self.t0 < conv:
            return
        if m & 0x20:  # one-time: one result, then power down
            self.data = self._measure(self.t0 + conv)
            self.mode = None
            self.powered = False
        else:
            done = self.t0 + (now - self.t0) // conv * conv
            self.data = self._measure(done)

    def _measure(self, t_us):
        lux = _at(self.lux, t_us)
        raw = lux * 1.2 * self.mt / 69
        if self.mode in (0x11, 0x21):
            raw *= 2
        raw = int(raw)
        if self.mode in (0x13, 0x23):
            raw &= ~3  # L-res: 4 lx steps
        return 0 if raw < 0 else (raw if raw < 65535 else 65535)

    def i2c_write(self, data):
        now = simclock.now_us()
        for b in data:
            self.commands.append(b)
            self._settle(now)
            if b == 0x00:
                self.powered = False
                self.mode = None
            elif b == 0x01:
                self.powered = True
            elif b == 0x07:
                if self.powered:  # not accepted while powered down
                    self.data = 0
            elif b in BH1750._MODES:
                self.powered = True
                self.mode = b
                self.t0 = now
            elif 0x40 <= b <= 0x47:
                self.mt = (self.mt & 0x1F) | ((b & 0x07) << 5)
            elif 0x60 <= b <= 0x7F:
                self.mt = (self.mt & 0xE0) | (b & 0x1F)

    def i2c_read(self, n):
        self._settle(simclock.now_us())
        pair = bytes(((self.data >> 8) & 0xFF, self.data & 0xFF))
        return (pair * (n // 2 + 1))[:n]


class Ultrasonic:
    """HC-SR04-style ranger: a high pulse of >= 10 us on trig starts a measurement; latency_us
    after its falling edge the echo pin goes high for the round trip 2 * distance / speed.
    Beyond max_range_m (or with distance_m=inf) the echo lasts no_echo_us (the sensor's own
    timeout); with distance_m None the echo never rises (dead or unplugged sensor). A trigger
    while the previous echo is still out is ignored.

    Speed of sound: speed_m_s if given; else 331.3 + 0.606 * temp_c when temp_c (degrees C,
    or fn(t_s)) is given; else 343.0 m/s, as before these options existed.
    noise_m: each measurement sees distance + noise_m * (u1 + u2 - 1), u uniform in [0, 1)
    from the ranger's own generator (seed), so the jitter is triangular within +/- noise_m
    and the same in both rings.
    blind_m: a target closer than this (after the noise) is lost in the transducer's
    ring-down; the module reports an echo of 0.8 * blind_m instead, whatever the real
    distance (JSN-SR04T modules answer just under their ~0.25 m minimum).
    spikes: {k: distance_m or None}: the k-th measurement (1-based, as counted in .triggers)
    sees that distance instead (a hand, a falling bag), or no echo for None."""

    BLIND_ECHO = 0.8

    def __init__(self, trig, echo, distance_m=None, speed_m_s=None, latency_us=250,
                 max_range_m=4.0, no_echo_us=38_000, temp_c=None, noise_m=0.0, blind_m=0.0,
                 spikes=None, seed=1):
        self.trig = trig
        self.echo = echo
        self.distance_m = distance_m  # metres, fn(t_s) -> metres, or None
        self.speed_m_s = speed_m_s
        self.temp_c = temp_c  # degrees C, fn(t_s) -> degrees C, or None
        self.noise_m = noise_m
        self.blind_m = blind_m
        self.spikes = spikes if spikes is not None else {}
        self.latency_us = latency_us
        self.max_range_m = max_range_m
        self.no_echo_us = no_echo_us
        self.triggers = 0  # measurements started, for tests
        self._rng = int(seed) & 0xFFFFFFFF
        self._rise = None
        self._busy_until = 0
        simworld.drive(echo, 0)  # the module's echo output idles low
        simworld.watch(trig, self._on_trig)

    def speed(self, t_us=None):
        """Speed of sound in m/s the echo travels at, at world time t_us (default now)."""
        if self.speed_m_s is not None:
            return self.speed_m_s
        if self.temp_c is None:
            return 343.0
        return 331.3 + 0.606 * _at(self.temp_c, simclock.now_us() if t_us is None else t_us)

    def echo_us(self, d, t_us=None):
        if d > self.max_range_m:
            return self.no_echo_us
        return int(round(2 * d / self.speed(t_us) * 1_000_000))

    def _rand(self):
        # 32-bit LCG (Numerical Recipes constants): integers only, identical in both rings.
        self._rng = (self._rng * 1664525 + 1013904223) & 0xFFFFFFFF
        return self._rng / 4294967296.0

    def _on_trig(self, g, level):
        now = simclock.now_us()
        if level:
            self._rise = now
            return
        rise = self._rise
        self._rise = None
        if rise is None or now - rise < 10 or now < self._busy_until:
            return
        self.triggers += 1
        # From trigger to echo end the chip counts microseconds: no host time leaks in.
        # time_pulse_us releases it; the event is a safety net if nobody listens.
        simclock.hold_pace()
        simclock.after_us(100_000, simclock.release_pace)
        d = self.spikes.get(self.triggers, _NOT) if self.spikes else _NOT
        if d is _NOT:
            d = _at(self.distance_m, now)
        if d is None:
            return
        if self.noise_m:
            d += self.noise_m * (self._rand() + self._rand() - 1.0)
        if d < self.blind_m:
            d = self.BLIND_ECHO * self.blind_m
        if d < 0:
            d = 0.0
        t1 = now + self.latency_us
        t2 = t1 + self.echo_us(d, now)
        simclock.at_us(t1, simworld.drive, self.echo, 1)
        simclock.at_us(t2, simworld.drive, self.echo, 0)
        self._busy_until = t2


_NOT = object()  # "no spike for this measurement"
