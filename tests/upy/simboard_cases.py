# Behaviour of the simulated board, as plain functions shared by both rings: imported by
# tests/upy/test_simboard.py (MicroPython, via tests/upy/run.py) and tests/sim/test_simboard.py
# (CPython/pytest). Each runs on a pristine board: the caller does simclock.reset() first.
import machine
import network
import simclock
import simdevices
import simtime as vtime  # the virtual clock in both rings (under MicroPython also `time`)
import simworld
from machine import ADC, I2C, PWM, WDT, Pin, SoftI2C


def raises(exc, fn, *args, **kw):
    """Call fn, return the exception it raised; fail if it raised nothing or something else."""
    try:
        fn(*args, **kw)
    except exc as e:
        return e
    raise AssertionError("%s not raised" % exc.__name__)


# ---------------------------------------------------------------- clock and time

def test_time_module_is_virtual_under_micropython():
    import sys
    import time

    if sys.implementation.name == "micropython":
        assert time.sleep_ms is vtime.sleep_ms  # time.py shadows the built-in
        time.sleep_ms(1500)
        assert simclock.now_ms() == 1500


def test_gmtime_known_dates():
    assert vtime.gmtime(0) == (1970, 1, 1, 0, 0, 0, 3, 1)
    assert vtime.gmtime(951782400) == (2000, 2, 29, 0, 0, 0, 1, 60)
    assert vtime.gmtime(1700000000) == (2023, 11, 14, 22, 13, 20, 1, 318)
    assert vtime.gmtime(-1) == (1969, 12, 31, 23, 59, 59, 2, 365)
    assert vtime.localtime(86400 * 365) == vtime.gmtime(86400 * 365)
    for s in (0, 951782400, 1700000000, 4102444799, -86400 * 400):
        assert vtime.mktime(vtime.gmtime(s)) == s


def test_mktime_normalises_and_checks_length():
    # month 13 of 2023 is January 2024; day 0 is the last day of the previous month
    assert vtime.mktime((2023, 13, 1, 0, 0, 0, 0, 0)) == vtime.mktime((2024, 1, 1, 0, 0, 0, 0, 0))
    assert vtime.gmtime(vtime.mktime((2024, 3, 0, 0, 0, 0, 0, 0)))[:3] == (2024, 2, 29)
    raises(TypeError, vtime.mktime, (2024, 1, 1))


def test_wall_clock_is_unset_then_follows_virtual_time():
    assert vtime.time() == 0  # no RTC/NTP yet: 1970, like a fresh board
    simclock.set_wall_time(1700000000)
    vtime.sleep(90)
    assert vtime.time() == 1700000090
    assert vtime.gmtime()[3:6] == (22, 14, 50)
    assert vtime.time_ns() == 1700000090 * 1_000_000_000


def test_ticks_wrap_arithmetic():
    top = vtime.TICKS_PERIOD - 1
    assert vtime.TICKS_PERIOD == 1 << 30
    assert vtime.ticks_add(top, 1) == 0
    assert vtime.ticks_diff(0, top) == 1
    assert vtime.ticks_diff(top, 0) == -1
    assert vtime.ticks_diff(vtime.ticks_add(5, -10), 5) == -10
    assert vtime.ticks_diff(1 << 29, 0) == -(1 << 29)  # half a period is the negative edge
    raises(OverflowError, vtime.ticks_add, 0, 1 << 29)


def test_ticks_follow_the_clock_and_wrap():
    t0 = vtime.ticks_ms()
    vtime.sleep_ms(1234)
    assert vtime.ticks_diff(vtime.ticks_ms(), t0) == 1234
    assert vtime.ticks_us() == 1_234_000
    simclock.advance_ms((1 << 30) - 1234 + 7)  # past the 2**30 ms wrap (12.4 days)
    assert vtime.ticks_ms() == 7
    assert vtime.ticks_diff(vtime.ticks_ms(), vtime.ticks_add(0, -3)) == 10


def test_sleep_ms_needs_int_like_the_port():
    raises(TypeError, vtime.sleep_ms, 1.5)
    vtime.sleep_ms(-5)  # negative: no sleep
    assert simclock.now_us() == 0
    vtime.sleep(0.25)
    assert simclock.now_us() == 250_000


def test_events_run_in_time_order_inside_a_sleep():
    seen = []
    simclock.at_ms(300, lambda: seen.append(("c", simclock.now_ms())))
    simclock.at_ms(100, lambda: seen.append(("a", simclock.now_ms())))
    h = simclock.at_ms(150, lambda: seen.append(("x", simclock.now_ms())))
    simclock.at_ms(200, lambda: seen.append(("b", simclock.now_ms())))
    simclock.cancel(h)
    vtime.sleep_ms(250)
    assert seen == [("a", 100), ("b", 200)]
    assert simclock.now_ms() == 250
    vtime.sleep_ms(100)
    assert seen[-1] == ("c", 300)


def test_idle_lets_a_busy_wait_reach_the_next_event():
    flag = []
    simclock.at_us(5_300, flag.append, 1)
    while not flag:
        machine.idle()
    assert simclock.now_us() == 5_300


def test_a_callback_that_sleeps_does_not_turn_time_back():
    simclock.at_ms(10, vtime.sleep_ms, 50)  # a world callback that blocks 50 ms
    simclock.at_ms(20, lambda: None)
    vtime.sleep_ms(30)
    assert simclock.now_ms() == 60
    vtime.sleep_ms(10)
    assert simclock.now_ms() == 70


def test_a_night_of_one_second_sleeps():
    for _ in range(86400):
        vtime.sleep_ms(1000)
    assert simclock.now_us() == 86400 * 1_000_000


def test_reset_gives_a_pristine_board():
    simclock.set_chip("esp32c3")
    Pin(3, Pin.OUT, value=1)
    simworld.attach_i2c(simdevices.BH1750())
    simclock.after_ms(10, lambda: None)
    simclock.set_wall_time(1700000000)
    raises(simclock.BoardReset, machine.reset)
    simclock.reset()
    assert simclock.now_us() == 0 and simclock.pending() == 0
    assert simclock.chip == "esp32" and machine.reset_cause() == machine.PWRON_RESET
    assert vtime.time() == 0
    assert simworld.pin_history(3) == [(0, 0)] and simworld.pin_mode(3) is None
    assert I2C(0).scan() == []


# ---------------------------------------------------------------- Pin

def test_pin_rejects_like_the_chip():
    e = raises(ValueError, Pin, 20)  # the esp32 has no GPIO 20
    assert e.args[0] == "invalid pin"
    raises(ValueError, Pin, 40)
    e = raises(ValueError, Pin, 34, Pin.OUT)
    assert e.args[0] == "pin can only be input"
    raises(ValueError, Pin, 36, Pin.OPEN_DRAIN)
    assert Pin(34, Pin.IN).value() == 0
    raises(ValueError, Pin, 7, Pin.OUT)  # SPI flash pin


def test_chip_selection_changes_the_pin_table():
    simclock.set_chip("esp32c3")
    Pin(21, Pin.OUT)
    raises(ValueError, Pin, 22)
    raises(ValueError, ADC, Pin(6))
    ADC(Pin(2))
    simclock.reset()
    simclock.set_chip("esp32s3")
    Pin(48, Pin.OUT)
    Pin(34, Pin.OUT)  # an ordinary GPIO on the S3
    raises(ValueError, Pin, 22)
    raises(ValueError, simclock.set_chip, "esp8266")


def test_pulls_decide_an_undriven_input():
    p = Pin(4, Pin.IN, Pin.PULL_UP)
    assert p.value() == 1
    simworld.drive(4, 0)
    assert p() == 0
    simworld.drive(4, None)
    assert p() == 1
    p.init(pull=Pin.PULL_DOWN)
    assert p() == 0
    # GPIO 34-39 have no pull resistors: PULL_UP does nothing, the input floats (reads 0)
    assert Pin(35, Pin.IN, Pin.PULL_UP).value() == 0


def test_output_history_has_timestamps():
    led = Pin(2, Pin.OUT, value=0)
    vtime.sleep_ms(100)
    led.on()
    vtime.sleep_ms(150)
    led.off()
    led(1)
    led.toggle()
    assert simworld.pin_history(2) == [(0, 0), (100_000, 1), (250_000, 0), (250_000, 1),
                                       (250_000, 0)]
    assert simworld.pin_mode(2) == Pin.OUT


def test_open_drain_releases_to_pull_up():
    p = Pin(16, Pin.OPEN_DRAIN, Pin.PULL_UP, value=0)
    assert simworld.level(16) == 0
    p(1)
    assert simworld.level(16) == 1
    simworld.drive(16, 0)  # another device pulls the line low
    assert p() == 0


def test_irq_edges_fire_at_their_virtual_time():
    seen = []
    pir = Pin(27, Pin.IN, Pin.PULL_DOWN)
    pir.irq(lambda p: seen.append((simclock.now_us(), p.value(), p is pir)),
            Pin.IRQ_RISING | Pin.IRQ_FALLING)
    simworld.pulse_at_ms(5200, 27, 3000)
    vtime.sleep_ms(10_000)
    assert seen == [(5_200_000, 1, True), (8_200_000, 0, True)]
    assert simclock.now_ms() == 10_000


def test_irq_rising_only_and_falling_only():
    up, down = [], []
    Pin(25, Pin.IN).irq(lambda p: up.append(simclock.now_ms()), trigger=Pin.IRQ_RISING)
    Pin(26, Pin.IN, Pin.PULL_UP).irq(lambda p: down.append(simclock.now_ms()),
                                     trigger=Pin.IRQ_FALLING)
    for t in (100, 300):
        simworld.pulse_at_ms(t, 25, 50)
        simworld.pulse_at_ms(t, 26, 50, level=0)
    vtime.sleep_ms(1000)
    assert up == [100, 300]
    assert down == [100, 300]
    raises(ValueError, Pin(25).irq, lambda p: None, 99)


def test_irq_can_be_removed_and_deferred():
    seen = []
    p = Pin(14, Pin.IN)
    p.irq(lambda pin: seen.append(simclock.now_ms()))
    simworld.drive(14, 1)
    state = machine.disable_irq()
    simworld.drive(14, 0)
    assert seen == [0]
    machine.enable_irq(state)  # the edge that came while disabled runs now
    assert seen == [0, 0]
    p.irq(None)
    simworld.drive(14, 1)
    assert seen == [0, 0]


def test_signal_inverts():
    s = machine.Signal(Pin(13, Pin.OUT), invert=True)
    s.on()
    assert simworld.level(13) == 0 and s.value() == 1
    s.off()
    assert simworld.level(13) == 1


# ---------------------------------------------------------------- PWM

def test_pwm_refused_on_input_only_pin():
    e = raises(ValueError, PWM, Pin(35), freq=1000, duty_u16=0)
    assert e.args[0] == "pin can only be input"
    raises(ValueError, PWM, 39)


def test_pwm_frequency_limits():
    p = PWM(Pin(13), freq=1, duty_u16=0)
    p.freq(40_000_000)
    assert p.freq() == 40_000_000
    raises(ValueError, p.freq, 40_000_001)
    raises(ValueError, p.freq, 0)
    raises(ValueError, PWM, Pin(12), freq=0)
    raises(ValueError, p.duty_u16, 65536)
    raises(ValueError, p.duty_u16, -1)


def test_pwm_duty_is_quantised_to_the_resolution():
    p = PWM(Pin(13), freq=5000, duty_u16=12345)  # 80 MHz / 5 kHz = 16000 -> 13 bits
    assert p.duty_u16() == 12344
    assert simworld.pwm_fraction(13) == 1543 / 8192
    p.init(freq=300_000, duty_u16=32768)  # 266 counts -> 8 bits: the low 8 bits are lost
    a = simworld.pwm_fraction(13)
    p.duty_u16(32768 + 127)
    assert simworld.pwm_fraction(13) == a == 0.5
    p.duty_u16(65535)
    assert simworld.pwm_fraction(13) == 1.0 and p.duty_u16() == 65535
    p.init(freq=1000, duty_ns=250_000)  # a quarter of a 1 ms period
    assert simworld.pwm_fraction(13) == 0.25 and p.duty_ns() == 250_000
    assert p.duty_u16() == 16384
    p.freq(2000)  # a pulse width set in ns stays a width: now half the period
    assert simworld.pwm_fraction(13) == 0.5
    p.init(freq=312_500, duty_u16=32768 + 128)  # exactly 256 counts: still 8 bits
    assert simworld.pwm_fraction(13) == 129 / 256
    p.init(freq=1, duty_u16=32768)  # 16 bits at most, even with counts to spare
    steps = simworld.pwm_fraction(13) * 65536
    assert steps == int(steps) and abs(steps - 32768) <= 1 and p.duty_u16() == 32768


def test_pwm_invert_history_and_deinit():
    p = PWM(Pin(13), freq=1000, duty_u16=16384, invert=True)
    assert simworld.pwm_fraction(13) == 0.75
    vtime.sleep_ms(500)
    p.duty_u16(0)
    vtime.sleep_ms(500)
    p.deinit()
    assert simworld.pwm_history(13) == [(0, 16384), (500_000, 0), (1_000_000, 0)]
    assert simworld.pwm_fraction_history(13) == [(0, 0.75), (500_000, 1.0), (1_000_000, 0.0)]
    assert simworld.pwm_fraction(13) == 0.0 and simworld.pwm_freq(13) is None
    raises(ValueError, p.duty_u16, 100)


def test_pwm_runs_out_of_timers():
    for i, n in enumerate((2, 4, 5, 12, 13, 14, 15, 16)):
        PWM(Pin(n), freq=1000 + i, duty_u16=0)
    PWM(Pin(17), freq=1000, duty_u16=0)  # an existing frequency shares its timer
    raises(ValueError, PWM, Pin(18), freq=9999, duty_u16=0)


# ---------------------------------------------------------------- ADC

def test_adc_refused_on_non_adc_pins():
    e = raises(ValueError, ADC, Pin(5))
    assert e.args[0] == "invalid Pin for ADC"
    raises(ValueError, ADC, Pin(23))
    raises(ValueError, ADC, 20)  # not even a pin
    ADC(Pin(36))
    ADC(32)


def test_adc_scales_and_saturates():
    a = ADC(Pin(34), atten=ADC.ATTN_11DB)
    simworld.set_adc_mv(34, 1550)
    assert abs(a.read() - 2048) <= 1
    assert abs(a.read_uv() - 1_550_000) < 1000
    simworld.set_adc_mv(34, 5000)
    assert a.read() == 4095 and a.read_u16() == 65535
    a.atten(ADC.ATTN_0DB)
    simworld.set_adc_mv(34, 950)
    assert a.read() == 4095
    simworld.set_adc_mv(34, 475)
    assert abs(a.read_u16() - 32768) < 20
    a.width(ADC.WIDTH_9BIT)
    assert a.read() in (255, 256)
    simworld.set_adc_mv(34, -100)
    assert a.read() == 0
    raises(ValueError, a.atten, 7)


def test_adc_follows_a_function_of_time_with_seeded_noise():
    a = ADC(Pin(33), atten=ADC.ATTN_11DB)
    simworld.set_adc_mv(33, lambda t: 100 * t)  # ramps 100 mV/s
    vtime.sleep(10)
    assert abs(a.read_uv() - 1_000_000) < 1000
    simworld.set_adc_mv(33, 1500, noise_mv=50)
    first = [a.read() for _ in range(20)]
    assert len(set(first)) > 5
    assert all(abs(r * 3100 / 4095 - 1500) <= 51 for r in first)
    simworld.seed(1)
    assert [a.read() for _ in range(20)] == first  # deterministic in both rings


def test_adc2_fails_while_wifi_is_on():
    a2 = ADC(Pin(25))
    a1 = ADC(Pin(32))
    simworld.set_adc_mv(25, 500)
    assert a2.read() > 0
    network.WLAN(network.STA_IF).active(True)
    raises(OSError, a2.read)
    a1.read()
    network.WLAN(network.STA_IF).active(False)
    assert a2.read() > 0


# ---------------------------------------------------------------- I2C, BH1750

def _lux(i2c, addr=0x23):
    b = i2c.readfrom(addr, 2)
    return ((b[0] << 8) | b[1]) / 1.2


def test_bh1750_continuous_high_res():
    simworld.attach_i2c(simdevices.BH1750(lux=250), scl=22, sda=21)
    i2c = I2C(0, scl=Pin(22), sda=Pin(21), freq=400_000)
    assert i2c.scan() == [0x23]
    i2c.writeto(0x23, b"\x01")
    i2c.writeto(0x23, b"\x10")
    assert _lux(i2c) == 0  # the first conversion takes 120 ms
    vtime.sleep_ms(180)
    assert abs(_lux(i2c) - 250) < 1


def test_bh1750_lux_follows_time_and_one_shot_powers_down():
    sensor = simdevices.BH1750(lux=lambda t: 1000 - 10 * t, addr=0x5C)  # dusk
    simworld.attach_i2c(sensor)
    i2c = SoftI2C(scl=Pin(18), sda=Pin(19))
    vtime.sleep(60)
    i2c.writeto(0x5C, bytes([0x20]))
    vtime.sleep_ms(200)
    assert abs(_lux(i2c, 0x5C) - 400) < 2
    assert not sensor.powered
    vtime.sleep(30)
    assert abs(_lux(i2c, 0x5C) - 400) < 2  # no new measurement without a new command
    i2c.writeto(0x5C, b"\x07")  # reset is ignored while powered down
    assert abs(_lux(i2c, 0x5C) - 400) < 2


def test_i2c_missing_device_is_enodev():
    i2c = I2C(0)
    e = raises(OSError, i2c.readfrom, 0x23, 2)
    assert e.errno == 19
    sensor = simworld.attach_i2c(simdevices.BH1750(lux=10))
    assert i2c.scan() == [0x23]
    sensor.acking = False  # the sensor dies
    assert i2c.scan() == []
    assert raises(OSError, i2c.writeto, 0x23, b"\x10").errno == 19
    raises(ValueError, I2C, 2)


def test_i2c_device_only_on_its_wires():
    simworld.attach_i2c(simdevices.BH1750(), scl=22, sda=21)
    assert SoftI2C(scl=Pin(18), sda=Pin(19)).scan() == []
    assert SoftI2C(scl=Pin(22), sda=Pin(21)).scan() == [0x23]
    raises(ValueError, SoftI2C, scl=Pin(34), sda=Pin(21))


# ---------------------------------------------------------------- time_pulse_us, ranger

def _ping(trig, echo, timeout_us=30_000):
    trig.off()
    vtime.sleep_us(2)
    trig.on()
    vtime.sleep_us(10)
    trig.off()
    return machine.time_pulse_us(echo, 1, timeout_us)


def test_ultrasonic_distance_to_pulse_width():
    ranger = simworld.ultrasonic(trig=5, echo=18, distance_m=0.5)
    trig = Pin(5, Pin.OUT, value=0)
    echo = Pin(18, Pin.IN)
    t0 = simclock.now_us()
    w = _ping(trig, echo)
    assert w == round(2 * 0.5 / 343 * 1_000_000)
    assert abs(w * 343 / 2_000_000 - 0.5) < 0.001
    assert simclock.now_us() - t0 == 12 + 250 + w  # the call blocked for the echo
    ranger.distance_m = 1.25
    assert abs(_ping(trig, echo) * 343 / 2_000_000 - 1.25) < 0.001
    assert ranger.triggers == 2
    trig.on()
    vtime.sleep_us(5)  # too short a trigger: the module ignores it
    trig.off()
    assert machine.time_pulse_us(echo, 1, 5000) == -2 and ranger.triggers == 2
    assert _ping(trig, echo, 100) == -2  # give up before the echo comes...
    assert abs(_ping(trig, echo) * 343 / 2_000_000 - 1.25) < 0.001  # ...it was on its way
    assert ranger.triggers == 3  # the trigger that came while busy did not count


def test_time_pulse_us_timeout_codes():
    ranger = simworld.ultrasonic(trig=5, echo=18, distance_m=None)  # no echo ever
    trig = Pin(5, Pin.OUT, value=0)
    echo = Pin(18, Pin.IN)
    t0 = simclock.now_us()
    assert _ping(trig, echo, 30_000) == -2
    assert simclock.now_us() - t0 == 12 + 30_000
    ranger.distance_m = 3.0  # echo of 17.5 ms, longer than a 10 ms timeout
    assert _ping(trig, echo, 10_000) == -1
    assert ranger.triggers == 2
    simworld.drive(15, 1)
    assert machine.time_pulse_us(Pin(15, Pin.IN), 1, 1000) == -1  # already high, stays high
    simworld.drive_after_ms(0.4, 15, 0)
    assert machine.time_pulse_us(Pin(15), 1, 1000) == 400


# ---------------------------------------------------------------- watchdog, resets, sleep

def test_starved_watchdog_resets_the_board():
    wdt = WDT(timeout=2000)
    for _ in range(5):
        vtime.sleep_ms(1500)
        wdt.feed()
    caught_by_firmware = False
    try:
        try:
            vtime.sleep_ms(5000)  # the loop hangs
        except Exception:
            caught_by_firmware = True
        raise AssertionError("no reset")
    except simclock.BoardReset as e:
        assert e.cause == machine.WDT_RESET
    assert not caught_by_firmware
    assert simclock.now_ms() == 7500 + 2000  # exactly at the deadline
    assert machine.reset_cause() == machine.WDT_RESET
    assert vtime.ticks_ms() == 0  # ticks restart at boot
    vtime.sleep(60)  # the watchdog is off after the reset until started again
    raises(ValueError, WDT, timeout=0)


def test_reset_clears_the_chip_but_not_the_world():
    seen = []
    Pin(27, Pin.IN).irq(lambda p: seen.append(1))
    Pin(2, Pin.OUT, value=1)
    PWM(Pin(13), freq=1000, duty_u16=30000)
    simworld.drive(4, 1)
    e = raises(simclock.BoardReset, machine.reset)
    assert e.cause == machine.HARD_RESET == machine.reset_cause()
    simworld.drive(27, 1)
    assert seen == []  # the handler died with the old boot
    assert simworld.level(2) == 0 and simworld.pwm_fraction(13) == 0.0
    assert Pin(4).value() == 1  # the world still drives GPIO 4
    assert raises(simclock.BoardReset, machine.soft_reset).cause == machine.SOFT_RESET


def test_deepsleep_advances_the_clock_then_resets():
    machine.RTC().memory(b"count=3")
    vtime.sleep_ms(500)
    raises(simclock.BoardReset, machine.deepsleep, 10_000)
    assert simclock.now_ms() == 10_500
    assert machine.reset_cause() == machine.DEEPSLEEP_RESET
    assert machine.wake_reason() == machine.TIMER_WAKE
    assert vtime.ticks_ms() == 0
    assert machine.RTC().memory() == b"count=3"


def test_lightsleep_wakes_early_on_an_irq():
    Pin(27, Pin.IN).irq(lambda p: None, Pin.IRQ_RISING)
    simworld.drive_at_ms(700, 27, 1)
    machine.lightsleep(5000)
    assert simclock.now_ms() == 700
    machine.lightsleep(1000)
    assert simclock.now_ms() == 1700


def test_machine_timer_periodic_and_one_shot():
    ticks = []
    t = machine.Timer(0)
    t.init(period=250, mode=machine.Timer.PERIODIC, callback=lambda tm: ticks.append(
        simclock.now_ms()))
    machine.Timer(1, period=600, mode=machine.Timer.ONE_SHOT,
                  callback=lambda tm: ticks.append(-simclock.now_ms()))
    vtime.sleep_ms(1000)
    t.deinit()
    vtime.sleep_ms(1000)
    assert ticks == [250, 500, -600, 750, 1000]


def test_rtc_datetime_moves_the_wall_clock():
    rtc = machine.RTC()
    rtc.datetime((2024, 6, 21, 0, 21, 30, 15, 0))
    assert vtime.gmtime()[:7] == (2024, 6, 21, 21, 30, 15, 4)  # a Friday
    vtime.sleep(3600)
    assert rtc.datetime()[:7] == (2024, 6, 21, 4, 22, 30, 15)
    assert vtime.time() == vtime.mktime((2024, 6, 21, 22, 30, 15, 0, 0))


def test_machine_identity_and_freq():
    assert len(machine.unique_id()) == 6
    simworld.set_unique_id(b"\x01\x02\x03\x04\x05\x06")
    assert machine.unique_id() == b"\x01\x02\x03\x04\x05\x06"
    assert network.WLAN(network.STA_IF).config("mac") == b"\x01\x02\x03\x04\x05\x06"
    assert machine.freq() == 160_000_000
    machine.freq(240_000_000)
    assert machine.freq() == 240_000_000
    raises(ValueError, machine.freq, 123)


# ---------------------------------------------------------------- Wi-Fi

def test_wlan_connects_after_a_delay():
    simworld.wifi_ap("street", "secret", rssi=-67, connect_ms=1200)
    w = network.WLAN(network.STA_IF)
    raises(OSError, w.connect, "street", "secret")  # not active yet
    w.active(True)
    w.connect("street", "secret")
    assert w.status() == network.STAT_CONNECTING and not w.isconnected()
    assert w.ifconfig()[0] == "0.0.0.0"
    vtime.sleep_ms(1199)
    assert not w.isconnected()
    vtime.sleep_ms(1)
    assert w.isconnected() and w.status() == network.STAT_GOT_IP
    assert w.status("rssi") == -67
    assert w.ifconfig()[0] != "0.0.0.0"
    simworld.wifi_set_rssi("street", -80)
    assert w.status("rssi") == -80
    simworld.wifi_drop()
    assert not w.isconnected() and w.status() == network.STAT_BEACON_TIMEOUT
    raises(OSError, w.status, "rssi")


def test_wlan_failures_report_their_reason():
    simworld.wifi_ap("street", "secret")
    w = network.WLAN(network.STA_IF)
    w.active(True)
    w.connect("street", "wrong")
    vtime.sleep(5)
    assert w.status() == network.STAT_WRONG_PASSWORD and not w.isconnected()
    w.connect("elsewhere", "secret")
    vtime.sleep(5)
    assert w.status() == network.STAT_NO_AP_FOUND
    w.connect("street", "secret")
    vtime.sleep(5)
    assert w.isconnected()
    simworld.wifi_ap_remove("street")
    assert not w.isconnected()
    w.disconnect()
    assert w.status() == network.STAT_IDLE


def test_wlan_goes_down_with_a_board_reset():
    simworld.wifi_ap("street", "")
    w = network.WLAN(network.STA_IF)
    w.active(True)
    w.connect("street", "")
    vtime.sleep(3)
    assert w.isconnected()
    raises(simclock.BoardReset, machine.reset)
    w = network.WLAN(network.STA_IF)
    assert not w.active() and not w.isconnected()
    assert network.STA_IF == 0 and network.AP_IF == 1 and network.STAT_GOT_IP == 1010
