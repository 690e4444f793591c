# Fill level, calibration and time-to-full forecast for a waste inlet (pure: readings and now_ms
# come in as arguments).
#
# Units: distances in metres from the ranger's face; levels as a fraction of the bin (0 empty,
# 1 full; internal values may stray outside, the published one is clamped by clamp01); rates
# in fraction per hour; times as ticks_ms values (wrap at 2**30, only ever compared through
# agent.sched.ticks_diff) and durations in ms; forecasts in whole seconds.
#
# The forecast works in small ints so that the chip's 32-bit floats never meet a timestamp and
# its storage is a few int arrays: levels in units of 1e-5 (clamped to +-1.4), rates in 1e-5
# per hour, point times in s on its own clock (ms since it started, fed by the tick difference
# between calls and moved back to 0 every ~3 days). Every product stays below 2**30 (the
# ESP32's small-int range), so sorting and the pairwise slopes allocate nothing; add() makes
# two floats, a refit about a hundred.
import math
from array import array

from micropython import const

from agent.sched import ticks_diff

MIN_SPAN_M = 0.1  # an inlet's full distance must be at least this much nearer than empty

TTF_CAP_S = const(30 * 86400)  # forecasts and their errors saturate at 30 days
MIN_RATE_PER_H = 0.001  # slower than this (6 weeks from empty to full) there is no forecast
_BIG = 1e30
_NBIG = -1e30
_Z = 1.96  # two-sided 95 % for the slope's confidence interval and the level's spread
_Q = const(100000)  # level unit 1e-5
_QMAX = const(140000)  # |level| <= 1.4, so a level difference * 3600 stays below 2**30
_CAP = const(1 << 28)  # the clock's rebase point (ms) and the clamp of float -> int conversions
_H_MS = const(3600000)
_MED = const(5)  # the running median: two spikes in any five readings are ignored
_MED_SIGMA = 0.54  # std of a median of 5 / (w[3] - w[1]) of those 5, for Gaussian noise
_BUCKET_MAX = const(4096)  # readings per point, so the int sum of a bucket stays a small int
_GAPS = (701, 301, 132, 57, 23, 10, 4, 1)  # Ciura's shell-sort gaps


def _ok(v):
    """v is a finite number (not a bool); type tests and comparisons allocate nothing."""
    if isinstance(v, float) or (isinstance(v, int) and not isinstance(v, bool)):
        return _NBIG < v < _BIG
    return False


def clamp01(level):
    """A level as published (FIWARE fillingLevel 0..1), None stays None."""
    if level is None:
        return None
    return 0.0 if level < 0 else (1.0 if level > 1 else level)


def geometry_error(empty_m, full_m, blind_m):
    """Why an inlet's ranger geometry (metres from the sensor face) is impossible, naming the
    config field, or None. The one judge of a calibration: the config check (which every
    saved change, a technician's calibration among them, passes) and Level."""
    if not _ok(empty_m) or empty_m <= 0:
        return "inlet.empty_m: %r must be a positive number" % (empty_m,)
    if not _ok(full_m) or full_m <= 0:
        return "inlet.full_m: %r must be a positive number" % (full_m,)
    if full_m + MIN_SPAN_M > empty_m:
        return "inlet.full_m: %r must be at least %r m nearer the sensor than inlet.empty_m " \
               "%r" % (full_m, MIN_SPAN_M, empty_m)
    if full_m < blind_m:
        return "inlet.full_m: %r is inside the sensor's blind zone (inlet.blind_m %r)" % (
            full_m, blind_m)
    return None


class Level:
    """Distance to the waste surface -> fill level, with the calibration of one bin.

    installed_empty_m is the technician's empty distance; empty_m the one in use, re-learnt
    after each discharge but never further than relearn_tol_m from the installed one. Raises
    ValueError for an impossible geometry (the config check refuses those first, with the
    same geometry_error). A technician calibrates through the config
    (inlet.empty_m / inlet.full_m) and a restart, never by changing a Level in place."""

    def __init__(self, empty_m, full_m, relearn_tol_m=0.15, blind_m=0.0):
        err = geometry_error(empty_m, full_m, blind_m)
        if err:
            raise ValueError(err)
        self.installed_empty_m = empty_m
        self.empty_m = empty_m
        self.full_m = full_m
        self.relearn_tol_m = relearn_tol_m
        self.blind_m = blind_m

    def level(self, distance_m):
        """Fill fraction, unclamped (0 at empty_m, 1 at full_m); None for a non-number."""
        if not _ok(distance_m):
            return None
        return (self.empty_m - distance_m) / (self.empty_m - self.full_m)

    def filling(self, distance_m):
        """The published fillingLevel: level() clamped to 0..1, None for a non-number."""
        return clamp01(self.level(distance_m))

    def relearn_empty(self, distance_m):
        """The first good reading after a discharge: True if accepted. Accepted only within
        relearn_tol_m of the installed empty distance (waste stuck in the chute or a fault
        must not become "empty"), and empty_m moves only halfway towards it, so one odd
        reading shifts it at most half the tolerance and it always stays within tolerance."""
        if not _ok(distance_m) or abs(distance_m - self.installed_empty_m) > self.relearn_tol_m:
            return False
        new = self.empty_m + (distance_m - self.empty_m) / 2
        if new < self.full_m + MIN_SPAN_M:
            return False
        self.empty_m = new
        return True


def _sort(a, n):
    """Shell sort of the ints a[0:n] in place (no allocation)."""
    for gap in _GAPS:
        if gap >= n:
            continue
        for i in range(gap, n):
            v = a[i]
            j = i
            while j >= gap and a[j - gap] > v:
                a[j] = a[j - gap]
                j -= gap
            a[j] = v


def _int(v):
    """A float as an int within +-_CAP (never a long int on the chip)."""
    return _CAP if v > _CAP else (-_CAP if v < -_CAP else int(v))


class Forecast:
    """Fill rate and time to a level, robust to spikes, in fixed pre-allocated storage.

    add() runs once per ranging burst, valid or not. Valid levels go through a running median
    of 5 (a hand or a falling bag reading near full for one or two bursts is ignored; a level
    that stays for three bursts is taken), giving `level`. Those are averaged into one point
    per bucket_ms; the last `window` points give the rate by Theil-Sen (median of pairwise
    slopes) with its 95 % confidence interval (Sen's rank bounds). `level` and `rate_per_h`
    (>= 0: a bin does not empty itself) are None before there is enough data (min_points
    points) and once no valid reading came for stale_ms, which must exceed the sampling period.
    A level more than `drop` below the recent points means the bin was emptied (also by hand):
    the old points are dropped and `restarts` counts it.
    """

    def __init__(self, window=24, bucket_ms=600000, stale_ms=1800000, min_points=4, drop=0.2):
        self.window = window if 2 <= window <= 48 else 24
        self.bucket_ms = bucket_ms if bucket_ms > 0 else 600000
        self.stale_ms = stale_ms
        self.min_points = min_points if 2 <= min_points <= self.window else 2
        self._drop = int(drop * _Q) if _ok(drop) and 0 < drop < 2 else 2 * _QMAX
        w = self.window
        self._ring = [0] * _MED  # the last readings, level units
        self._ring_t = [0] * _MED  # ... and their times on the own clock, ms
        self._idx = [0] * _MED  # scratch: ring indices sorted by level
        self._pt = array("i", [0] * w)  # point times, s on the own clock
        self._pl = array("i", [0] * w)  # point levels
        self._ps = array("i", [0] * w)  # point noise: mean w[3] - w[1] of the median's five
        self._slopes = array("i", [0] * (w * (w - 1) // 2))
        self._scr = array("i", [0] * w)
        self._last_ms = None
        self._clock = 0
        self.restarts = 0
        self.reset()

    def reset(self):
        """Forget the fill (after a discharge): the next points start a new estimate."""
        self._rn = 0
        self._rnext = 0
        self._level_t = 0  # own-clock ms of the reading the median level came from
        self._forget()
        self.level = None
        self.valid = 0  # valid and invalid readings since the reset
        self.invalid = 0
        self.invalid_run = 0  # invalid readings in a row
        self._quiet = 0  # ms since the last valid reading

    def _forget(self):
        self._pn = 0
        self._phead = 0
        self._low = 0  # lowest of the last three points
        self._bn = 0  # readings in the open bucket
        self._bstart = 0
        self._bt0 = 0
        self._bt1 = 0
        self._bsum = 0
        self._bsp = 0
        self._bspn = 0
        self._b = None  # slope, fraction per hour (may be negative), with its interval
        self._blo = 0.0
        self._bhi = 0.0
        self._rate = None  # max(0, slope), what rate_per_h shows while not stale
        self._sig = 0.0  # level spread around the fill line (noise and bag steps)
        self.rate_per_h = None
        self.ttf_err_s = None  # the uncertainty of the last time_to() / ttf_s(), seconds

    def add(self, now_ms, level):
        """One burst: level (fraction, unclamped) or None when the reading was invalid.
        Returns the robust current level, None while unknown or stale."""
        step = 0 if self._last_ms is None else ticks_diff(now_ms, self._last_ms)
        self._last_ms = now_ms
        if step < 0:
            step = 0
        self._clock += step
        if self._clock > _CAP:
            self._rebase()
        if not _ok(level):
            self.invalid += 1
            self.invalid_run += 1
            if self._quiet < _CAP:
                self._quiet += step
            if self._quiet > self.stale_ms:
                self.level = None
                self.rate_per_h = None
                self._rn = 0  # old readings must not mix with the next ones
                self._rnext = 0
                self._bn = 0
            return self.level
        self.valid += 1
        self.invalid_run = 0
        self._quiet = 0
        q = level * _Q
        q = _QMAX if q > _QMAX else (-_QMAX if q < -_QMAX else int(q))
        now = self._clock
        ring = self._ring
        ring[self._rnext] = q
        self._ring_t[self._rnext] = now
        self._rnext = (self._rnext + 1) % _MED
        if self._rn < _MED:
            self._rn += 1
        c = self._rn
        idx = self._idx
        for i in range(c):  # insertion sort of the ring's indices by level
            v = ring[i]
            j = i
            while j > 0 and ring[idx[j - 1]] > v:
                idx[j] = idx[j - 1]
                j -= 1
            idx[j] = i
        k = idx[(c - 1) >> 1]  # the lower middle while fewer than 5: a spike is not taken
        med = ring[k]
        self._level_t = self._ring_t[k]
        if self._pn and med < self._low - self._drop:
            self.restarts += 1  # emptied: the old points belong to the previous fill
            self._forget()
        if self._bn and (now - self._bstart >= self.bucket_ms or self._bn >= _BUCKET_MAX):
            self._close()
        if self._bn == 0:
            self._bstart = now
            self._bt0 = self._level_t
            self._bsum = 0
            self._bsp = 0
            self._bspn = 0
        self._bn += 1
        self._bsum += med
        self._bt1 = self._level_t
        if c == _MED:
            self._bsp += ring[idx[3]] - ring[idx[1]]
            self._bspn += 1
        self.rate_per_h = self._rate
        self.level = med / _Q
        return self.level

    def _close(self):
        """Store the open bucket as a point and refit."""
        w = self.window
        h = self._phead
        n = self._bn
        self._pt[h] = ((self._bt0 + self._bt1) >> 1) // 1000
        self._pl[h] = (self._bsum + (n >> 1)) // n
        self._ps[h] = self._bsp // self._bspn if self._bspn else 0
        self._phead = (h + 1) % w
        if self._pn < w:
            self._pn += 1
        self._bn = 0
        low = _QMAX
        for i in range(1, (4 if self._pn > 3 else self._pn + 1)):
            v = self._pl[(self._phead - i) % w]
            if v < low:
                low = v
        self._low = low  # lowest of the last three: spikes only ever lift a point
        if self._pn >= self.min_points:
            self._fit()

    def _fit(self):
        n = self._pn
        w = self.window
        pt = self._pt
        pl = self._pl
        s = self._slopes
        first = (self._phead - n) % w
        k = 0
        for a in range(n - 1):
            ia = (first + a) % w
            ta = pt[ia]
            la = pl[ia]
            for b in range(a + 1, n):
                ib = (first + b) % w
                dt = pt[ib] - ta
                if dt > 0:
                    s[k] = (pl[ib] - la) * 3600 // dt  # 1e-5 per hour
                    k += 1
        if k == 0:
            return
        _sort(s, k)
        m = k >> 1
        slope = s[m] if k & 1 else (s[m - 1] + s[m]) >> 1
        # Sen's interval: ranks (k -+ c) / 2 of the sorted slopes.
        c = _Z * math.sqrt(n * (n - 1) * (2 * n + 5) / 18)
        lo = int((k - c) / 2) - 1
        hi = int((k + c) / 2 + 0.999)
        self._b = slope / _Q
        self._blo = s[lo if lo > 0 else 0] / _Q
        self._bhi = s[hi if hi < k else k - 1] / _Q
        self._rate = self._b if slope > 0 else 0.0
        # Spread of the points around the Theil-Sen line (robust: 1.4826 * MAD).
        r = self._scr
        last = pt[(first + n - 1) % w]
        per_s = slope / 3600
        for i in range(n):
            j = (first + i) % w
            r[i] = pl[j] - _int(per_s * (pt[j] - last))
        _sort(r, n)
        mid = r[n >> 1]
        for i in range(n):
            j = (first + i) % w
            r[i] = abs(pl[j] - _int(per_s * (pt[j] - last)) - mid)
        _sort(r, n)
        resid = 1.4826 * r[n >> 1] / _Q
        # Reading noise of the median level, from the typical spread inside its window.
        for i in range(n):
            r[i] = self._ps[(first + i) % w]
        _sort(r, n)
        noise = _MED_SIGMA * r[n >> 1] / _Q
        self._sig = math.sqrt(resid * resid + noise * noise)

    def _rebase(self):
        """Move the own clock back to 0 (by whole seconds); points older than ~3 days go."""
        d = self._clock - self._clock % 1000
        self._clock -= d
        for i in range(_MED):
            self._ring_t[i] -= d
        self._level_t -= d
        self._bstart -= d
        self._bt0 -= d
        self._bt1 -= d
        w = self.window
        first = (self._phead - self._pn) % w
        for i in range(self._pn):
            self._pt[(first + i) % w] -= d // 1000
        while self._pn and self._pt[(self._phead - self._pn) % w] < -(_CAP // 1000):
            self._pn -= 1
        if self._pn < self.min_points:
            self._b = None
            self._rate = None

    def estimate(self, target, level_now=None):
        """(seconds, error seconds) from the last add() until the level reaches target, or
        (None, None) when unknown: no rate yet, stale, or filling slower than MIN_RATE_PER_H.
        level_now defaults to the robust level, carried forward from the reading it came
        from. The error is the half-width of the 95 % range from the slope's interval and the
        level's spread (noise, bag steps); it saturates at TTF_CAP_S, as does the forecast
        (a capped forecast has a capped error: "a month or more"). At or past target: 0 s."""
        b = self._b
        if self.rate_per_h is None or b is None or b < MIN_RATE_PER_H or not _ok(target):
            return None, None
        if level_now is None:
            lv = self.level
            age_h = (self._clock - self._level_t) / _H_MS
        elif _ok(level_now):
            lv = level_now
            age_h = 0.0
        else:
            return None, None
        if lv is None:
            return None, None
        rem = target - lv
        zs = _Z * self._sig
        t = rem / b - age_h
        fast = (rem - zs) / self._bhi - age_h if self._bhi > b else t - zs / b
        slow = (rem + zs) / self._blo - age_h if self._blo >= MIN_RATE_PER_H else _BIG
        t = t if t > 0 else 0.0
        fast = fast if fast > 0 else 0.0
        err = t - fast
        if slow - t > err:
            err = slow - t
        secs = _secs(t)
        return secs, (TTF_CAP_S if secs == TTF_CAP_S else _secs(err))

    def level_at(self, now_ms):
        """The robust level carried along the fill rate to now_ms (a running median lags a
        filling bin by two readings), or None while unknown or stale."""
        lv = self.level
        if lv is None:
            return None
        age_ms = self._clock - self._level_t
        if self._last_ms is not None:
            age_ms += ticks_diff(now_ms, self._last_ms)
        rate = self.rate_per_h
        if rate is None or age_ms <= 0:
            return lv
        return lv + rate * age_ms / _H_MS

    def time_to(self, target, level_now=None):
        """Seconds until the level reaches target (see estimate), None when unknown; its
        uncertainty is left in ttf_err_s."""
        secs, self.ttf_err_s = self.estimate(target, level_now)
        return secs

    def ttf_s(self, level_now=None, full_level=1.0):
        """Seconds to full_level (see estimate); its uncertainty is left in ttf_err_s."""
        return self.time_to(full_level, level_now)


def _secs(hours):
    s = hours * 3600
    if s >= TTF_CAP_S:
        return TTF_CAP_S
    return int(s + 0.5) if s > 0 else 0
