# Ultrasonic fill-level ranging for the inlet (pure: echo times and temperatures come in as
# arguments; no machine, no clocks, no files).
#
# Units: echo times in whole microseconds, as machine.time_pulse_us returns them (negative on
# a timeout); distances in metres at the API and in integer micrometres inside a Burst; air
# temperature in degrees C; voltages in mV; resistances in ohms.
#
# Burst.add() and Burst.measure() allocate nothing in steady state. On the chip every float
# result is a new heap object, so the per-ping work is small-int arithmetic: the speed of
# sound is kept as an int in 1/32 m/s, recomputed only when the temperature argument changes,
# and distances are ints in micrometres (an echo from 10 m times that speed stays below 2**30;
# a max_m beyond ~13 m would make long ints, which still work but allocate).
import math

from micropython import const

# Quality of one reading (and of one ping, as Burst.add returns it).
OK = "ok"
BLIND = "blind"  # closer than the sensor's blind zone
NO_ECHO = "no_echo"  # the echo never started: dead or unplugged sensor
OUT_OF_RANGE = "out_of_range"  # farther than max_m, or the module's "nothing seen" pulse
OUTLIER = "outlier"  # the pings of one burst disagree: the median cannot be trusted

T_MIN_C = -40.0  # the clamp on any temperature used for the speed of sound (and NTC range)
T_MAX_C = 85.0
T_DEFAULT_C = 20.0  # used for a missing (None) or NaN temperature
START_US = const(1000)  # ping_timeout_us margin: covers the ~0.5 ms from trigger to echo start

_C0 = 331.3  # m/s at 0 degrees C
_K = 0.606  # m/s per degree C
_C_MIN = _C0 + _K * T_MIN_C  # 307.06 m/s: the slowest sound the firmware believes in
_T0_K = 273.15
_T25_K = 298.15


def _clamp_temp(temp_c):
    if temp_c is None or temp_c != temp_c:
        return T_DEFAULT_C
    if temp_c < T_MIN_C:
        return T_MIN_C
    if temp_c > T_MAX_C:
        return T_MAX_C
    return temp_c


def speed_of_sound(temp_c):
    """Speed of sound in air in m/s: 331.3 + 0.606 * T, with T clamped to -40..85 degrees C
    (None or NaN: 20 degrees C), so a wild thermometer cannot give a wild distance."""
    return _C0 + _K * _clamp_temp(temp_c)


def echo_to_m(echo_us, temp_c):
    """One-way distance in metres for an echo (round trip) of echo_us >= 0 microseconds."""
    return echo_us * speed_of_sound(temp_c) / 2e6


def ping_timeout_us(max_m):
    """The timeout_us for time_pulse_us when ranging up to max_m metres: the round trip to
    max_m at -40 degrees C (the slowest sound) plus 10 %, plus START_US (1 ms).

    time_pulse_us applies the timeout twice: first waiting for the echo to rise (the sensor
    starts its echo ~0.5 ms after the trigger: START_US keeps even a tiny max_m above that),
    then again for the echo's length. So a ping blocks at most about the timeout when the
    echo never starts, and latency + timeout when it never ends. max_m is taken in 0..50."""
    if not max_m > 0:  # also NaN
        max_m = 0
    elif max_m > 50:
        max_m = 50
    return int(2 * max_m / _C_MIN * 1.1e6) + START_US


def _c32(temp_c):
    """Speed of sound in 1/32 m/s, as an int."""
    return int(speed_of_sound(temp_c) * 32 + 0.5)


def _um(m):
    """A distance argument in metres as int micrometres, 0 for NaN or negatives."""
    if not m > 0:
        return 0
    if m > 1000:
        m = 1000
    return int(m * 1e6 + 0.5)


def _as_int(v):
    """A non-int echo time (a float from a filter or a test) as an int; NaN, inf, junk: -2."""
    try:
        if -1e9 < v < 1e9:
            return int(v)
    except TypeError:
        pass
    return -2


class Burst:
    """N pings make one reading.

    Each ping is classified by add():
    - NO_ECHO: time_pulse_us gave a negative value other than -1 (-2: the echo never rose
      within the timeout, i.e. a dead or unplugged sensor);
    - OUT_OF_RANGE: -1 (the echo rose, so the sensor is alive, but lasted longer than the
      timeout, which is already beyond max_m: the module's own ~38 ms "nothing seen" pulse),
      or an echo whose distance is beyond max_m;
    - BLIND: a distance below blind_m;
    - OK (valid): a distance within [blind_m, max_m].

    measure() / result() judge the pings recorded since reset():
    - more than half of them valid: the distance is the median of the valid ones (the mean
      of the middle two for an even count). It is OK only if more than half of all the pings
      lie within spread_m of that median; otherwise OUTLIER (a hand or a falling bag in the
      beam) and no distance. So any minority of wild pings cannot move the reading outside
      the range of the good ones;
    - otherwise no distance, and the quality is the most common failure among the pings
      (ties: NO_ECHO, then BLIND, then OUT_OF_RANGE). No pings at all: NO_ECHO.
    An invalid reading is always reported as such, never replaced by an older value.

    Distances are computed with the temperature given to each add() (None or NaN: 20 C)."""

    def __init__(self, n=5, blind_m=0.02, max_m=4.0, spread_m=0.05):
        n = _as_int(n)
        self.n = n if n >= 1 else 1
        self.blind_um = _um(blind_m)
        self.max_um = _um(max_m)
        self.spread_um = _um(spread_m)
        # The longest echo that can be within max_m at any assumed temperature: anything
        # longer is out of range before its product with the speed could leave small ints.
        self._cap_us = int(2 * (self.max_um / 1e6) / _C_MIN * 1e6) + 1
        self._sorted = [0] * self.n  # the valid pings' distances in um, ascending
        self._temp = None
        self._speed32 = _c32(None)
        self.reset()

    def reset(self):
        """Forget the pings: start a new burst."""
        self.count = 0  # pings recorded
        self.n_valid = 0
        self.n_no_echo = 0
        self.n_blind = 0
        self.n_far = 0
        self.quality = NO_ECHO
        self.distance_um = -1

    @property
    def done(self):
        """True once n pings are recorded."""
        return self.count >= self.n

    def add(self, echo_us, temp_c):
        """Record one ping (echo_us as time_pulse_us returned it) at air temperature temp_c.
        Returns that ping's class (OK, BLIND, NO_ECHO, OUT_OF_RANGE). Pings after the n-th
        are classified but not recorded."""
        if temp_c != self._temp:  # only a changed temperature costs float arithmetic
            self._temp = temp_c
            self._speed32 = _c32(temp_c)
        if type(echo_us) is not int:
            echo_us = _as_int(echo_us)
        um = 0
        if echo_us < 0:
            q = OUT_OF_RANGE if echo_us == -1 else NO_ECHO
        elif echo_us > self._cap_us:
            q = OUT_OF_RANGE
        else:
            um = (echo_us * self._speed32 + 32) >> 6  # echo * speed / 2, in um
            if um < self.blind_um:
                q = BLIND
            elif um > self.max_um:
                q = OUT_OF_RANGE
            else:
                q = OK
        if self.count >= self.n:
            return q
        self.count += 1
        if q == OK:
            s = self._sorted  # insertion keeps it sorted: measure() needs no sort
            j = self.n_valid
            while j > 0 and s[j - 1] > um:
                s[j] = s[j - 1]
                j -= 1
            s[j] = um
            self.n_valid += 1
        elif q == NO_ECHO:
            self.n_no_echo += 1
        elif q == BLIND:
            self.n_blind += 1
        else:
            self.n_far += 1
        return q

    def measure(self):
        """Judge the pings recorded so far: sets quality, distance_um (the median in int
        micrometres when OK, else -1) and returns the quality. Allocates nothing."""
        c = self.count
        v = self.n_valid
        self.distance_um = -1
        if c and 2 * v > c:
            s = self._sorted
            h = v >> 1
            med = s[h] if v & 1 else (s[h - 1] + s[h]) >> 1
            spread = self.spread_um
            close = 0
            for i in range(v):
                d = s[i] - med
                if -spread <= d <= spread:
                    close += 1
            if 2 * close > c:
                q = OK
                self.distance_um = med
            else:
                q = OUTLIER
        else:
            q = NO_ECHO
            most = self.n_no_echo
            if self.n_blind > most:
                q = BLIND
                most = self.n_blind
            if self.n_far > most:
                q = OUT_OF_RANGE
        self.quality = q
        return q

    def result(self):
        """(distance in metres or None, quality, number of valid pings) for the pings so far.
        Makes only the returned tuple and float."""
        q = self.measure()
        return (self.distance_um / 1e6 if q == OK else None), q, self.n_valid


def ntc_celsius(mv, supply_mv, series_ohm, r25_ohm, beta):
    """Temperature in degrees C of an NTC thermistor read through a divider: the thermistor
    from the supply (supply_mv) to the ADC pin, series_ohm from the pin to GND, so the pin
    voltage mv rises with temperature: R_ntc = series_ohm * (supply_mv - mv) / mv, then the
    beta equation 1/T = 1/298.15 K + ln(R_ntc / r25_ohm) / beta.

    None for a reading at a rail (mv <= 0: thermistor open or unplugged; mv >= supply_mv:
    shorted), for a result outside -40..85 degrees C (near a rail, where a few mV are many
    degrees), and for junk arguments (NaN, None, non-positive resistances or beta)."""
    try:
        if not (0 < mv < supply_mv and series_ohm > 0 and r25_ohm > 0 and beta > 0):
            return None
        r = series_ohm * (supply_mv - mv) / mv
        inv_k = 1 / _T25_K + math.log(r / r25_ohm) / beta
        if not inv_k > 0:
            return None
        t = 1 / inv_k - _T0_K
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None
    if not T_MIN_C <= t <= T_MAX_C:
        return None
    return t
