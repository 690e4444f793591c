# Simulated ESP32 `machine` module. Under MicroPython this file shadows the built-in, under
# CPython tests import it from host_tools/simboard. It refuses what the chip refuses, with the
# exception types the ESP32 port raises, and records what the firmware did for tests to see.
import os

import realclock
import simcivil
import simclock
import simworld
from simclock import (  # noqa: F401  (re-exported as machine.* constants)
    DEEPSLEEP_RESET,
    HARD_RESET,
    PWRON_RESET,
    SOFT_RESET,
    WDT_RESET,
)

# wake_reason() values and power modes, as in the ESP32 stubs.
PIN_WAKE = 2
EXT0_WAKE = 2
EXT1_WAKE = 3
TIMER_WAKE = 4
TOUCHPAD_WAKE = 5
ULP_WAKE = 6
IDLE = 1
SLEEP = 2
DEEPSLEEP = 4

_UNSET = object()


def _pin_id(p):
    return p._g.n if isinstance(p, Pin) else p


def _check_output(n):
    chip = simclock.chip_info()
    if n in chip["input_only"]:
        raise ValueError("pin can only be input")
    if n in chip["flash"]:  # stricter than the chip, which just hangs
        raise ValueError("pin %d is wired to the flash" % n)


# ---------------------------------------------------------------- Pin

class Pin:
    IN = simworld.IN
    OUT = simworld.OUT
    OPEN_DRAIN = simworld.OPEN_DRAIN
    PULL_UP = simworld.PULL_UP
    PULL_DOWN = simworld.PULL_DOWN
    IRQ_RISING = simworld.IRQ_RISING
    IRQ_FALLING = simworld.IRQ_FALLING
    IRQ_LOW_LEVEL = simworld.IRQ_LOW_LEVEL
    IRQ_HIGH_LEVEL = simworld.IRQ_HIGH_LEVEL
    WAKE_LOW = 4
    WAKE_HIGH = 5
    DRIVE_0 = 0
    DRIVE_1 = 1
    DRIVE_2 = 2
    DRIVE_3 = 3

    def __init__(self, id, mode=-1, pull=-1, *, value=None, drive=None, hold=None, alt=None):
        self._g = simworld.gpio(id)
        self.init(mode, pull, value=value, drive=drive, hold=hold)

    def init(self, mode=-1, pull=-1, *, value=None, drive=None, hold=None, alt=None):
        g = self._g
        if mode != -1 and mode not in (Pin.IN, Pin.OUT, Pin.OPEN_DRAIN):
            raise ValueError("invalid pin mode")
        if mode in (Pin.OUT, Pin.OPEN_DRAIN):
            _check_output(g.n)
        if pull != -1:
            if pull not in (None, Pin.PULL_UP, Pin.PULL_DOWN):
                raise ValueError("invalid pull")
            # GPIO 34-39 on the esp32 have no pull resistors: asking for one does nothing.
            g.pull = None if g.n in simclock.chip_info()["no_pull"] else pull
        if value is not None:  # set the output buffer before the mode: no glitch
            g.out = 1 if value else 0
        if mode != -1:
            g.mode = mode
        g.update()

    def value(self, x=_UNSET):
        g = self._g
        if x is _UNSET:
            simclock.sync()
            return g.level
        g.out = 1 if x else 0
        g.update()

    __call__ = value

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def toggle(self):
        self.value(0 if self._g.out else 1)

    def mode(self, mode=_UNSET):
        if mode is _UNSET:
            return self._g.mode
        self.init(mode)

    def pull(self, pull=_UNSET):
        if pull is _UNSET:
            return self._g.pull
        self.init(-1, pull)

    def irq(self, handler=None, trigger=3, *, priority=1, wake=None, hard=False):
        if trigger not in (1, 2, 3, 4, 5):
            raise ValueError("bad trigger")
        g = self._g
        g.handler = handler
        g.trigger = trigger
        g.irq_pin = self
        # A level interrupt whose level is already there fires at once (the real one
        # keeps firing; here it fires once per entry into the level).
        if handler is not None and trigger in (4, 5) and g.level == (trigger == 5):
            simworld.fire_irq(g)
        return _IRQ(g)

    def __repr__(self):
        return "Pin(%d)" % self._g.n

    def __eq__(self, other):
        return isinstance(other, Pin) and other._g is self._g

    def __hash__(self):
        return self._g.n


class _IRQ:
    def __init__(self, g):
        self._g = g

    def trigger(self, *args):
        return self._g.trigger

    def flags(self):
        return 0


class Signal:
    """A Pin with optional inversion: on() means active."""

    def __init__(self, pin, *args, invert=False, **kw):
        self._pin = pin if isinstance(pin, Pin) else Pin(pin, *args, **kw)
        self._inv = 1 if invert else 0

    def value(self, x=_UNSET):
        if x is _UNSET:
            return self._pin.value() ^ self._inv
        self._pin.value((1 if x else 0) ^ self._inv)

    __call__ = value

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)


# ---------------------------------------------------------------- PWM (LEDC)

_LEDC_CLK = 80_000_000
_MAX_BITS = 16


def _resolution(freq):
    """Largest duty resolution <= 16 bits with 80 MHz / freq >= 2**bits."""
    bits = _MAX_BITS
    while bits > 1 and (_LEDC_CLK // freq) < (1 << bits):
        bits -= 1
    return bits


class _Channel:
    def __init__(self):
        self.freq_hz = 5000
        self.kind = "u16"  # how the duty was last given: kept across freq changes
        self.req = 32768
        self.invert = False
        self.bits = _resolution(5000)
        self.hw = 0

    def apply(self):
        self.bits = _resolution(self.freq_hz)
        top = 1 << self.bits
        if self.kind == "u16":
            hw = (self.req * top + 32767) // 65535
        else:
            hw = (self.req * self.freq_hz * top + 500_000_000) // 1_000_000_000
        self.hw = hw if hw < top else top

    def duty_u16(self):
        return (self.hw * 65535 + (1 << (self.bits - 1))) >> self.bits

    def fraction(self):
        f = self.hw / (1 << self.bits)
        return 1.0 - f if self.invert else f


class PWM:
    def __init__(self, dest, *, freq=-1, duty_u16=-1, duty_ns=-1, invert=_UNSET, duty=-1):
        n = _pin_id(dest)
        g = simworld.gpio(n)
        _check_output(n)
        self._g = g
        self._ch = None
        self.init(freq=freq, duty_u16=duty_u16, duty_ns=duty_ns, invert=invert, duty=duty)

    def init(self, *, freq=-1, duty_u16=-1, duty_ns=-1, invert=_UNSET, duty=-1):
        g = self._g
        chip = simclock.chip_info()
        ch = g.pwm
        if ch is None:
            used = [x.pwm for x in simworld._gpios.values() if x.pwm is not None]
            if len(used) >= chip["pwm_channels"]:
                raise ValueError("out of PWM channels")
            ch = _Channel()
        if freq != -1:
            if not 1 <= freq <= 40_000_000:
                raise ValueError("freq must be from 1Hz to 40MHz")
            freqs = [x.pwm.freq_hz for x in simworld._gpios.values()
                     if x.pwm is not None and x is not g]
            if freq not in freqs and len(set(freqs)) >= chip["pwm_timers"]:
                raise ValueError("out of PWM timers")
        if duty_u16 != -1:
            _check_u16(duty_u16)
            kind, req = "u16", duty_u16
        elif duty_ns != -1:
            kind, req = "ns", _check_ns(duty_ns)
        elif duty != -1:
            kind, req = "u16", _duty10(duty)
        else:
            kind, req = ch.kind, ch.req
        # everything is valid: apply
        if freq != -1:
            ch.freq_hz = freq
        ch.kind, ch.req = kind, req
        if invert is not _UNSET:
            ch.invert = bool(invert)
        g.pwm = ch
        self._ch = ch
        self._apply()

    def _live(self):
        ch = self._ch
        if ch is None or self._g.pwm is not ch:
            raise ValueError("PWM is not initialised")
        return ch

    def _apply(self):
        ch = self._ch
        ch.apply()
        h = self._g.pwm_hist
        rec = (ch.duty_u16(), ch.fraction())
        if simworld.recording and (not h or h[-1][1:] != rec):
            h.append((simclock.now_us(), rec[0], rec[1]))

    def freq(self, value=_UNSET):
        ch = self._live()
        if value is _UNSET:
            return ch.freq_hz
        self.init(freq=value)

    def duty_u16(self, value=_UNSET):
        ch = self._live()
        if value is _UNSET:
            return ch.duty_u16()
        _check_u16(value)
        ch.kind, ch.req = "u16", value
        self._apply()

    def duty_ns(self, value=_UNSET):
        ch = self._live()
        if value is _UNSET:
            return (ch.hw * 1_000_000_000 + (ch.freq_hz << ch.bits) // 2) // (
                ch.freq_hz << ch.bits)
        ch.kind, ch.req = "ns", _check_ns(value)
        self._apply()

    def duty(self, value=_UNSET):
        """Legacy 10-bit duty (0..1023)."""
        ch = self._live()
        if value is _UNSET:
            return ch.duty_u16() >> 6
        ch.kind, ch.req = "u16", _duty10(value)
        self._apply()

    def deinit(self):
        g = self._g
        if self._ch is not None and g.pwm is self._ch:
            g.pwm = None
            if simworld.recording:
                g.pwm_hist.append((simclock.now_us(), 0, 0.0))
        self._ch = None

    def __repr__(self):
        ch = self._ch
        if ch is None:
            return "PWM(Pin(%d))" % self._g.n
        return "PWM(Pin(%d), freq=%d, duty_u16=%d)" % (self._g.n, ch.freq_hz, ch.duty_u16())


def _check_u16(v):
    if not 0 <= v <= 65535:
        raise ValueError("duty_u16 must be from 0 to 65535")


def _check_ns(v):
    if v < 0:
        raise ValueError("duty_ns must be >= 0")
    return int(v)


def _duty10(v):
    if not 0 <= v <= 1023:
        raise ValueError("duty must be from 0 to 1023")
    return min(65535, v * 64)


# ---------------------------------------------------------------- ADC

# Usable full scale per attenuation in mV (ESP32 ADC, approximate).
_FULL_SCALE_MV = (950, 1250, 1750, 3100)


class ADC:
    ATTN_0DB = 0
    ATTN_2_5DB = 1
    ATTN_6DB = 2
    ATTN_11DB = 3
    WIDTH_9BIT = 9
    WIDTH_10BIT = 10
    WIDTH_11BIT = 11
    WIDTH_12BIT = 12

    def __init__(self, id, *, atten=-1, sample_ns=None):
        n = _pin_id(id)
        self._g = simworld.gpio(n)
        chip = simclock.chip_info()
        if n in chip["adc1"]:
            self._unit = 1
        elif n in chip["adc2"]:
            self._unit = 2
        else:
            raise ValueError("invalid Pin for ADC")
        self._atten = ADC.ATTN_0DB
        self._bits = 12
        self.init(atten=atten)

    def init(self, *, atten=-1, sample_ns=None):
        if atten != -1:
            self.atten(atten)

    def atten(self, atten):
        if atten not in (0, 1, 2, 3):
            raise ValueError("invalid atten")
        self._atten = atten

    def width(self, bits):
        if simclock.chip != "esp32":
            if bits != 12:
                raise ValueError("invalid bits")
        elif not 9 <= bits <= 12:
            raise ValueError("invalid bits")
        self._bits = bits

    def _raw12(self):
        if self._unit == 2 and simworld.radio_on:
            raise OSError(110, "ADC2 cannot be read while Wi-Fi is active")
        fs = _FULL_SCALE_MV[self._atten]
        mv = simworld.adc_mv(self._g.n)
        if mv <= 0:
            return 0
        raw = int(mv * 4095 / fs + 0.5)
        return raw if raw < 4095 else 4095

    def read(self):
        return self._raw12() >> (12 - self._bits)

    def read_u16(self):
        bits = self._bits
        raw = self._raw12() >> (12 - bits)
        return (raw << (16 - bits)) | (raw >> (2 * bits - 16))

    def read_uv(self):
        return self._raw12() * _FULL_SCALE_MV[self._atten] * 1000 // 4095

    def deinit(self):
        pass


# ---------------------------------------------------------------- I2C

class _I2CBase:
    def _setup(self, scl, sda, freq):
        self._scl = _pin_id(scl)
        self._sda = _pin_id(sda)
        for n in (self._scl, self._sda):
            simworld.gpio(n)
            _check_output(n)  # the bus needs open-drain outputs
        if freq <= 0:
            raise ValueError("freq must be > 0")
        self._freq = freq

    def _xfer(self, nbytes):
        # a byte plus ACK is 9 clocks; the address byte is one more
        simclock.advance_us((nbytes + 1) * 9 * 1_000_000 // self._freq)

    def _dev(self, addr, nbytes):
        self._xfer(nbytes)
        dev = simworld.i2c_device(self._scl, self._sda, addr)
        if dev is None:
            # ENODEV: no ACK for the address. Two args so CPython sets .errno too.
            raise OSError(19, "ENODEV")
        return dev

    def scan(self):
        return [a for a in simworld.i2c_addrs(self._scl, self._sda) if 0x08 <= a <= 0x77]

    def writeto(self, addr, buf, stop=True):
        self._dev(addr, len(buf)).i2c_write(bytes(buf))
        return len(buf)

    def writevto(self, addr, vector, stop=True):
        data = b"".join(bytes(b) for b in vector)
        return self.writeto(addr, data, stop)

    def readfrom(self, addr, nbytes, stop=True):
        return bytes(self._dev(addr, nbytes).i2c_read(nbytes))

    def readfrom_into(self, addr, buf, stop=True):
        data = self.readfrom(addr, len(buf), stop)
        for i in range(len(buf)):
            buf[i] = data[i]

    def _mem(self, memaddr, addrsize):
        n = addrsize // 8
        return bytes((memaddr >> (8 * (n - 1 - i))) & 0xFF for i in range(n))

    def writeto_mem(self, addr, memaddr, buf, *, addrsize=8):
        self.writeto(addr, self._mem(memaddr, addrsize) + bytes(buf))

    def readfrom_mem(self, addr, memaddr, nbytes, *, addrsize=8):
        self.writeto(addr, self._mem(memaddr, addrsize), False)
        return self.readfrom(addr, nbytes)

    def readfrom_mem_into(self, addr, memaddr, buf, *, addrsize=8):
        data = self.readfrom_mem(addr, memaddr, len(buf), addrsize=addrsize)
        for i in range(len(buf)):
            buf[i] = data[i]

    def deinit(self):
        pass


class I2C(_I2CBase):
    def __init__(self, id, *, scl=None, sda=None, freq=400_000, timeout=50_000):
        defaults = simclock.chip_info()["i2c"]
        if id not in defaults:
            raise ValueError("I2C(%s) doesn't exist" % (id,))
        self._id = id
        self._setup(defaults[id][0] if scl is None else scl,
                    defaults[id][1] if sda is None else sda, freq)

    def init(self, *, scl=None, sda=None, freq=400_000, timeout=50_000):
        self._setup(self._scl if scl is None else scl, self._sda if sda is None else sda, freq)


class SoftI2C(_I2CBase):
    def __init__(self, scl, sda, *, freq=400_000, timeout=50_000):
        self._setup(scl, sda, freq)

    def init(self, *, scl, sda, freq=400_000, timeout=50_000):
        self._setup(scl, sda, freq)


# ---------------------------------------------------------------- time_pulse_us

def _wait_level(g, want, timeout_us):
    """Advance the clock until g.level == want or timeout; True if reached."""
    start = simclock.now_us()
    end = start + timeout_us
    while g.level != want:
        nxt = simclock.next_due_us()
        if nxt is None or nxt >= end:
            simclock.run_until_us(end)
            return g.level == want
        simclock.run_until_us(nxt)
    return True


def time_pulse_us(pin, pulse_level, timeout_us=1_000_000):
    """Blocks in virtual time as the real call does. -2: the level never came, -1: it never
    ended, within timeout_us each."""
    g = pin._g
    want = 1 if pulse_level else 0
    try:
        if not _wait_level(g, want, timeout_us):
            return -2
        start = simclock.now_us()
        if not _wait_level(g, 1 - want, timeout_us):
            return -1
        return simclock.now_us() - start
    finally:
        simclock.release_pace()


# ---------------------------------------------------------------- WDT, resets, sleep

class WDT:
    def __init__(self, id=0, timeout=5000):
        if id != 0:
            raise ValueError("WDT(%s) doesn't exist" % (id,))
        if timeout < 1:
            raise ValueError("WDT timeout too short")
        simclock.wdt_start(timeout)

    def feed(self):
        simclock.wdt_feed()


def reset():
    simclock.board_reset(HARD_RESET)


def soft_reset():
    simclock.board_reset(SOFT_RESET)


def reset_cause():
    return simclock.reset_cause()


def wake_reason():
    return simclock.wake_reason


def deepsleep(time_ms=None):
    """The chip powers down (outputs float, irqs and watchdog gone), the world goes on for
    time_ms, then the board boots with DEEPSLEEP_RESET. Without time_ms it wakes at once."""
    simclock.chip_reset(DEEPSLEEP_RESET)
    if time_ms:
        simclock.advance_us(time_ms * 1000)
    simclock.chip_reset(DEEPSLEEP_RESET)  # boots now: ticks restart at wake-up
    simclock.wake_reason = TIMER_WAKE if time_ms else 0
    raise simclock.BoardReset(DEEPSLEEP_RESET)


def lightsleep(time_ms=None):
    """Sleep time_ms of virtual time, waking early just after a pin irq handler ran."""
    if time_ms is not None:
        simclock.sleep_until_irq_us(time_ms * 1000)
        return
    while True:
        nxt = simclock.next_due_us()
        if nxt is None:
            raise RuntimeError("lightsleep() with nothing that could ever wake it")
        simclock.sleep_until_irq_us(nxt - simclock.now_us())
        if simclock._woke:
            return


def sleep():
    lightsleep()


def idle():
    """Wait for the next event, at most 1 ms: busy-wait loops that call idle() progress."""
    nxt = simclock.next_due_us()
    now = simclock.now_us()
    simclock.advance_us(1000 if nxt is None or nxt - now > 1000 else max(nxt - now, 1))


def disable_irq():
    return simworld.irq_disable()


def enable_irq(state=0):
    simworld.irq_enable(state)


def freq(hz=None):
    if hz is None:
        return simclock.cpu_hz
    if hz not in simclock.chip_info()["cpu_freqs"]:
        raise ValueError("invalid freq")
    simclock.cpu_hz = hz


def unique_id():
    return simworld.unique_id


# ---------------------------------------------------------------- RTC, Timer

# A virtual board that restarts its interpreter on a soft reset keeps its clock through this
# file: SIMBOARD_RTC_FILE holds the wall clock's offset from the host's real clock, decimal
# seconds ("-12.345678"), written whenever the RTC is set and read back at import. Absent
# (or no variable): the clock was never set and starts at the epoch, as on a fresh chip.
# Integer microseconds throughout: a float32 interpreter could not hold an epoch offset.
# RTC memory (machine.RTC().memory(): the crash count) is kept the same way, in FILE.mem.
_RTC_FILE = os.getenv("SIMBOARD_RTC_FILE")


def _real_us():
    return realclock.time_ns() // 1000


def _rtc_save():
    off = simclock.wall_us() - _real_us()
    sign, off = ("-", -off) if off < 0 else ("", off)
    tmp = _RTC_FILE + ".tmp"
    with open(tmp, "w") as f:
        f.write("%s%d.%06d\n" % (sign, off // 1_000_000, off % 1_000_000))
    os.rename(tmp, _RTC_FILE)  # whole or not at all: a board killed mid-write keeps the last


def _rtc_load():
    try:
        with open(_RTC_FILE) as f:
            text = f.read().strip()
    except OSError:
        return  # never set
    sign, digits = (-1, text[1:]) if text.startswith("-") else (1, text)
    whole, _, frac = digits.partition(".")
    if not whole.isdigit() or not (frac == "" or frac.isdigit()):
        print("simboard: %s: %r is not a number of seconds; the clock stays unset"
              % (_RTC_FILE, text))
        return
    off = sign * (int(whole) * 1_000_000 + int((frac + "000000")[:6]))
    simclock.set_wall_us(_real_us() + off)


def _rtc_memory_load():
    try:
        with open(_RTC_FILE + ".mem", "rb") as f:
            simclock.rtc_memory = f.read()
    except OSError:
        pass  # never written


if _RTC_FILE:
    _rtc_load()
    _rtc_memory_load()  # RTC memory (the crash count) lives beside it, as on the chip


class RTC:
    def __init__(self, id=0, *, datetime=None):
        if datetime is not None:
            self.datetime(datetime)

    def init(self, datetime):
        self.datetime(tuple(datetime) + (0,) * (8 - len(datetime)))

    def datetime(self, datetimetuple=None):
        """(year, month, day, weekday, hours, minutes, seconds, subseconds in us)."""
        if datetimetuple is None:
            us = simclock.wall_us()
            t = simcivil.gmtime(us // 1_000_000)
            return (t[0], t[1], t[2], t[6], t[3], t[4], t[5], us % 1_000_000)
        d = datetimetuple
        if len(d) != 8:
            raise ValueError("requested length 8 but object has length %d" % len(d))
        secs = simcivil.mktime((d[0], d[1], d[2], d[4], d[5], d[6], 0, 0))
        simclock.set_wall_us(secs * 1_000_000 + d[7])
        if _RTC_FILE:
            _rtc_save()

    def memory(self, data=None):
        """User RTC memory: survives resets and deep sleep (2 KB on ESP32)."""
        if data is None:
            return simclock.rtc_memory
        if len(data) > 2048:
            raise ValueError("buffer too long")
        simclock.rtc_memory = bytes(data)
        if _RTC_FILE:
            tmp = _RTC_FILE + ".mem.tmp"
            with open(tmp, "wb") as f:
                f.write(simclock.rtc_memory)
            os.rename(tmp, _RTC_FILE + ".mem")


class Timer:
    """Hardware timers 0-3, callbacks run at their virtual times (like soft irqs)."""

    ONE_SHOT = 0
    PERIODIC = 1

    def __init__(self, id, **kw):
        if id not in (0, 1, 2, 3):
            raise ValueError("invalid Timer number")
        self._ev = None
        if kw:
            self.init(**kw)

    def init(self, *, mode=PERIODIC, freq=-1, period=-1, callback=None, tick_hz=1000):
        self.deinit()
        if freq > 0:
            us = 1_000_000 // freq
        else:
            us = period * 1_000_000 // tick_hz
        self._us = max(1, us)
        self._mode = mode
        self._cb = callback
        self._ev = simclock.after_us(self._us, self._fire)
        _timers.append(self)

    def _fire(self):
        self._ev = None
        if self._mode == Timer.PERIODIC:
            self._ev = simclock.after_us(self._us, self._fire)
        if self._cb is not None:
            self._cb(self)

    def deinit(self):
        simclock.cancel(self._ev)
        self._ev = None
        if self in _timers:
            _timers.remove(self)

    def value(self):
        return 0


_timers = []


def _on_reset(pristine):
    while _timers:  # the chip's timers stop at any reset
        _timers[0].deinit()


simclock.on_reset(_on_reset)
