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

MODE_PHOTOCELL, MODE_ASTRO, MODE_FAILSAFE = "photocell", "astro", "failsafe"
CLOCK_PROFILE, CLOCK_VIRTUAL, CLOCK_NONE = "profile", "virtual", "none"
MAX_LUX = const(150000)  # above full sunlight: a reading like that is a fault, not weather


class Streetlight:
    def __init__(self, light, now_ms, sensor="adc"):
        self.light = light
        self.sensor = sensor  # "adc" or "i2c": which health rules apply
        self.lux_filter = sensing.LuxFilter(5)
        self.switch = sensing.DuskDawn(light["on_lux"], light["off_lux"],
                                       light["switch_delay_s"] * 1000, now_ms)
        # Health rules of the sensor fitted (the other object is small and stays unused).
        self.adc_health = sensing.AdcLightHealth()
        self.i2c_health = sensing.I2cLightHealth()
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

    # ---- inputs between steps ----

    def own_motion(self, now_ms):
        self.dimmer.motion(now_ms, self._late())
        self.events.append(("motion", {"source": "own"}))

    def peer_motion(self, now_ms, peer_position_m):
        d = abs(peer_position_m - self.light["position_m"])
        self.dimmer.peer(now_ms, d, self._late())

    def override(self, level_pct, duration_s, now_ms):
        return self.dimmer.override(level_pct, duration_s, now_ms)

    # ---- one control step ----

    def step(self, now_ms, utc_s, lux, raw=None):
        """utc_s: wall clock (int epoch s) or None; lux: converted reading or None (read
        failed); raw: the ADC's raw u16 for the health rules (analog sensor only)."""
        light = self.light
        if self.motion.poll(now_ms):
            self.own_motion(now_ms)
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
        if self.sensor == "i2c":
            q = self.i2c_health.update(lux if bad is None else bad, now_ms, dark_by_clock)
        else:
            q = self.adc_health.update(raw, now_ms, dark_by_clock, lux if bad is None else bad)
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
        if self.mode == MODE_FAILSAFE or self.local_minute is None:
            return self.light["failure_level_pct"]
        m = self.local_minute
        if m != self._base_minute:
            self._base_level = profile.level_at(self.steps, m)
            self._base_minute = m
        return self._base_level

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
