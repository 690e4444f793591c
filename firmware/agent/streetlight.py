# The streetlight's decisions (pure): is it night, what level, and what to report.
#
# The fail-safe ladder, from best information to least:
#   photocell   light sensor ok: dusk/dawn from filtered lux, gated by the sun clock when the
#               time is known (switch only near sunset/sunrise unless it is really dark)
#   astro       light sensor faulty, time and place known: the sun clock alone
#   failsafe    light sensor faulty and no sun clock: lit at failure_level_pct, day and
#               night, because a lit street by day costs energy and a dark one costs safety
# and, for the level within the night:
#   profile     local time known: the night profile by local clock
#   virtual     no clock: local time estimated from the middle of previous nights
#   failsafe    no clock and nothing learnt yet: failure_level_pct
# Every input arrives as an argument; this module never reads a clock or a pin.
from micropython import const

from agent import astro, civil, profile, selfcheck, sensing
from agent.civil import minutes
from agent.dimmer import Dimmer
from agent.energy import EnergyMeter
from agent.sched import ticks_diff

MODE_PHOTOCELL, MODE_ASTRO, MODE_FAILSAFE = "photocell", "astro", "failsafe"
CLOCK_PROFILE, CLOCK_VIRTUAL, CLOCK_NONE = "profile", "virtual", "none"
MAX_LUX = const(150000)  # above full sunlight: a reading like that is a fault, not weather
# A neighbour's announcement this recent tells which way someone seen here is going.
_HEARD_MS = const(60000)
_SAME_POLE_M = 1.0  # positions this close count as one pole when learning the nearest
_HEARD = const(2)  # Streetlight._ahead: when each side was heard, from this index
_ON = const(4)  # ... and whether that still counts


class Streetlight:
    def __init__(self, light, now_ms, sensor="adc"):
        self.light = light
        self.sensor = sensor  # "adc" or "i2c": which health rules apply
        self.lux_filter = sensing.LuxFilter(5)
        self.switch = sensing.DuskDawn(light["on_lux"], light["off_lux"],
                                       light["switch_delay_s"] * 1000, now_ms)
        # Health rules of the sensor fitted (only its own: less heap, one attribute fewer).
        self.health = sensing.I2cLightHealth() if sensor == "i2c" else sensing.AdcLightHealth()
        self.light_quality = sensing.OK
        self.motion = sensing.Motion(light["motion_debounce_ms"])
        self.dimmer = Dimmer(light)
        self.energy = EnergyMeter(light["power_curve"])
        lon = light["lon"] if light["lon"] is not None else 0
        self.vm = profile.VirtualMidnight(profile.solar_midnight_local(lon, light["tz_offset_min"]))
        self.drift = selfcheck.PhotocellDrift(light["drift_max_min"])
        self.day_burner = selfcheck.DayBurner()
        self.late_from = minutes(light["late_from"])
        self.late_to = minutes(light["late_to"])
        self.has_place = light["lat"] is not None and light["lon"] is not None
        # The sun clock's answers hold over spans of hours: worked out again only when a
        # span ends (a handful of times a day), not at each tick.
        self.sun = astro.SunClock(light["lat"], light["lon"], light["sunset_offset_min"],
                                  light["sunrise_offset_min"], light["astro_window_min"]) \
            if self.has_place else None
        # The night profile with its times parsed once, and its level for the last minute.
        self.steps = [(profile.step_minute(t), lv) for t, lv in light["profile"]]
        self._base_minute = None
        self._base_level = None
        # what the last step decided (for state, telemetry and tests)
        self.on = False
        self.level = 0.0
        self.base = 0.0
        self.lux = None
        self.mode = MODE_FAILSAFE
        self.clock = CLOCK_NONE
        self.local_minute = None
        self.events = []  # (name, fields) for the shell to publish; drained by the shell
        self.seen_light = False  # no valid light reading since boot yet
        self.sun_at = None  # wall time of the last sun-clock computation
        self.dark_by_clock = False
        self.near_twilight = False
        self.local_clock = civil.MinuteClock(light["tz_offset_min"], light["dst"])
        # Light-ahead. The shell sets `linked` before each step: True while the broker link
        # is up and the pole has a group, i.e. while neighbours can warn it.
        self.linked = False
        # One fixed record for both sides (below, above), made once: [near_below, near_above,
        # heard_below, heard_above, on_below, on_above]: the distance to the nearest
        # neighbour heard, when that side last announced someone heading here, and whether
        # that is recent enough to count. One list, not three (this object is built at the
        # boot's peak on the chip).
        self._ahead = [0.0, 0.0, 0, 0, False, False]
        self.heading = 0  # which way the last person seen here goes: +1 up, -1 down, 0 unknown

    # ---- inputs between steps ----

    def own_motion(self, now_ms):
        """The own sensor saw someone (a new pulse when motion.rose, else a retrigger of the
        pulse under way). One argument: the street simulator wraps this to count detections."""
        below, above = self._recent(0, now_ms), self._recent(1, now_ms)
        # Announced from one side only: going on to the other. Both or neither: unknown,
        # so the neighbours on both sides are told.
        self.heading = 1 if below and not above else -1 if above and not below else 0
        late = self._late()
        if self.motion.rose:
            self.dimmer.arrived(now_ms)
        self.dimmer.motion(now_ms, late)
        self.events.append(("motion", {"source": "own", "dir": self.heading}))

    def peer_motion(self, now_ms, peer_position_m, heading=0):
        """A neighbour at peer_position_m saw someone going `heading` (+1 up, -1 down, 0
        unknown). Only the nearest neighbour on each side counts, and only for someone who
        may be coming here; it then gets the full boost held (see Dimmer.ahead)."""
        light = self.light
        d = peer_position_m - light["position_m"]
        side = 1 if d > 0 else 0
        dist = abs(d)
        if dist > light["ahead_reach_m"] or dist < _SAME_POLE_M:
            return False
        rec = self._ahead
        near = rec[side]
        if near == 0 or dist < near:
            rec[side] = dist
        elif dist > near + _SAME_POLE_M:
            return False  # a pole further on: its walker reaches the nearer one first
        if heading and (heading > 0) == (side == 1):
            return False  # going away from this pole
        rec[_HEARD + side] = now_ms
        rec[_ON + side] = True
        self.dimmer.ahead(now_ms, side, self._late())
        return True

    def _recent(self, side, now_ms):
        rec = self._ahead
        if rec[_ON + side] and ticks_diff(now_ms, rec[_HEARD + side]) > _HEARD_MS:
            rec[_ON + side] = False
        return rec[_ON + side]

    def override(self, level_pct, duration_s, now_ms):
        return self.dimmer.override(level_pct, duration_s, now_ms)

    # ---- one control step ----

    def step(self, now_ms, utc_s, lux, raw=None):
        """utc_s: wall clock (int epoch s) or None; lux: converted reading or None (read
        failed); raw: the ADC's raw u16 for the health rules (analog sensor only)."""
        light = self.light
        if self.motion.poll(now_ms):
            self.own_motion(now_ms)
        # forget stale announcements before the tick counter's half range could revive them
        self._recent(0, now_ms)
        self._recent(1, now_ms)
        sun_known = utc_s is not None and self.has_place
        if sun_known:
            self._sun(utc_s)
        dark_by_clock = self.dark_by_clock if sun_known else None
        self._sense(now_ms, lux, raw, dark_by_clock)
        was_on = self.on
        if self.light_quality == sensing.OK and self.lux is not None:
            self.mode = MODE_PHOTOCELL
            may_on = may_off = True
            if sun_known:
                near = self.near_twilight
                may_on = near or self.lux < light["dark_lux"]
                may_off = near or not dark_by_clock
            self.on = self.switch.update(self.lux, now_ms, may_on, may_off)
        elif sun_known:
            self.mode = MODE_ASTRO
            self.on = bool(dark_by_clock)
            self.switch.force(self.on, now_ms)
        else:
            self.mode = MODE_FAILSAFE
            self.on = True
            self.switch.force(True, now_ms)
        if self.on != was_on:
            self._switched(now_ms, utc_s)
        self._clock(now_ms, utc_s)
        self.base = self._base()
        self.level = self.dimmer.level(now_ms, self.on, self.base)
        self.energy.update(self.level, now_ms)
        if self.on:
            self.energy.night_update(self.level, now_ms, self.local_minute)
        if dark_by_clock is not None:
            self.day_burner.update(self.level, not dark_by_clock, now_ms)
        return self.level

    def _sun(self, utc_s):
        """The sun clock's answers at utc_s: computed anew only when the span over which the
        last ones hold is left (see astro.SunClock); within it, comparisons only."""
        sun = self.sun
        if sun is None:
            return
        sun.at(utc_s)
        self.sun_at = utc_s  # the answers below are the sun clock's at this wall time
        self.dark_by_clock = sun.dark
        self.near_twilight = sun.near

    def _sense(self, now_ms, lux, raw, dark_by_clock):
        if lux is not None and not (0 <= lux <= MAX_LUX):  # NaN fails both comparisons
            bad, lux = lux, None
        else:
            bad = None
        seen = lux if bad is None else bad
        if self.sensor == "i2c":
            q = self.health.update(seen, now_ms, dark_by_clock)
        else:  # the ADC's rules (AdcLightHealth) take the raw reading too
            q = self.health.update(raw, now_ms, dark_by_clock, seen)  # type: ignore
        if q != self.light_quality:
            self.events.append(("light_sensor", {"quality": q}))
            self.light_quality = q
        self.lux = self.lux_filter.add(lux) if lux is not None else None
        if not self.seen_light and self.lux is not None:
            self.seen_light = True
            # Just booted: decide at once rather than after switch_delay_s, so a reboot at
            # night does not leave the street dark for a minute.
            self.switch.force(self.lux < self.light["off_lux"], now_ms)

    def _switched(self, now_ms, utc_s):
        if self.on:
            self.vm.switched_on(now_ms)
            self.energy.night_begin(now_ms)
        else:
            self.vm.switched_off(now_ms)
            self.events.append(("night", self.energy.night_end(now_ms)))
        self.events.append(("switch", {"on": self.on, "mode": self.mode}))
        if self.mode == MODE_PHOTOCELL and utc_s is not None and self.has_place:
            name, when = astro.nearest_event(utc_s, self.light["lat"], self.light["lon"])
            if name is not None:
                self.drift.record(name, utc_s, when)

    def _clock(self, now_ms, utc_s):
        if utc_s is not None:
            self.clock = CLOCK_PROFILE
            self.local_minute = self.local_clock.at(utc_s)
            return
        m = self.vm.local_minute(now_ms)
        self.clock = CLOCK_VIRTUAL if m is not None else CLOCK_NONE
        self.local_minute = m

    def _base(self):
        light = self.light
        if self.mode == MODE_FAILSAFE or self.local_minute is None:
            return light["failure_level_pct"]
        m = self.local_minute
        if m != self._base_minute:
            self._base_level = profile.level_at(self.steps, m)
            self._base_minute = m
        if self.linked:
            return self._base_level
        # No neighbour can warn this pole of someone its sensor misses: keep the class.
        safe = light["unlinked_pct"]
        if safe is None:
            safe = light["late_boost_pct"] if self._late() else light["boost_pct"]
        return safe if safe > self._base_level else self._base_level

    def _late(self):
        m = self.local_minute
        return m is not None and civil.in_window(m, self.late_from, self.late_to)

    # ---- reporting ----

    def busy(self, now_ms):
        return self.dimmer.busy(now_ms)

    def state(self):
        return {"on": self.on, "level": round(self.level, 1), "control": self.mode,
                "clock": self.clock, "light_sensor": self.light_quality,
                "motion_sensor": self.motion.quality, "photocell_suspect": self.drift.suspect,
                "day_burner": self.day_burner.flag}
