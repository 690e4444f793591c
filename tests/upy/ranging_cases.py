# agent.ranging, the thermometers of agent.ranger and the simulated devices they read
# (Ultrasonic, onewire/ds18x20), as plain functions shared by both rings: imported by
# tests/upy/test_ranging.py (MicroPython, via tests/upy/run.py) and loaded by
# tests/core/test_ranging.py (CPython). Each runs on a pristine board: the caller does
# simclock.reset() first. The Ranger itself needs the virtual `time`, so its cases are in
# tests/upy/test_ranging.py only.

import machine
import simclock
import simtime as vtime
import simworld
from heap import allocated
from machine import Pin
from units import INF, NAN

from agent import ranging
from agent.ranger import Ds18b20Thermometer, FixedTemperature, NtcThermometer
from agent.ranging import BLIND, NO_ECHO, OK, OUT_OF_RANGE, OUTLIER


def c_at(t):
    return 331.3 + 0.606 * t


def echo(d, t=20.0):
    """The echo (us) of a target d metres away in air at t degrees C."""
    return int(round(2 * d / c_at(t) * 1e6))


def near(a, b, tol):
    return a is not None and abs(a - b) <= tol




# ---- speed, distance, timeout ----

def test_speed_of_sound_and_its_clamp():
    assert near(ranging.speed_of_sound(20), 343.4, 0.1)
    assert near(ranging.speed_of_sound(0), 331.3, 1e-9)
    assert ranging.speed_of_sound(-100) == ranging.speed_of_sound(-40)
    assert ranging.speed_of_sound(1000) == ranging.speed_of_sound(85) == ranging.speed_of_sound(INF)
    assert ranging.speed_of_sound(NAN) == ranging.speed_of_sound(None) == ranging.speed_of_sound(20)
    # A thermometer gone wild (shorted NTC: "500 C") moves 1 m by 11 cm, not by a metre.
    assert near(ranging.echo_to_m(echo(1.0), 500), c_at(85) / c_at(20), 1e-3)


def test_echo_to_m_is_half_the_round_trip():
    assert near(ranging.echo_to_m(5824, 20), 1.0, 0.001)  # 1 m at 20 C: 5.82 ms there and back
    assert near(ranging.echo_to_m(echo(2.5, 0), 0), 2.5, 0.0002)
    assert ranging.echo_to_m(0, 20) == 0


def test_ping_timeout_covers_max_range_when_cold():
    t4 = ranging.ping_timeout_us(4.0)
    assert t4 > 2 * 4.0 / c_at(-40) * 1e6 + 500  # the round trip at -40 C, plus latency
    assert t4 < 38_000  # and shorter than the module's "nothing seen" pulse
    assert ranging.ping_timeout_us(0.01) >= 1000  # still covers the ~0.5 ms start latency
    assert ranging.ping_timeout_us(NAN) == ranging.ping_timeout_us(-1) == ranging.START_US
    assert ranging.ping_timeout_us(1e9) == ranging.ping_timeout_us(50)


# ---- Burst ----

def _burst(echoes, temp=20.0, n=None, blind=0.25, max_m=4.0, spread=0.05):
    b = ranging.Burst(len(echoes) if n is None else n, blind, max_m, spread)
    for e in echoes:
        b.add(e, temp)
    return b


def test_burst_of_good_pings():
    b = ranging.Burst(5, 0.25, 4.0, 0.05)
    assert not b.done and b.result() == (None, NO_ECHO, 0)  # nothing measured yet
    for i, d in enumerate((1.0, 1.003, 0.998, 1.001, 0.999)):
        assert b.add(echo(d), 20.0) == OK
        assert b.done == (i == 4)
    d, q, nv = b.result()
    assert q == OK and nv == 5 and near(d, 1.0, 0.0003)
    assert b.distance_um == int(round(d * 1e6))
    assert b.add(echo(0.1), 20.0) == BLIND  # a sixth ping: classified, not recorded
    assert b.result()[:2] == (d, OK)
    b.reset()
    assert b.count == 0 and b.result() == (None, NO_ECHO, 0)


def test_burst_uses_each_pings_temperature():
    b = ranging.Burst(3, 0.25, 4.0, 0.05)
    for t in (0.0, 20.0, 40.0):
        b.add(echo(1.5, t), t)
    assert b.result()[1] == OK and near(b.result()[0], 1.5, 0.0003)


def test_even_count_median_is_the_middle_mean():
    b = _burst([echo(1.0), echo(1.0), echo(1.02), echo(1.02)])
    assert near(b.result()[0], 1.01, 0.0003) and b.quality == OK


def test_a_minority_of_wild_pings_is_ignored():
    good = echo(1.2)
    for wild in ([echo(0.4)], [echo(0.4), echo(3.0)], [-2, -1], [echo(0.1), 0], [-2, echo(0.5)]):
        echoes = [good] * (5 - len(wild)) + wild
        for order in (echoes, echoes[::-1], echoes[1:] + echoes[:1]):
            d, q, _ = _burst(order).result()
            assert q == OK and near(d, 1.2, 0.0003), (wild, order, d, q)


def test_disagreeing_pings_are_an_outlier():
    # A falling bag: five different distances, all in range.
    b = _burst([echo(1.2), echo(0.9), echo(0.7), echo(0.5), echo(1.19)])
    assert b.result() == (None, OUTLIER, 5)
    # The valid ones are a majority but only two of the five agree.
    assert _burst([echo(1.2), echo(1.21), echo(0.6), -2, -2]).result() == (None, OUTLIER, 3)


def test_failures_are_named_by_the_most_common():
    assert _burst([-2] * 5).result() == (None, NO_ECHO, 0)
    assert _burst([-1] * 5).result() == (None, OUT_OF_RANGE, 0)  # the 38 ms "nothing seen"
    assert _burst([echo(0.1)] * 5).result() == (None, BLIND, 0)
    assert _burst([echo(4.5)] * 3 + [100_000] * 2).result() == (None, OUT_OF_RANGE, 0)
    assert _burst([-2, -2, echo(0.1), echo(0.1), echo(1)]).result() == (None, NO_ECHO, 1)
    assert _burst([-1, -1, echo(0.1), echo(0.1), echo(1)]).result() == (None, BLIND, 1)
    assert _burst([-1, -1, echo(0.1), -2, echo(1)]).result() == (None, OUT_OF_RANGE, 1)
    assert _burst([echo(1), echo(1), -2, -7]).result() == (None, NO_ECHO, 2)  # half is no majority


def test_blind_and_max_are_inclusive():
    b = ranging.Burst(1, 0.25, 4.0, 0.05)
    assert b.add(echo(0.26), 20) == OK
    assert b.add(echo(0.24), 20) == BLIND and b.count == 1  # classified, not recorded: full
    assert b.result()[1] == OK
    b.reset()
    assert b.add(echo(0.24), 20) == BLIND
    b.reset()
    assert b.add(echo(3.99), 20) == OK
    b.reset()
    assert b.add(echo(4.01), 20) == OUT_OF_RANGE


def test_burst_never_raises_on_junk():
    b = ranging.Burst(8, 0.02, 4.0, 0.05)
    for e in (NAN, INF, -INF, None, "x", 1e30, -5, 2.9e3):
        b.add(e, 20.0)
    assert b.n_valid == 1 and b.result()[1] == NO_ECHO
    for e in (echo(1.0), echo(1.0)):
        b.add(e, NAN)
    for args in ((0, NAN, NAN, NAN), (NAN, -1, INF, -1), (-3, 5, 1, 0)):
        b = ranging.Burst(*args)
        b.add(1000, None)
        b.result()


def test_burst_add_and_measure_allocate_nothing():
    b = ranging.Burst(7, 0.25, 4.0, 0.05)
    pings = [echo(1.0), echo(1.01), -2, echo(0.99), -1, echo(0.1), echo(1.005)]
    temp = 12.5

    def ping(i):
        if b.done:
            b.measure()
            b.reset()
        b.add(pings[i % 7], temp)

    grew = allocated(ping)
    assert grew is None or grew == 0, "allocated %d bytes" % grew


# ---- NTC ----

def ntc_mv(t, supply=3300.0, series=10000.0, r25=10000.0, beta=3950.0):
    import math

    r = r25 * math.exp(beta * (1 / (t + 273.15) - 1 / 298.15))
    return supply * series / (series + r)


def test_ntc_known_points_and_rails():
    assert near(ranging.ntc_celsius(1650, 3300, 10000, 10000, 3950), 25.0, 1e-6)
    for t in (-30, 0, 40, 70):
        assert near(ranging.ntc_celsius(ntc_mv(t), 3300, 10000, 10000, 3950), t, 0.01)
    for mv in (0, -5, 3300, 3400, 1.0, 3299.0, NAN, None):  # open, shorted, beyond -40..85
        assert ranging.ntc_celsius(mv, 3300, 10000, 10000, 3950) is None, mv
    for args in ((1650, 0, 10000, 10000, 3950), (1650, 3300, -1, 10000, 3950),
                 (1650, 3300, 10000, 10000, 0), (1650, NAN, 10000, 10000, 3950)):
        assert ranging.ntc_celsius(*args) is None


# ---- the simulated ranger ----

def _ping(trig, echo_pin, timeout_us=30_000):
    trig.on()
    vtime.sleep_us(10)
    trig.off()
    return machine.time_pulse_us(echo_pin, 1, timeout_us)


def test_sim_ranger_speed_follows_air_temperature():
    r = simworld.ultrasonic(5, 18, 1.0, temp_c=0.0)
    trig, e = Pin(5, Pin.OUT, value=0), Pin(18, Pin.IN)
    assert _ping(trig, e) == echo(1.0, 0.0)
    r.temp_c = lambda t_s: 40.0
    vtime.sleep_ms(60)
    assert _ping(trig, e) == echo(1.0, 40.0)
    r.speed_m_s = 300.0  # an explicit speed wins over the temperature
    vtime.sleep_ms(60)
    assert _ping(trig, e) == int(round(2 / 300.0 * 1e6))
    r.speed_m_s = None
    r.temp_c = None  # neither: 343.0 m/s, the ranger's behaviour before temp_c existed
    vtime.sleep_ms(60)
    assert _ping(trig, e) == int(round(2 / 343.0 * 1e6))


def test_sim_ranger_noise_is_seeded_and_bounded():
    def widths(seed):
        simclock.reset()
        simworld.ultrasonic(5, 18, 1.0, temp_c=20.0, noise_m=0.02, seed=seed)
        trig, e = Pin(5, Pin.OUT, value=0), Pin(18, Pin.IN)
        out = []
        for _ in range(50):
            out.append(_ping(trig, e))
            vtime.sleep_ms(60)
        return out

    a = widths(7)
    assert a == widths(7) and a != widths(8)
    ds = [w * c_at(20) / 2e6 for w in a]
    assert all(0.98 - 0.0002 <= d <= 1.02 + 0.0002 for d in ds)
    assert max(ds) - min(ds) > 0.02  # it does jitter


def test_sim_ranger_blind_zone_and_spikes():
    r = simworld.ultrasonic(5, 18, 0.1, temp_c=20.0, blind_m=0.25, spikes={2: 0.5, 3: None})
    trig, e = Pin(5, Pin.OUT, value=0), Pin(18, Pin.IN)
    assert _ping(trig, e) == echo(0.2)  # inside the blind zone: the module's 0.8 * blind
    vtime.sleep_ms(60)
    assert _ping(trig, e) == echo(0.5)  # measurement 2: a hand at 0.5 m
    vtime.sleep_ms(60)
    assert _ping(trig, e) == -2  # measurement 3: no echo
    vtime.sleep_ms(60)
    r.distance_m = 0.3
    assert _ping(trig, e) == echo(0.3) and r.triggers == 4


# ---- thermometers ----

def test_fixed_temperature():
    assert FixedTemperature(12.5).read(0) == 12.5


def test_ntc_thermometer_through_the_adc():
    simworld.set_adc_mv(34, ntc_mv(10.0))
    th = NtcThermometer(34, 3300, 10000, 10000, 3950)
    assert near(th.read(0), 10.0, 0.1)
    simworld.set_adc_mv(34, ntc_mv(60.0))
    assert near(th.read(1000), 60.0, 0.2)
    simworld.set_adc_mv(34, 0)  # thermistor open (or unplugged): the pin is pulled to GND
    assert th.read(2000) is None
    simworld.set_adc_mv(34, 3300)  # thermistor shorted: the ADC clips near 3.1 V
    assert th.read(3000) is None


def test_ntc_thermometer_on_adc2_with_wifi_on():
    import network

    simworld.set_adc_mv(25, ntc_mv(20.0))
    th = NtcThermometer(25, 3300, 10000, 10000, 3950)
    assert near(th.read(0), 20.0, 0.1)
    network.WLAN(network.STA_IF).active(True)
    assert th.read(1) is None  # ADC2 refuses while Wi-Fi is on: no reading, no exception


def _wait(ms):
    vtime.sleep_ms(ms)
    return vtime.ticks_ms()


def test_ds18b20_conversion_is_not_waited_for():
    sensor = simworld.ds18b20(4, temp_c=12.5)
    th = Ds18b20Thermometer(4)
    t0 = vtime.ticks_ms()
    assert th.read(t0) is None  # found, conversion started, nothing to read yet
    assert sensor.conversions == 1
    assert vtime.ticks_ms() - t0 < 30  # the search and the command took some ms, not 750
    assert th.read(_wait(400)) is None and sensor.conversions == 1
    assert th.read(_wait(400)) == 12.5 and sensor.conversions == 2
    sensor.temp_c = lambda t_s: 21.3
    assert th.read(_wait(300)) == 12.5  # the new conversion is not done: the last result
    assert near(th.read(_wait(600)), 21.3, 1 / 32)  # 1/16 degree steps
    assert th.rom is not None and th.rom[0] == 0x28


def test_ds18b20_lost_and_found_again():
    sensor = simworld.ds18b20(4, temp_c=5.0)
    th = Ds18b20Thermometer(4)
    th.read(vtime.ticks_ms())
    assert th.read(_wait(800)) == 5.0
    sensor.temp_c = None  # the cable is cut
    assert th.read(_wait(800)) is None
    assert th.rom is None
    sensor.temp_c = 7.0  # repaired, but it only looks again after RESCAN_MS
    assert th.read(_wait(800)) is None and sensor.conversions == 2
    assert th.read(_wait(Ds18b20Thermometer.RESCAN_MS)) is None  # found: converting
    assert sensor.conversions == 3
    assert th.read(_wait(800)) == 7.0


def test_ds18b20_power_on_value_is_not_a_reading():
    sensor = simworld.ds18b20(4, temp_c=5.0)
    th = Ds18b20Thermometer(4)
    th.read(vtime.ticks_ms())
    assert th.read(_wait(800)) == 5.0
    # It loses power while converting (the bus sees it absent), then comes back at once:
    # its scratchpad holds 85.0 again.
    sensor.temp_c = None
    assert not sensor.answering()
    sensor.temp_c = 5.0
    assert th.read(_wait(800)) is None and th.rom is not None  # 85.0 refused, sensor kept
    assert th.read(_wait(800)) == 5.0


def test_ds18b20_missing_sensor_never_raises():
    th = Ds18b20Thermometer(4)  # nothing on the wire
    for t in range(0, 200_000, 5000):
        assert th.read(t) is None
    ow = __import__("onewire").OneWire(Pin(4))
    assert ow.scan() == [] and ow.reset() is False
    try:
        ow.reset(True)
        raise AssertionError("no OneWireError")
    except __import__("onewire").OneWireError:
        pass


def test_sim_ds18x20_module():
    import ds18x20
    import onewire

    a = simworld.ds18b20(4, temp_c=-10.0)
    simworld.ds18b20(4, temp_c=30.0)
    simworld.ds18b20(16, temp_c=1.0)  # another bus
    ds = ds18x20.DS18X20(onewire.OneWire(Pin(4)))
    roms = ds.scan()
    assert len(roms) == 2 and all(len(r) == 8 and r[0] == 0x28 for r in roms)
    assert all(ds.ow.crc8(r) == 0 for r in roms)  # a ROM's last byte is its CRC
    assert [ds.read_temp(r) for r in roms] == [85.0, 85.0]  # power-on value: no conversion yet
    ds.convert_temp()
    simclock.advance_ms(700)
    assert ds.read_temp(roms[0]) == 85.0  # converting: the scratchpad still holds the old
    simclock.advance_ms(50)
    assert [ds.read_temp(r) for r in roms] == [-10.0, 30.0]
    a.temp_c = 200.0
    ds.convert_temp()
    simclock.advance_ms(750)
    assert ds.read_temp(roms[0]) == 125.0  # the chip's range ends there
    t0 = simclock.now_us()
    ds.read_temp(roms[1])
    assert 10_000 < simclock.now_us() - t0 < 15_000  # a scratchpad read is ~12 ms of bus time
    try:
        ds.read_temp(bytearray(8))  # nobody has that ROM: the bus reads all ones
        raise AssertionError("no CRC error")
    except Exception as e:
        assert "CRC" in str(e)
    try:
        onewire.OneWire(Pin(34))  # input-only: no open-drain output, as on the chip
        raise AssertionError("no ValueError")
    except ValueError:
        pass
