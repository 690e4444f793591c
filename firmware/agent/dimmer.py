# Motion boost, light-ahead and technician override for one streetlight (pure: the caller
# passes now_ms, whether the lamp should be lit, and the base level of the night profile).
#
# A boost is an envelope on top of the base level: it ramps up over ramp_ms, holds, then
# fades linearly back to the base over fade_s. With f(t) in 0..1 the envelope's share,
#     level = base + (boost - base) * f(t)        (only where boost > base)
# so the fade ends exactly on the base even while the profile moves the base during it.
#
# Each running boost lives in a slot: a virtual ramp start `start` (f = (t - start) / ramp)
# and a fade start `fade_at` (f = 1 - (t - fade_at) / fade after it), always with
# fade_at >= start + ramp so a boost is fully up before it fades. A new event that an
# existing slot already covers is dropped; one that covers a slot replaces it, ramping up
# from where that slot stands (no dip); otherwise it takes a free slot. Own-sensor events and
# neighbour (light-ahead) events have separate slots, so a neighbour never lowers or shortens
# this pole's own boost: the level is the highest of all slots.
#
# "Hold hold_s from now" means the boost lasts until now + hold_s at least (longer when the
# ramp is slower than the hold), and a later detection only ever pushes that end later.
#
# Off by day: level 0. When on, the level is never below min_level_pct nor below the base.
# A technician override (bounded by override_max_s) wins over all of this, and it is the only
# way to get a level below min_level_pct, including 0 (dark), at night.
#
# Steady state (no boost, or a boost holding, no override) allocates nothing; while a boost
# ramps or fades, only float results are allocated (MicroPython boxes floats).
from micropython import const

from agent.sched import ticks_add, ticks_diff

_OWN = const(2)  # slots 0, 1: own sensor (two, for the change between late and normal boost)
_SLOTS = const(5)  # slots 2, 3, 4: neighbours (ahead() uses 2 and 3: one per side)


class Dimmer:
    def __init__(self, light):
        self.min_pct = light["min_level_pct"]
        self.boost_pct = light["boost_pct"]
        self.late_boost_pct = light["late_boost_pct"]
        self.hold_ms = int(light["hold_s"] * 1000)
        self.late_hold_ms = int(light["late_hold_s"] * 1000)
        self.ramp_ms = int(light["ramp_ms"])
        self.fade_ms = int(light["fade_s"] * 1000)
        self.reach_m = light["ahead_reach_m"]
        self.ahead_hold_ms = int(light["ahead_hold_s"] * 1000)
        self.override_max_ms = int(light["override_max_s"] * 1000)
        self._used = [False] * _SLOTS
        self._pct = [0.0] * _SLOTS
        self._start = [0] * _SLOTS
        self._fade_at = [0] * _SLOTS
        self._ov_on = False
        self._ov_pct = 0.0
        self._ov_end = 0
        self._told = [0] * _SLOTS  # when a neighbour last asked for an ahead() slot

    # --- events ---------------------------------------------------------------------------

    def motion(self, now_ms, late=False):
        """This pole's own sensor saw motion."""
        if late:
            self._event(0, _OWN, self.late_boost_pct, self.late_hold_ms, now_ms)
        else:
            self._event(0, _OWN, self.boost_pct, self.hold_ms, now_ms)

    def peer(self, now_ms, distance_m, late=False):
        """A neighbour saw motion distance_m away: a boost falling off with distance, to
        nothing at ahead_reach_m (a reach of 0 turns light-ahead off). Returns the boost
        level asked for, or 0 when out of reach."""
        d = abs(distance_m)
        reach = self.reach_m
        if reach <= 0 or d > reach:
            return 0
        boost = self.late_boost_pct if late else self.boost_pct
        pct = boost * (1 - d / reach)
        if pct <= 0:
            return 0
        self._event(_OWN, _SLOTS, pct, self.late_hold_ms if late else self.hold_ms, now_ms)
        return pct

    def ahead(self, now_ms, side, late=False):
        """Light-ahead: the nearest neighbour on `side` (0 or 1) saw someone heading here.
        The full boost (the class level), up within ramp_ms, held ahead_hold_ms from this
        message: someone its sensor saw and this one misses is still lit through this zone."""
        i = _OWN + (1 if side else 0)
        pct = self.late_boost_pct if late else self.boost_pct
        r = self.ramp_ms
        hold = self.ahead_hold_ms
        fade_at = ticks_add(now_ms, hold if hold > r else r)
        self._told[i] = now_ms
        if self._used[i] and self._share(i, now_ms) > 0:
            self._merge(i, pct, fade_at, now_ms)
        else:
            self._used[i] = True
            self._pct[i] = pct
            self._start[i] = now_ms
            self._fade_at[i] = fade_at

    def arrived(self, now_ms):
        """This pole's own sensor has just seen a new pulse: whoever a neighbour announced
        before now is here and held by the own boost (motion(), called next), so those ahead
        slots end their hold one ramp from now (the own boost is fully up by then: no dip)
        instead of at ahead_hold_ms. An announcement at this very tick stays."""
        r = self.ramp_ms
        for i in (_OWN, _OWN + 1):
            if not self._used[i] or ticks_diff(now_ms, self._told[i]) <= 0:
                continue
            end = ticks_add(now_ms, r)
            up = ticks_add(self._start[i], r)
            if ticks_diff(up, end) > 0:
                end = up
            if ticks_diff(self._fade_at[i], end) > 0:
                self._fade_at[i] = end

    def override(self, level_pct, duration_s, now_ms):
        """Hold level_pct (0..100; 0 = dark, even at night) for duration_s, at most
        override_max_s. None, or a duration <= 0, cancels. Returns the seconds granted."""
        if level_pct is None or duration_s <= 0:
            self._ov_on = False
            return 0
        ms = int(duration_s * 1000)
        if ms > self.override_max_ms:
            ms = self.override_max_ms
        self._ov_pct = min(100.0, max(0.0, float(level_pct)))
        self._ov_end = ticks_add(now_ms, ms)
        self._ov_on = ms > 0
        return ms / 1000

    def overridden(self, now_ms):
        """True while a technician override is in force."""
        if self._ov_on and ticks_diff(now_ms, self._ov_end) >= 0:
            self._ov_on = False
        return self._ov_on

    def cancel(self):
        """Drop every boost and the override (e.g. at dawn)."""
        for i in range(_SLOTS):
            self._used[i] = False
        self._ov_on = False

    # --- the level --------------------------------------------------------------------------

    def level(self, now_ms, on, base_pct):
        """Target level in percent: 0 when not on; else max(min_level_pct, base, boosts)."""
        if self._ov_on and self.overridden(now_ms):
            return self._ov_pct
        if not on:
            return 0
        out = self.min_pct
        if base_pct > out:
            out = base_pct
        for i in range(_SLOTS):
            if not self._used[i]:
                continue
            f = self._share(i, now_ms)
            if f <= 0:
                continue
            p = self._pct[i]
            if p > out:
                v = p if f >= 1 else base_pct + (p - base_pct) * f
                if v > out:
                    out = v
        if out > 100:
            out = 100
        return out

    def busy(self, now_ms):
        """True while a boost is ramping or fading (the caller then ticks faster)."""
        r, fd = self.ramp_ms, self.fade_ms
        for i in range(_SLOTS):
            if not self._used[i] or self._share(i, now_ms) <= 0:
                continue
            if ticks_diff(now_ms, self._start[i]) < r:
                return True
            past = ticks_diff(now_ms, self._fade_at[i])
            if 0 <= past < fd:
                return True
        return False

    def next_change_ms(self, now_ms):
        """ms until a boost or the override next changes slope (ramp done, hold over, fade
        done, override over), or None when nothing is running."""
        best = -1
        if self.overridden(now_ms):
            best = ticks_diff(self._ov_end, now_ms)
        r, fd = self.ramp_ms, self.fade_ms
        for i in range(_SLOTS):
            if not self._used[i] or self._share(i, now_ms) <= 0:
                continue
            el = ticks_diff(now_ms, self._start[i])
            if el < 0:
                el = 0
            past = ticks_diff(now_ms, self._fade_at[i])
            if el < r:
                left = r - el
            elif past < 0:
                left = -past
            else:
                left = fd - past
            if best < 0 or left < best:
                best = left
        return None if best < 0 else best

    # --- internals --------------------------------------------------------------------------

    def _share(self, i, now):
        """Slot i's envelope share f in 0..1 at now; frees the slot once its fade is done."""
        past = ticks_diff(now, self._fade_at[i])
        fd = self.fade_ms
        if past > fd or (past == fd and fd > 0):
            # fade done; with no fade the hold's last instant still counts as held, as the
            # first instant of a fade does
            self._used[i] = False
            return 0
        el = ticks_diff(now, self._start[i])
        r = self.ramp_ms
        if el <= 0:
            f = 0.0 if r > 0 else 1.0
        elif el < r:
            f = el / r
        else:
            f = 1.0
        if past > 0:
            d = 1 - past / fd
            if d < f:
                f = d
        return f

    def _event(self, lo, hi, pct, hold_ms, now):
        r = self.ramp_ms
        fade_at = ticks_add(now, hold_ms if hold_ms > r else r)
        free = -1
        for i in range(lo, hi):
            if self._used[i]:
                self._share(i, now)  # frees a finished slot
            if not self._used[i]:
                if free < 0:
                    free = i
                continue
            # Covered: at least as high, fading no earlier (it is also at least as far up).
            if self._pct[i] >= pct and ticks_diff(self._fade_at[i], fade_at) >= 0:
                return
        for i in range(lo, hi):
            if self._used[i] and self._pct[i] <= pct and \
                    ticks_diff(fade_at, self._fade_at[i]) >= 0:
                self._merge(i, pct, fade_at, now)
                return
        if free >= 0:
            self._used[free] = True
            self._pct[free] = pct
            self._start[free] = now
            self._fade_at[free] = fade_at
            return
        # No room (busy street): fold it into the slot that fades first; that slot then
        # covers both events (brighter rather than darker).
        pick = lo
        for i in range(lo + 1, hi):
            if ticks_diff(self._fade_at[i], self._fade_at[pick]) < 0:
                pick = i
        self._merge(pick, pct, fade_at, now)

    def _merge(self, i, pct, fade_at, now):
        # Ramp on from where slot i stands now, towards the higher level, until the later end.
        r = self.ramp_ms
        if ticks_diff(now, self._fade_at[i]) <= 0:
            # Ramping or holding: carry on (a start long past is kept at one ramp ago, so a
            # sensor stuck on for days never ages it past the tick counter's half range).
            start = self._start[i]
            if ticks_diff(now, start) >= r:
                start = ticks_add(now, -r)
        else:
            # Fading: ramp back up from the share it has now (rounded up: never a dip).
            fr = self._share(i, now) * r
            k = int(fr)
            if k < fr:
                k += 1
            start = ticks_add(now, -k)
        if ticks_diff(self._fade_at[i], fade_at) > 0:
            fade_at = self._fade_at[i]
        up = ticks_add(start, r)
        if ticks_diff(up, fade_at) > 0:
            fade_at = up
        if self._pct[i] > pct:
            pct = self._pct[i]
        self._used[i] = True
        self._pct[i] = pct
        self._start[i] = start
        self._fade_at[i] = fade_at
