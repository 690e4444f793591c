# The world around the simulated chip, and the API a test uses to play it: external pin levels,
# analog voltages, I2C devices on the wires, Wi-Fi access points, plus what the chip did
# (pin and PWM histories). Physical state survives a board reset; simclock.reset() clears it.
import simclock

# Pin modes and pulls: the ESP32 port's values, shared with machine.Pin.
IN = 1
OUT = 3
OPEN_DRAIN = 7
PULL_DOWN = 1
PULL_UP = 2
# irq trigger values on ESP32 are GPIO interrupt types, not all bit flags.
IRQ_RISING = 1
IRQ_FALLING = 2
IRQ_LOW_LEVEL = 4
IRQ_HIGH_LEVEL = 5


class Gpio:
    """One GPIO: the chip side (mode, pull, output buffer, irq) and the world side (external
    drive, watchers, history). Every Pin object for the same number shares this."""

    def __init__(self, n):
        self.n = n
        self.ext = None  # level the world drives: None (nothing connected), 0 or 1
        self.watchers = []  # world models: fn(gpio, level) on every level change
        self.history = [(simclock.now_us(), 0)]  # (t_us, level) at every change
        self.level = 0
        self.adc_mv = None  # analog source: mV, or fn(t_s) -> mV
        self.adc_noise_mv = 0
        self.pwm_hist = []  # (t_us, duty_u16, output fraction)
        self.pwm = None  # the machine.PWM channel state while PWM drives this pin
        self.chip_reset()

    def chip_reset(self):
        if self.pwm is not None and recording:
            self.pwm_hist.append((simclock.now_us(), 0, 0.0))
        self.pwm = None
        self.mode = None  # never configured: behaves as an input
        self.pull = None  # effective pull (pins without pull hardware keep None)
        self.out = 0
        self.handler = None
        self.trigger = 0
        self.irq_pin = None

    def compute(self):
        m = self.mode
        if m == OUT:
            return self.out
        if m == OPEN_DRAIN and not self.out:
            return 0
        if self.ext is not None:
            return self.ext
        return 1 if self.pull == PULL_UP else 0  # floating input reads 0 here

    def update(self):
        new = self.compute()
        if new == self.level:
            return
        self.level = new
        if recording:
            self.history.append((simclock.now_us(), new))
        if self.handler is not None:
            t = self.trigger
            if t == IRQ_LOW_LEVEL or t == IRQ_HIGH_LEVEL:
                hit = new == (t == IRQ_HIGH_LEVEL)
            else:
                hit = t & (IRQ_RISING if new else IRQ_FALLING)
            if hit:
                fire_irq(self)
        for fn in self.watchers:
            fn(self, new)


_gpios = {}
recording = True  # see keep_history()
_irq_off = 0  # machine.disable_irq() nesting
_irq_pending = []


def gpio(n):
    """The Gpio for number n, checked against the selected chip's table."""
    g = _gpios.get(n)
    if g is None:
        if not isinstance(n, int) or n not in simclock.chip_info()["gpio"]:
            raise ValueError("invalid pin")
        g = Gpio(n)
        _gpios[n] = g
    return g


def fire_irq(g):
    if _irq_off:
        _irq_pending.append(g)
        return
    simclock.note_irq()
    g.handler(g.irq_pin)


def irq_disable():
    global _irq_off
    _irq_off += 1
    return _irq_off - 1


def irq_enable(state):
    global _irq_off
    _irq_off = state if state > 0 else 0
    while not _irq_off and _irq_pending:
        g = _irq_pending.pop(0)
        if g.handler is not None:
            simclock.note_irq()
            g.handler(g.irq_pin)


# ---- pins: the world drives inputs and reads what the chip did ----

def drive(n, level):
    """Drive GPIO n from outside: 1, 0, or None (disconnect: pulls decide)."""
    g = gpio(n)
    g.ext = None if level is None else (1 if level else 0)
    g.update()


def drive_at_ms(t_ms, n, level):
    """Schedule drive(n, level) at world time t_ms; returns a simclock handle."""
    gpio(n)
    return simclock.at_ms(t_ms, drive, n, level)


def drive_after_ms(dt_ms, n, level):
    gpio(n)
    return simclock.after_ms(dt_ms, drive, n, level)


def pulse_at_ms(t_ms, n, width_ms, level=1):
    """Drive n to level at t_ms and back to the other level width_ms later (a PIR pulse)."""
    drive_at_ms(t_ms, n, level)
    drive_at_ms(t_ms + width_ms, n, 0 if level else 1)


def level(n):
    """The level currently on GPIO n (what an input reads, or what an output drives)."""
    return gpio(n).level


def pin_mode(n):
    """machine.Pin mode of GPIO n, or None if the firmware never configured it."""
    return gpio(n).mode


def pin_history(n):
    """[(t_us, level)] every level change of GPIO n, first entry its level at creation."""
    return list(gpio(n).history)


def watch(n, fn):
    """Call fn(gpio, level) on every level change of GPIO n (how world models see outputs)."""
    gpio(n).watchers.append(fn)


# ---- PWM: what the LEDC put out ----

def pwm_history(n):
    """[(t_us, duty_u16)] as set (already quantised), 0 on deinit."""
    return [(t, d) for (t, d, _) in gpio(n).pwm_hist]


def pwm_fraction_history(n):
    """[(t_us, fraction 0..1)] of time the output was high, invert applied."""
    return [(t, f) for (t, _, f) in gpio(n).pwm_hist]


def pwm_fraction(n):
    """Fraction 0..1 of time GPIO n's PWM output is high now (0.0 if no PWM)."""
    h = gpio(n).pwm_hist
    return h[-1][2] if h else 0.0


def pwm_freq(n):
    """Current PWM frequency on GPIO n, or None."""
    ch = gpio(n).pwm
    return None if ch is None else ch.freq_hz


# ---- analog ----

def set_adc_mv(n, mv, noise_mv=0):
    """Voltage at GPIO n in millivolts: a number or fn(t_s) -> mV; plus uniform-ish noise of
    +/- noise_mv from a seeded generator (same sequence under CPython and MicroPython)."""
    g = gpio(n)
    g.adc_mv = mv
    g.adc_noise_mv = noise_mv


def adc_mv(n):
    g = gpio(n)
    v = g.adc_mv
    if v is None:
        return 0.0
    if callable(v):
        v = v(simclock.now_s())
    if g.adc_noise_mv:
        v += g.adc_noise_mv * (rand() + rand() - 1.0)
    return v


def seed(s):
    """Seed the world's noise generator."""
    global _rng
    _rng = (int(s) & 0xFFFFFFFF) or 0x9E3779B9


def rand():
    """Deterministic uniform float in [0, 1): xorshift32, identical in both rings."""
    global _rng
    x = _rng
    x ^= (x << 13) & 0xFFFFFFFF
    x ^= x >> 17
    x ^= (x << 5) & 0xFFFFFFFF
    _rng = x
    return x / 4294967296.0


# ---- I2C wiring ----

_i2c = []  # (device, scl, sda)


def attach_i2c(device, scl=None, sda=None):
    """Wire an I2C device (with .addr) to the bus on GPIOs scl/sda; None = on every bus."""
    _i2c.append((device, scl, sda))
    return device


def detach_i2c(device):
    for i in range(len(_i2c) - 1, -1, -1):
        if _i2c[i][0] is device:
            _i2c.pop(i)


def i2c_device(scl, sda, addr):
    """The acking device at addr on the bus scl/sda, or None."""
    for dev, c, d in _i2c:
        if (c is None or c == scl) and (d is None or d == sda) and dev.addr == addr:
            if getattr(dev, "acking", True):
                return dev
    return None


def i2c_addrs(scl, sda):
    out = []
    for dev, c, d in _i2c:
        if (c is None or c == scl) and (d is None or d == sda) and getattr(dev, "acking", True):
            if dev.addr not in out:
                out.append(dev.addr)
    out.sort()
    return out


# ---- ultrasonic ranger ----

def ultrasonic(trig, echo, distance_m=None, **kw):
    """Wire an HC-SR04-style ranger (see Ultrasonic below, also simdevices.Ultrasonic);
    returns it. Set its .distance_m (metres, fn(t_s), or None for no echo) to move the target;
    keywords temp_c, speed_m_s, noise_m, seed, blind_m, spikes, max_range_m, latency_us,
    no_echo_us."""
    return Ultrasonic(trig, echo, distance_m, **kw)


def _at(v, t_us):
    return v(t_us / 1_000_000) if callable(v) else v


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
        drive(echo, 0)  # the module's echo output idles low
        watch(trig, self._on_trig)

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
        simclock.at_us(t1, drive, self.echo, 1)
        simclock.at_us(t2, drive, self.echo, 0)
        self._busy_until = t2


_NOT = object()  # "no spike for this measurement"


# ---- 1-Wire: DS18B20 thermometers (the chip side is onewire.py and ds18x20.py) ----

_onewire = []  # every Ds18b20 in the world


class Ds18b20:
    """World side of a DS18B20 on the 1-Wire bus of GPIO pin. temp_c: degrees C, fn(t_s), or
    None while it does not answer (unplugged, broken wire). A conversion takes 750 ms (12
    bits) and gives the temperature at its end, in 1/16 degree steps within -55..125; until
    then reads return the previous result, and 85.0 (the power-on value) before the first.
    A sensor found not answering when the bus is used has lost power: 85.0 again."""

    CONVERT_US = 750_000
    POWER_ON_C = 85.0

    def __init__(self, pin, temp_c, rom):
        self.pin = pin
        self.temp_c = temp_c
        self.rom = bytes(rom)
        self.scratch_c = self.POWER_ON_C
        self.conversions = 0  # conversions started, for tests
        self._conv_us = None

    def answering(self):
        t = self.temp_c(simclock.now_s()) if callable(self.temp_c) else self.temp_c
        if t is None:
            self.scratch_c = self.POWER_ON_C
            self._conv_us = None
        return t is not None

    def _settle(self, now):
        t0 = self._conv_us
        if t0 is None or now - t0 < self.CONVERT_US:
            return
        self._conv_us = None
        t = self.temp_c
        if callable(t):
            t = t((t0 + self.CONVERT_US) / 1_000_000)
        if t is None:  # it lost power during the conversion
            self.scratch_c = self.POWER_ON_C
            return
        q = int(t * 16 + (0.5 if t >= 0 else -0.5))
        self.scratch_c = (q if -880 <= q <= 2000 else (-880 if q < 0 else 2000)) / 16

    def convert(self):
        now = simclock.now_us()
        self._settle(now)
        self._conv_us = now
        self.conversions += 1

    def read(self):
        self._settle(simclock.now_us())
        return self.scratch_c


def _crc8(data):
    """Dallas/Maxim CRC-8 (x^8 + x^5 + x^4 + 1), as in a 1-Wire ROM's last byte."""
    crc = 0
    for b in data:
        for _ in range(8):
            mix = (crc ^ b) & 1
            crc >>= 1
            if mix:
                crc ^= 0x8C
            b >>= 1
    return crc


def ds18b20(pin, temp_c=20.0, rom=None):
    """Put a DS18B20 on the 1-Wire bus of GPIO pin; returns it (set .temp_c to change the
    temperature, None: it stops answering). rom: 8 bytes; default family 0x28, a serial
    made from the pin and count, and its CRC."""
    gpio(pin)
    if rom is None:
        body = bytes((0x28, pin, len(_onewire), 0x5E, 0x4B, 0x00, 0x00))
        rom = body + bytes((_crc8(body),))
    dev = Ds18b20(pin, temp_c, rom)
    _onewire.append(dev)
    return dev


def onewire_devices(pin):
    """The DS18B20s answering on the bus of GPIO pin now."""
    return [d for d in _onewire if d.pin == pin and d.answering()]


# ---- Wi-Fi access points (the station side lives in network.py) ----

aps = {}  # ssid -> {"key", "rssi" (dBm or fn(t_s)), "connect_ms", "channel", "bssid"}
radio_on = False  # set by network while a WLAN interface is active (ADC2 is then unusable)


def wifi_ap(ssid, key="", rssi=-60, connect_ms=1500, channel=6):
    """Put an access point in range; a station connecting with the right key gets an IP
    connect_ms later."""
    aps[ssid] = {
        "key": key,
        "rssi": rssi,
        "connect_ms": connect_ms,
        "channel": channel,
        "bssid": bytes([0x02, 0xAB, len(aps), 0x00, 0x00, 0x01]),
    }


def wifi_ap_remove(ssid):
    """Switch an access point off: a station on it loses the link."""
    aps.pop(ssid, None)
    for fn in _link_watchers:
        fn(ssid)


def wifi_set_rssi(ssid, rssi):
    aps[ssid]["rssi"] = rssi


def wifi_drop():
    """Drop the station's link now (status becomes STAT_BEACON_TIMEOUT)."""
    for fn in _link_watchers:
        fn(None)


_link_watchers = []  # the station side (network.py) registers here: simworld never imports it


def on_link_lost(fn):
    """Register fn(ssid): called when access point ssid is switched off, and with None when
    the link just drops (wifi_drop). network.py uses it to lose its station's link."""
    _link_watchers.append(fn)


def ap_rssi(ssid):
    r = aps[ssid]["rssi"]
    return r(simclock.now_s()) if callable(r) else r


# ---- identity ----

DEFAULT_UID = b"\x24\x0a\xc4\x12\x34\x56"
unique_id = DEFAULT_UID


def set_unique_id(b):
    """The chip's 6-byte id (also the station MAC)."""
    global unique_id
    if len(b) != 6:
        raise ValueError("unique_id is 6 bytes")
    unique_id = bytes(b)


def keep_history(on):
    """Record pin and PWM histories (the default), or not: a long run that only measures
    speed or memory should not grow lists that the real chip would never hold."""
    global recording
    recording = on


def _on_reset(pristine):
    global _irq_off, radio_on, unique_id, recording
    _irq_off = 0
    del _irq_pending[:]
    if pristine:
        _gpios.clear()
        del _i2c[:]
        aps.clear()
        del _onewire[:]
        radio_on = False
        recording = True
        unique_id = DEFAULT_UID
        seed(1)
        return
    for g in _gpios.values():  # the chip resets: outputs float, handlers are gone
        g.chip_reset()
        g.update()


seed(1)
simclock.on_reset(_on_reset)
