# Energy metering from the dimming level, and what each night saved (pure: the caller
# passes now_ms and the local minute of the day, or None when the clock is not set).
#
# Power comes from the luminaire's power curve [[percent, watts], ...] (ascending, linear
# between points, flat beyond the ends). Level 0 means the lamp is switched off: it draws the
# curve's 0 % point (the driver's standby power), or nothing if the curve has no 0 % point.
#
# Energy is integrated piecewise-constant: update(level, now) books the time since the
# previous update at the PREVIOUS level. The sums are exact integers, so 32-bit floats on the
# chip cost no accuracy however long the lamp burns: power is held in whole milliwatts (looked
# up again only when the level changes), each interval adds mW * ms = microjoules, and the
# total is kept as [whole Wh, mWh 0..999, uJ 0..3599999] of small ints (no big-int growth,
# no allocation). Rounding the power to 1 mW is the only approximation (< 0.002 % at 60 W).
#
# Night accounting compares a night's energy with two baselines computed alongside it:
# - always on: the whole night at the 100 % power;
# - D60: the fixed Dutch residential schedule (Elexon D60 switching regime; Luminext,
#   "Business case for smart lighting"): 100 % from switch-on until 20:00, 70 % from 20:00,
#   50 % from 22:00, 100 % from 05:00 until switch-off. It needs the local time: while that
#   is unknown (local_minute None) the D60 baseline counts 100 %, like always on.
from micropython import const

from agent.sched import ticks_diff

_UJ_PER_MWH = const(3600000)


def d60_level(local_minute):
    """The D60 schedule's level at a local minute of the day (None: unknown -> 100)."""
    if local_minute is None:
        return 100
    m = local_minute % 1440
    if m >= 22 * 60 or m < 5 * 60:
        return 50
    if m >= 20 * 60:
        return 70
    return 100


def _add(acc, uj):
    """acc = [Wh, mWh, uJ] += uj microjoules, carrying upwards."""
    u = acc[2] + uj
    if u >= _UJ_PER_MWH:
        m = u // _UJ_PER_MWH
        u -= m * _UJ_PER_MWH
        m += acc[1]
        if m >= 1000:
            h = m // 1000
            m -= h * 1000
            acc[0] += h
        acc[1] = m
    acc[2] = u


def _wh(acc):
    return acc[0] + acc[1] / 1000 + acc[2] / (_UJ_PER_MWH * 1000)


def _saving(base_wh, wh):
    if base_wh <= 0:
        return 0.0
    return round((base_wh - wh) * 100 / base_wh, 1)


class EnergyMeter:
    def __init__(self, power_curve):
        self._pcts = [p for p, _ in power_curve]
        self._watts = [w for _, w in power_curve]
        self._standby_mw = self._mw_of(self._watts[0]) if self._pcts[0] <= 0 else 0
        self._full_mw = self._mw_of(self.watts(100))
        self._d60_mw = {70: self._mw_of(self.watts(70)), 50: self._mw_of(self.watts(50)),
                        100: self._full_mw}
        self._acc = [0, 0, 0]
        self._burn = [0, 0]  # whole seconds, ms
        self.switches = 0
        self._last_ms = None
        self._level = 0
        self._mw = self._standby_mw
        # the night in progress (books kept alongside the meter's while _night)
        self._night = False
        self._n_acc = [0, 0, 0]
        self._n_on = [0, 0, 0]
        self._n_d60 = [0, 0, 0]
        self._n_burn = [0, 0]
        self._n_minute = None
        self._n_start = 0
        self.last_night = None

    @staticmethod
    def _mw_of(w):
        return int(w * 1000 + 0.5)

    def watts(self, level_pct):
        """Power drawn at a level (0 = off: standby)."""
        if level_pct <= 0:
            return self._standby_mw / 1000
        pcts, ws = self._pcts, self._watts
        if level_pct <= pcts[0]:
            return ws[0]
        for i in range(1, len(pcts)):
            if level_pct <= pcts[i]:
                p0 = pcts[i - 1]
                w0 = ws[i - 1]
                return w0 + (ws[i] - w0) * (level_pct - p0) / (pcts[i] - p0)
        return ws[-1]

    @property
    def wh(self):
        """Energy since the meter started, in Wh."""
        return _wh(self._acc)

    @property
    def burn_s(self):
        """Whole seconds lit (level > 0)."""
        return self._burn[0]

    def update(self, level_pct, now_ms):
        """Book the time since the last update at the previous level (into the night's books
        too while a night is open), then take the new level. A repeated call with the same
        now_ms and level changes nothing."""
        last = self._last_ms
        self._last_ms = now_ms
        if last is not None:
            dt = ticks_diff(now_ms, last)
            if dt > 0:
                mw = self._mw
                lit = self._level > 0
                _add(self._acc, mw * dt)
                if lit:
                    _burn(self._burn, dt)
                if self._night:
                    _add(self._n_acc, mw * dt)
                    _add(self._n_on, self._full_mw * dt)
                    _add(self._n_d60, self._d60_mw[d60_level(self._n_minute)] * dt)
                    if lit:
                        _burn(self._n_burn, dt)
            elif dt < 0:
                self._last_ms = last  # a stale clock reading: time only moves forwards
        if level_pct > 0 and self._level <= 0:
            self.switches += 1  # the lamp starts off at power-up
        if level_pct != self._level:
            self._level = level_pct
            self._mw = self._mw_of(self.watts(level_pct)) if level_pct > 0 else self._standby_mw

    # --- nights -----------------------------------------------------------------------------

    def night_begin(self, now_ms, local_minute=None):
        """Open a night's account (at switch-on). Time before now_ms is booked first."""
        self.update(self._level, now_ms)
        for a in (self._n_acc, self._n_on, self._n_d60):
            a[0] = a[1] = a[2] = 0
        self._n_burn[0] = self._n_burn[1] = 0
        self._night = True
        self._n_start = now_ms
        self._n_minute = local_minute

    def night_update(self, level_pct, now_ms, local_minute=None):
        """update(), and the local minute of the day (None: unknown) from now on for the D60
        baseline. Calling update() as well with the same values does no harm, and plain
        update() calls in between are booked into the night too."""
        self.update(level_pct, now_ms)
        self._n_minute = local_minute

    def night_end(self, now_ms):
        """Close the night (at switch-off): its summary, also kept as last_night; None if no
        night was open."""
        if not self._night:
            return None
        self.update(self._level, now_ms)
        self._night = False
        wh, on, d60 = _wh(self._n_acc), _wh(self._n_on), _wh(self._n_d60)
        self.last_night = {
            "wh": round(wh, 3),
            "always_on_wh": round(on, 3),
            "d60_wh": round(d60, 3),
            "saving_vs_always_on_pct": _saving(on, wh),
            "saving_vs_d60_pct": _saving(d60, wh),
            "burn_s": self._n_burn[0],
            "hours": round(ticks_diff(now_ms, self._n_start) / 3600000, 2),
        }
        return self.last_night


def _burn(b, dt):
    ms = b[1] + dt
    if ms >= 1000:
        s = ms // 1000
        ms -= s * 1000
        b[0] += s
    b[1] = ms
