# The inlet's ultrasonic ranger and air thermometers (shell: the pins). What a ping means and
# how a burst becomes a reading is decided in agent.ranging.
import time

import machine
from micropython import const

from agent import ranging
from agent.sched import ticks_diff

TRIG_US = const(12)  # trigger pulse: HC-SR04 / JSN-SR04T need >= 10 us


class Ranger:
    """An HC-SR04-style ranger (trigger out, echo in) read in bursts of n pings.

    poll() (and step()) does at most one ping per call, so the cooperative loop never blocks
    longer than one ping: about ping_timeout_us(max_m) when the echo never starts (30 ms for
    4 m), the sensor's start latency plus that when it never ends. Pings are at least gap_ms apart,
    trigger to trigger, also across bursts: closer than ~60 ms a ping hears the previous
    ping's late echoes."""

    def __init__(self, trig_pin_no, echo_pin_no, n=5, gap_ms=70, blind_m=0.25, max_m=4.0,
                 spread_m=0.05):
        self.trig = machine.Pin(trig_pin_no, machine.Pin.OUT, value=0)
        self.echo = machine.Pin(echo_pin_no, machine.Pin.IN)
        self.gap_ms = gap_ms if gap_ms > 0 else 0
        self.timeout_us = ranging.ping_timeout_us(max_m)
        self.burst = ranging.Burst(n, blind_m, max_m, spread_m)
        self._last_ms = None  # ticks_ms of the last trigger
        self.fresh = False  # the last poll() completed a burst (see poll)

    def start(self):
        """Drop a burst in progress (or a reading had): the next pings begin a new one."""
        self.burst.reset()
        self.fresh = False

    def busy(self):
        """True while a burst has begun and not yet given its reading."""
        b = self.burst
        return 0 < b.count < b.n

    def left_ms(self, now_ms):
        """ms until the next ping may go (gap_ms after the last one), 0 when it may now."""
        last = self._last_ms
        if last is None:
            return 0
        left = self.gap_ms - ticks_diff(now_ms, last)
        return left if left > 0 else 0

    def ping(self, temp_c):
        """One measurement now; returns the ping's class (agent.ranging OK, BLIND, ...)."""
        trig = self.trig
        trig.value(1)
        time.sleep_us(TRIG_US)
        trig.value(0)
        echo_us = machine.time_pulse_us(self.echo, 1, self.timeout_us)
        return self.burst.add(echo_us, temp_c)

    def poll(self, now_ms, temp_c):
        """Ping if gap_ms has passed since the last ping; returns wait_ms until the next ping
        is due, counted from now_ms (as the scheduler counts a task's returned delay).

        Allocates nothing (the agent's loop calls it once per ping): when this call's ping
        completed a burst, `fresh` is True and `burst` holds the judged reading (quality,
        distance_um, n_valid) until the next ping, which begins a new burst, or start()."""
        self.fresh = False
        left = self.left_ms(now_ms)
        if left > 0:
            return left
        burst = self.burst
        if burst.done:
            burst.reset()  # the previous reading was had: this ping begins a new burst
        self._last_ms = now_ms
        self.ping(temp_c)
        if burst.done:
            burst.measure()
            self.fresh = True
        return self.gap_ms

    def step(self, now_ms, temp_c):
        """poll(), with the reading as a tuple. Returns (wait_ms, reading): reading is the
        burst's (distance_m or None, quality, n_valid) when this ping completed it (the next
        ping starts a new burst), else None. Makes a tuple per call: the agent's loop uses
        poll()."""
        wait = self.poll(now_ms, temp_c)
        if not self.fresh:
            return wait, None
        reading = self.burst.result()
        self.burst.reset()
        return wait, reading


class NtcThermometer:
    """An NTC thermistor divider on an ADC pin (thermistor from supply to the pin, series
    resistor to GND: see agent.ranging.ntc_celsius). Use an ADC1 pin: ADC2 cannot be read
    while Wi-Fi is on."""

    def __init__(self, adc_pin_no, supply_mv, series_ohm, r25_ohm, beta):
        self.adc = machine.ADC(machine.Pin(adc_pin_no), atten=machine.ADC.ATTN_11DB)
        self.params = (supply_mv, series_ohm, r25_ohm, beta)

    def read(self, now_ms):
        """Degrees C, or None (open or shorted thermistor, ADC error)."""
        try:
            mv = self.adc.read_uv() / 1000
        except OSError:
            return None
        supply_mv, series_ohm, r25_ohm, beta = self.params
        return ranging.ntc_celsius(mv, supply_mv, series_ohm, r25_ohm, beta)


class Ds18b20Thermometer:
    """A DS18B20 on a 1-Wire pin, read without waiting for its conversion: each read()
    that finds the conversion it started done reads the result and starts the next one, so
    the value lags by one call. In between, read() returns the last result.

    None until the first conversion is read, when no sensor answers, after a bus error
    (the sensor is then forgotten and looked for again every RESCAN_MS), and for its
    power-on value 85.0 (a sensor that lost power since the conversion started)."""

    # A 12-bit conversion takes up to 750 ms from the command, which goes out after a search
    # or a scratchpad read of up to ~30 ms of bus time counted from now_ms: wait 800.
    CONVERT_MS = 800
    RESCAN_MS = 30000

    def __init__(self, pin_no):
        import ds18x20  # loaded only on boards that have one
        import onewire

        self.ds = ds18x20.DS18X20(onewire.OneWire(machine.Pin(pin_no)))
        self.rom = None
        self.value = None  # degrees C from the last conversion read
        self._conv_ms = None  # when the running conversion started
        self._scan_ms = None  # when the bus was last searched

    def read(self, now_ms):
        if self.rom is None and not self._scan(now_ms):
            return None
        conv = self._conv_ms
        if conv is not None and ticks_diff(now_ms, conv) < self.CONVERT_MS:
            return self.value
        try:
            if conv is not None:
                t = self.ds.read_temp(self.rom)
                self.value = t if -55 <= t <= 125 and t != 85.0 else None
            self.ds.convert_temp()
            self._conv_ms = now_ms
        except Exception:  # onewire.OneWireError (no presence pulse), CRC error, OSError
            self.rom = None
            self.value = None
            self._conv_ms = None
            self._scan_ms = now_ms
            return None
        return self.value

    def _scan(self, now_ms):
        if self._scan_ms is not None and ticks_diff(now_ms, self._scan_ms) < self.RESCAN_MS:
            return False
        self._scan_ms = now_ms
        try:
            roms = self.ds.scan()
        except Exception:
            roms = None
        if not roms:
            return False
        self.rom = roms[0]
        self._conv_ms = None
        return True


class FixedTemperature:
    """The configured air temperature, for a board without a thermometer."""

    def __init__(self, temp_c):
        self.temp_c = temp_c

    def read(self, now_ms):
        return self.temp_c
