# Ring 2: agent.ranging and agent.ranger under the MicroPython unix port with the simulated
# board. The shared cases (pure core, thermometers, simulated devices) also run under CPython
# (tests/core/test_ranging.py); the Ranger cases below need the virtual `time` of this ring.
import simclock
import simtime as vtime
import simworld
from ranging_cases import *  # noqa: F401,F403
from ranging_cases import c_at, near

from agent import ranging
from agent.ranger import TRIG_US, Ds18b20Thermometer, FixedTemperature, Ranger
from agent.ranging import BLIND, NO_ECHO, OK, OUT_OF_RANGE, OUTLIER

TRIG, ECHO = 5, 18


def _reading(r, temp_c, poll_ms=None, limit=100):
    """Drive r.step() as the agent's scheduler does (the next run is due `wait` ms after the
    now_ms it passed), or poll it every poll_ms, until a burst completes; returns the
    reading."""
    for _ in range(limit):
        now = vtime.ticks_ms()
        wait, reading = r.step(now, temp_c)
        if reading is not None:
            return reading
        if poll_ms is not None:
            vtime.sleep_ms(poll_ms)
        else:
            vtime.sleep_ms(max(0, vtime.ticks_diff(vtime.ticks_add(now, wait), vtime.ticks_ms())))
    raise AssertionError("no reading")


def _triggers_us():
    """World times of the trigger pulses' rising edges."""
    return [t for t, level in simworld.pin_history(TRIG)[1:] if level]


def _gaps(times):
    return [times[i + 1] - times[i] for i in range(len(times) - 1)]


def test_distance_when_the_temperature_is_known():
    sensor = simworld.ultrasonic(TRIG, ECHO, 1.0)
    r = Ranger(TRIG, ECHO, n=5, gap_ms=70, blind_m=0.25, max_m=4.0, spread_m=0.05)
    for t in (0.0, 20.0, 40.0):
        sensor.temp_c = t
        d, q, nv = _reading(r, t)
        assert q == OK and nv == 5
        assert near(d, 1.0, 0.002), (t, d)  # well within 1 cm: 1 us of echo is 0.17 mm


def test_error_when_the_temperature_is_assumed():
    # The firmware assumes 20 C: 0.606 / 343.4 = 0.18 % of the distance per degree, so at
    # 1 m about 1.8 cm per 10 C: +3.7 cm in air at 0 C (sound is slower, the echo longer),
    # -3.4 cm at 40 C.
    sensor = simworld.ultrasonic(TRIG, ECHO, 1.0)
    r = Ranger(TRIG, ECHO)
    for air, err_m in ((0.0, 0.0366), (40.0, -0.0341)):
        sensor.temp_c = air
        d, q, _ = _reading(r, FixedTemperature(20.0).read(0))
        assert q == OK
        assert near(d - 1.0, c_at(20) / c_at(air) - 1, 0.0005)
        assert near(d - 1.0, err_m, 0.001), (air, d)


def test_ds18b20_reading_corrects_the_distance():
    sensor = simworld.ultrasonic(TRIG, ECHO, 1.5, temp_c=35.0)
    simworld.ds18b20(4, temp_c=35.0)
    th = Ds18b20Thermometer(4)
    r = Ranger(TRIG, ECHO)
    temps = []
    d = None
    for _ in range(4):  # one burst a second; the first one before any conversion is read
        t = th.read(vtime.ticks_ms())
        temps.append(t)
        d, q, _ = _reading(r, 20.0 if t is None else t)
        vtime.sleep_ms(1000)
    assert temps[0] is None and temps[-1] == 35.0
    assert near(d, 1.5, 0.002)
    assert sensor.triggers == 20


def test_gap_between_pings_is_respected():
    simworld.ultrasonic(TRIG, ECHO, 2.0, temp_c=20.0)
    r = Ranger(TRIG, ECHO, n=5, gap_ms=70)
    t0 = vtime.ticks_ms()
    wait, reading = r.step(t0, 20.0)
    assert reading is None and wait == 70
    wait, reading = r.step(vtime.ticks_ms(), 20.0)  # called again at once: no ping
    assert reading is None and 55 < wait <= 70 and len(_triggers_us()) == 1
    for _ in range(3):  # three bursts, the loop polling every 10 ms
        assert _reading(r, 20.0, poll_ms=10)[1] == OK
    starts = _triggers_us()
    assert len(starts) == 15
    gaps = _gaps(starts)
    assert min(gaps) >= 70_000  # also between the last ping of a burst and the next
    assert max(gaps) < 70_000 + 10_000 + 13_000  # one poll and one ping (2 m: 11.6 ms) late
    # Run by the wait step() asks for, the pings are gap_ms apart, to the ms of ticks_ms.
    simclock.reset()
    simworld.ultrasonic(TRIG, ECHO, 2.0, temp_c=20.0)
    r = Ranger(TRIG, ECHO, n=5, gap_ms=70)
    _reading(r, 20.0)
    starts = _triggers_us()
    assert len(starts) == 5
    assert all(69_000 < g < 71_000 for g in _gaps(starts))


def test_start_drops_a_burst_in_progress():
    sensor = simworld.ultrasonic(TRIG, ECHO, 0.6, temp_c=20.0)
    r = Ranger(TRIG, ECHO, n=3, gap_ms=70)
    assert not r.busy()
    r.step(vtime.ticks_ms(), 20.0)
    vtime.sleep_ms(70)
    r.step(vtime.ticks_ms(), 20.0)
    assert r.busy()
    sensor.distance_m = 1.3  # the bin was emptied: measure afresh
    r.start()
    vtime.sleep_ms(70)
    assert not r.busy()
    d, q, nv = _reading(r, 20.0)
    assert q == OK and nv == 3 and near(d, 1.3, 0.002)
    assert not r.busy()  # the reading ended the burst


def _timed_burst(r):
    """(reading, the longest a single step() blocked in us)."""
    worst = 0
    reading = None
    while reading is None:
        t0 = simclock.now_us()
        wait, reading = r.step(vtime.ticks_ms(), 20.0)
        worst = max(worst, simclock.now_us() - t0)
        vtime.sleep_ms(wait)
    return reading, worst


def test_unplugged_sensor_is_no_echo_and_blocks_at_most_the_timeout():
    simworld.ultrasonic(TRIG, ECHO, None)  # dead: the echo never rises
    r = Ranger(TRIG, ECHO, max_m=4.0)
    assert r.timeout_us == ranging.ping_timeout_us(4.0) < 32_000
    reading, worst = _timed_burst(r)
    assert reading == (None, NO_ECHO, 0)
    assert worst <= TRIG_US + r.timeout_us
    simclock.reset()  # no module on the pins at all: the echo input reads low
    r = Ranger(TRIG, ECHO, max_m=4.0)
    reading, worst = _timed_burst(r)
    assert reading == (None, NO_ECHO, 0)
    assert worst <= TRIG_US + r.timeout_us


def test_noise_is_filtered_by_the_median():
    # Triangular jitter of +/- 3 cm on each ping: the median of 7 lands much closer.
    simworld.ultrasonic(TRIG, ECHO, 1.0, temp_c=20.0, noise_m=0.03, seed=11)
    r = Ranger(TRIG, ECHO, n=7, gap_ms=70, spread_m=0.05)
    errors = []
    for _ in range(20):
        d, q, nv = _reading(r, 20.0)
        assert q == OK and nv == 7
        errors.append(abs(d - 1.0))
    single = Ranger(TRIG, ECHO, n=1, gap_ms=70)
    ping_errors = [abs(_reading(single, 20.0)[0] - 1.0) for _ in range(140)]
    mean = sum(errors) / len(errors)
    assert max(errors) < 0.02
    assert mean < 0.75 * sum(ping_errors) / len(ping_errors)  # about half, by the seed


def test_blind_zone():
    sensor = simworld.ultrasonic(TRIG, ECHO, 0.1, temp_c=20.0, blind_m=0.25)  # JSN-SR04T
    r = Ranger(TRIG, ECHO, blind_m=0.25)
    assert _reading(r, 20.0) == (None, BLIND, 0)  # the bin is over-full
    sensor.distance_m = 0.3
    d, q, _ = _reading(r, 20.0)
    assert q == OK and near(d, 0.3, 0.002)


def test_out_of_range():
    sensor = simworld.ultrasonic(TRIG, ECHO, 5.0, temp_c=20.0)  # beyond the module's 4 m
    r = Ranger(TRIG, ECHO, max_m=4.0)
    reading, worst = _timed_burst(r)
    assert reading == (None, OUT_OF_RANGE, 0)  # the 38 ms "nothing seen" pulse: -1
    assert worst <= TRIG_US + sensor.latency_us + r.timeout_us  # not the whole 38 ms
    simclock.reset()
    sensor = simworld.ultrasonic(TRIG, ECHO, 2.5, temp_c=20.0)
    r = Ranger(TRIG, ECHO, max_m=2.0)  # a shallow bin: a 2.5 m echo is measured...
    assert 2 * 2.5 / c_at(20) * 1e6 < r.timeout_us
    assert _reading(r, 20.0) == (None, OUT_OF_RANGE, 0)  # ...and is beyond max_m
    sensor.distance_m = 3.0  # longer than the timeout: -1
    assert _reading(r, 20.0) == (None, OUT_OF_RANGE, 0)
    sensor.distance_m = 1.9
    assert _reading(r, 20.0)[1] == OK


def test_outlier_pings_among_good_ones():
    sensor = simworld.ultrasonic(TRIG, ECHO, 1.2, temp_c=20.0, spikes={2: 0.4})
    r = Ranger(TRIG, ECHO, n=5, spread_m=0.05)
    d, q, nv = _reading(r, 20.0)  # a hand in the beam once
    assert q == OK and nv == 5 and near(d, 1.2, 0.002)
    sensor.spikes = {7: 0.5, 9: None}  # a hand and a lost echo in the second burst
    d, q, nv = _reading(r, 20.0)
    assert q == OK and nv == 4 and near(d, 1.2, 0.002)
    sensor.spikes = {11: 1.0, 13: 0.8, 15: 0.6}  # a bag falling through the beam
    assert _reading(r, 20.0) == (None, OUTLIER, 5)
    sensor.spikes = {}
    assert _reading(r, 20.0)[1] == OK


def test_fill_level_follows_a_filling_bin():
    # The bin fills by 1 cm a minute; one burst a minute reads it to within the echo's
    # resolution, each reading a fresh measurement.
    simworld.ultrasonic(TRIG, ECHO, lambda t_s: 1.5 - t_s / 6000, temp_c=15.0)
    r = Ranger(TRIG, ECHO)
    for minute in range(10):
        d, q, _ = _reading(r, 15.0)
        assert q == OK and near(d, 1.5 - vtime.ticks_ms() / 6e6, 0.002), (minute, d)
        vtime.sleep_ms(60_000)
