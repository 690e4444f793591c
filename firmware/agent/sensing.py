# Light and motion sensing for the streetlight (pure: readings and now_ms come in as arguments).
#
# Units: lux in lx (int or float), raw ADC values as read_u16() counts (0..65535), times as
# ticks_ms values (ints that wrap at 2**30: only ever compared through a wrapping difference) and
# durations in ms. Nothing here raises on odd numbers: NaN, +-inf and negatives are either
# judged (a health class reports them) or ignored (a filter or switch skips them).
#
# Steady-state calls allocate nothing: buffers are made in __init__, and the per-call work is
# comparisons and small-int arithmetic on attributes that already exist. Elapsed time is kept
# as saturating counters fed by the step between calls, so a condition that lasts longer than
# the tick counter's half range (about 6 days) does not wrap back to "just started".
from micropython import const

from agent.sched import ticks_diff

# Sensor quality, as reported in telemetry.
OK = "ok"
STUCK = "stuck"
OUT_OF_RANGE = "out_of_range"
ABSENT = "absent"

_HALF = const(1 << 29)  # ticks_diff range: the counters saturate just below it
_MASK = const(0x3FFFFFFF)  # 2**30 - 1, written so no long int is made on the chip
_CAP = const(_HALF - 1)
_HOUR_MS = const(3600 * 1000)
_RECOVER_MS = const(10 * 60 * 1000)  # a faulty sensor must behave this long to be trusted again
_NAN = float("nan")


def _step(now_ms, last_ms):
    """ms from last_ms to now_ms, 0 if the clock went backwards (or on the first call)."""
    if last_ms is None:
        return 0
    d = ticks_diff(now_ms, last_ms)
    return d if d > 0 else 0


def _sat(v):
    return v if v < _CAP else _CAP


def _ms(v, default):
    """A duration argument as a non-negative int: NaN gives the default, inf the cap."""
    if v != v:
        return default
    if v <= 0:
        return 0
    if v >= _CAP:
        return _CAP
    return int(v)


class LuxFilter:
    """Running median of the last n lux readings: one wild sample (a camera flash, a bird on the
    dome) does not move it. A NaN reading is skipped. With an odd n, add() returns one of the
    stored readings and allocates nothing; with an even count it averages the middle two, as
    statistics.median does."""

    def __init__(self, n=5):
        n = _ms(n, 5)
        self.n = n if n >= 1 else 1
        self._ring = [0.0] * self.n
        self._work = [0.0] * self.n  # scratch for sorting, so add() makes no list
        self._next = 0
        self._count = 0

    def reset(self):
        self._next = 0
        self._count = 0

    def add(self, lux):
        if lux == lux:  # not NaN
            self._ring[self._next] = lux
            self._next = (self._next + 1) % self.n
            if self._count < self.n:
                self._count += 1
        return self.value() if self._count else lux

    def value(self):
        """The current median, NaN before the first reading."""
        c = self._count
        if c == 0:
            return _NAN
        ring = self._ring
        work = self._work
        # Insertion sort of the c stored readings into the scratch list.
        for i in range(c):
            v = ring[i]
            j = i
            while j > 0 and work[j - 1] > v:
                work[j] = work[j - 1]
                j -= 1
            work[j] = v
        mid = c >> 1
        if c & 1:
            return work[mid]
        return (work[mid - 1] + work[mid]) / 2


class DuskDawn:
    """Photocell switching with hysteresis and a delay.

    Off -> on when lux stays below on_lux for delay_ms continuously, on -> off when it stays
    above off_lux for delay_ms. Any sample back on the other side (headlights, lightning, a
    passing cloud) restarts the delay. "Continuously" is judged on the samples given: the time
    runs from the first sample beyond the threshold. may_switch_on / may_switch_off gate the
    switch itself, not the timing: when a gate opens after the light has already been beyond
    the threshold for delay_ms, the switch happens at once. A NaN sample is skipped (the gap
    counts as continuing). If off_lux < on_lux, off_lux is raised to on_lux so the two bands
    cannot overlap."""

    def __init__(self, on_lux, off_lux, delay_ms, now_ms):
        self.on_lux = on_lux
        self.off_lux = off_lux if off_lux >= on_lux else on_lux
        self.delay_ms = _ms(delay_ms, 60000)
        self.on = False
        self.last_switch_ms = None
        self._last_ms = now_ms
        self._run = False  # a sample beyond the threshold of the next switch was seen
        self._held_ms = 0  # ... and the light has stayed beyond it this long

    def update(self, lux, now_ms, may_switch_on=True, may_switch_off=True):
        if lux != lux:
            return self.on
        dt = _step(now_ms, self._last_ms)
        self._last_ms = now_ms
        if self.on:
            beyond = lux > self.off_lux
        else:
            beyond = lux < self.on_lux
        if not beyond:
            self._run = False
            self._held_ms = 0
            return self.on
        if self._run:
            self._held_ms = _sat(self._held_ms + dt)
        else:
            self._run = True
            self._held_ms = 0
        if self._held_ms >= self.delay_ms and (may_switch_off if self.on else may_switch_on):
            self._switch(not self.on, now_ms)
        return self.on

    def force(self, on, now_ms):
        """Set the state because another source decided (sun clock, command, fail-safe)."""
        on = bool(on)
        self._last_ms = now_ms
        if on != self.on:
            self._switch(on, now_ms)

    def _switch(self, on, now_ms):
        self.on = on
        self.last_switch_ms = now_ms
        self._run = False
        self._held_ms = 0


class AdcLightHealth:
    """Plausibility of an analog light sensor (photodiode/LDR into an ADC1 pin).

    Rules (raw is read_u16(): 0 = dark end, 65535 = bright end):
    - OUT_OF_RANGE at once for a raw value outside 0..65535 (or NaN, or None), or when the caller
      passes the converted lux and it is impossible (NaN or above 150000 lx; direct sun is
      about 100000 lx).
    - STUCK when raw sits at exactly 0 while the sun clock says day, or at exactly 65535 while
      it says night, for longer than 1 h (a broken wire, a shorted or open divider).
    - STUCK when raw does not change at all for longer than stuck_ms. A live analog front end
      always shows a few counts of noise, so a perfectly constant value means a dead input
      (or a frozen driver). The exception is a rail the clock agrees with (0 at night, 65535
      in full sun): the ADC clips there and the noise is hidden, so that time does not count.
      With no clock (dark_by_clock None) nothing can vouch for a rail, so a rail held for
      longer than stuck_ms is STUCK too.
    - Back to OK only after the reading has behaved for 10 min without a break: in range, not
      at a rail the clock contradicts (or any rail with no clock), and never equal to the value
      it was stuck at.
    """

    LUX_MAX = 150000

    def __init__(self, stuck_ms=6 * _HOUR_MS, rail_ms=_HOUR_MS, recover_ms=_RECOVER_MS):
        self.stuck_ms = _ms(stuck_ms, 6 * _HOUR_MS)
        self.rail_ms = _ms(rail_ms, _HOUR_MS)
        self.recover_ms = _ms(recover_ms, _RECOVER_MS)
        self.quality = OK
        self._last_ms = None
        self._prev = -1  # last in-range raw value, -1 for none
        self._same_ms = 0  # how long raw has been exactly _prev (outside a plausible rail)
        self._contra_ms = -1  # how long raw has sat at a rail the clock contradicts, -1 if not
        self._stuck_at = -1  # the raw value it was found stuck at
        self._good_ms = -1  # how long the reading has behaved since the last fault (-1: not)

    def update(self, raw_u16, now_ms, dark_by_clock, lux=None):
        dt = _step(now_ms, self._last_ms)
        self._last_ms = now_ms
        raw = raw_u16
        if raw is None or not (0 <= raw <= 65535):  # the comparison also catches NaN
            self._prev = -1
            self._same_ms = 0
            self._contra_ms = -1
            return self._fault(OUT_OF_RANGE)
        same = raw == self._prev
        self._prev = raw
        rail = raw == 0 or raw == 65535
        contra = False
        plausible = False
        if rail and dark_by_clock is not None:
            contra = (raw == 0) != bool(dark_by_clock)
            plausible = not contra
        # Clock-contradicted rail, held at the same value.
        if contra:
            if same and self._contra_ms >= 0:
                self._contra_ms = _sat(self._contra_ms + dt)
            else:
                self._contra_ms = 0
        else:
            self._contra_ms = -1
        # Constant value, except on a rail the clock agrees with.
        if plausible or not same:
            self._same_ms = 0
        else:
            self._same_ms = _sat(self._same_ms + dt)
        if lux is not None and not (lux <= self.LUX_MAX):
            return self._fault(OUT_OF_RANGE)
        if self._contra_ms > self.rail_ms or self._same_ms > self.stuck_ms:
            self._stuck_at = raw
            return self._fault(STUCK)
        if self.quality != OK:
            if contra or (rail and dark_by_clock is None) or raw == self._stuck_at:
                self._good_ms = -1
            else:
                self._good_ms = _sat(self._good_ms + dt) if self._good_ms >= 0 else 0
                if self._good_ms > self.recover_ms:
                    self.quality = OK
                    self._stuck_at = -1
                    self._good_ms = -1
        return self.quality

    def _fault(self, quality):
        self.quality = quality
        self._good_ms = -1
        return quality


class I2cLightHealth:
    """Plausibility of a digital lux sensor on I2C (BH1750 and the like).

    Rules (lux in lx, None when the read failed, e.g. no ACK):
    - ABSENT after absent_after consecutive failed reads; the next reading clears it.
    - OUT_OF_RANGE at once for a reading below 0, above 120000 lx, or NaN.
    - STUCK when the same non-zero reading persists for longer than stuck_ms: a real sensor
      at a real street changes by at least one count over hours. A constant 0 is normal in
      the dark, so 0 counts only while the sun clock says day, and then for longer than 1 h
      (a covered or dead sensor at noon).
    - Back to OK from OUT_OF_RANGE/STUCK after 10 min of behaving readings without a break:
      in range, not 0 by day, never the value it was stuck at. Failed reads in between neither
      count nor break the window.
    """

    LUX_MAX = 120000

    def __init__(self, absent_after=3, stuck_ms=6 * _HOUR_MS, dark_ms=_HOUR_MS,
                 recover_ms=_RECOVER_MS):
        n = _ms(absent_after, 3)
        self.absent_after = n if n >= 1 else 1
        self.stuck_ms = _ms(stuck_ms, 6 * _HOUR_MS)
        self.dark_ms = _ms(dark_ms, _HOUR_MS)
        self.recover_ms = _ms(recover_ms, _RECOVER_MS)
        self.quality = OK
        self.failures = 0  # consecutive failed reads
        self._fault = OK  # the reading's own fault, shown whenever the sensor answers
        self._last_ms = None
        self._prev = _NAN  # last in-range reading (NaN equals nothing)
        self._same_ms = 0
        self._zero_day_ms = -1  # how long 0 lx has been read while the clock says day
        self._stuck_at = _NAN
        self._good_ms = -1

    def update(self, lux, now_ms, dark_by_clock):
        dt = _step(now_ms, self._last_ms)
        self._last_ms = now_ms
        if lux is None:
            if self.failures < self.absent_after:
                self.failures += 1
            if self.failures >= self.absent_after:
                self.quality = ABSENT
            return self.quality
        self.failures = 0
        if not (0 <= lux <= self.LUX_MAX):  # also catches NaN
            self._prev = _NAN
            self._same_ms = 0
            self._zero_day_ms = -1
            self._fault = OUT_OF_RANGE
            self._good_ms = -1
            self.quality = OUT_OF_RANGE
            return OUT_OF_RANGE
        same = lux == self._prev
        self._prev = lux
        zero_day = lux == 0 and dark_by_clock is not None and not dark_by_clock
        if zero_day:
            if self._zero_day_ms >= 0:
                self._zero_day_ms = _sat(self._zero_day_ms + dt)
            else:
                self._zero_day_ms = 0
        else:
            self._zero_day_ms = -1
        if same and lux != 0:
            self._same_ms = _sat(self._same_ms + dt)
        else:
            self._same_ms = 0
        if self._zero_day_ms > self.dark_ms or self._same_ms > self.stuck_ms:
            self._stuck_at = lux
            self._fault = STUCK
            self._good_ms = -1
        elif self._fault != OK:
            if zero_day or lux == self._stuck_at:
                self._good_ms = -1
            else:
                self._good_ms = _sat(self._good_ms + dt) if self._good_ms >= 0 else 0
                if self._good_ms > self.recover_ms:
                    self._fault = OK
                    self._stuck_at = _NAN
                    self._good_ms = -1
        self.quality = self._fault
        return self._fault


class Motion:
    """A PIR (or radar) motion input, fed by the pin interrupt and polled by the control loop.

    edge(now_ms, level) runs in the interrupt handler: it only stores small ints and bools in
    attributes made here (no allocation, no calls). The ISR owns _level, _rise_ms, _rises and
    _done; poll() owns the rest, so an interrupt between two lines of poll() loses nothing.

    Rules (debounce_ms, retrigger_ms, stuck_ms in ms):
    - A detection is a high level that lasts at least debounce_ms; shorter spikes (EMI on a
      long cable) are ignored. A pulse that rose and fell between two polls still counts if it
      was long enough.
    - While the input stays high, poll() reports a new detection every retrigger_ms, so the
      lamp's hold keeps being extended for someone who lingers.
    - Once the input has been high for stuck_ms, quality is STUCK and poll() reports nothing
      until the input goes low again (then quality is OK at once).
    """

    def __init__(self, debounce_ms, stuck_ms=2 * _HOUR_MS, retrigger_ms=5000):
        self.debounce_ms = _ms(debounce_ms, 200)
        self.stuck_ms = _ms(stuck_ms, 2 * _HOUR_MS)
        self.retrigger_ms = _ms(retrigger_ms, 5000)
        self.quality = OK
        # Written by the ISR only.
        self._level = False
        self._rise_ms = 0
        self._rises = 0  # rising edges seen, modulo 2**30
        self._done = 0  # the rise number of the last long-enough pulse that has ended
        # Written by poll() only.
        self._reported = 0  # the rise number last reported
        self._seen_done = 0  # the last _done value poll() has dealt with
        self._report_ms = 0
        self._stuck_rise = -1
        self.rose = False  # the last detection poll() reported was a new pulse, not a retrigger

    def edge(self, now_ms, level):
        if level:
            if not self._level:
                self._rise_ms = now_ms
                self._rises = (self._rises + 1) & _MASK
                self._level = True
        elif self._level:
            self._level = False
            # The pulse length, written out so the handler makes no call (and no long int).
            d = (now_ms - self._rise_ms) & _MASK
            if self.debounce_ms <= d < _HALF:
                self._done = self._rises

    def poll(self, now_ms):
        """True once per new detection (and per retrigger_ms while the input stays high)."""
        rise = self._rises
        rise_ms = self._rise_ms
        high = self._level
        done = self._done
        if rise != self._rises:
            return False  # an edge landed while reading: look again next poll
        if high and rise == self._stuck_rise:
            return False
        if self.quality != OK:
            self.quality = OK  # it went low (and maybe high again) since it was stuck
        if high and ticks_diff(now_ms, rise_ms) >= self.stuck_ms:
            self._stuck_rise = rise
            self.quality = STUCK
            return False
        if done != self._seen_done:
            # A pulse long enough has ended since the last poll: news unless it was already
            # reported while high (or was the stuck one).
            self._seen_done = done
            if done != self._reported and done != self._stuck_rise:
                self._reported = done
                self._report_ms = now_ms
                self.rose = True
                return True
        if not high:
            return False
        if ticks_diff(now_ms, rise_ms) < self.debounce_ms:
            return False
        if rise != self._reported:
            self._reported = rise
            self._report_ms = now_ms
            self.rose = True
            return True
        if ticks_diff(now_ms, self._report_ms) >= self.retrigger_ms:
            self._report_ms = now_ms
            self.rose = False
            return True
        return False
