# World-side device models for the simulated board: a BH1750 ambient-light sensor on I2C (and,
# by its name here, the HC-SR04-style ultrasonic ranger, which lives in simworld). Values may
# be constants or functions of virtual time in seconds, so a test can script a dusk or a
# filling bin. Imports simworld; simworld never imports this module.
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


# The ranger lives in simworld, beside the pins it is wired to (simworld.ultrasonic makes one);
# the name stays here too, where the device models are.
Ultrasonic = simworld.Ultrasonic
