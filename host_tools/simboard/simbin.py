# World-side model of a vacuum waste inlet for the simulated board: the bin people drop bags
# into, seen by an ultrasonic ranger in the lid; its discharge valve (a GPIO output) with a
# closed limit switch that follows it after a travel time; and the chute that empties into the
# pipe while the valve is open. Runs under CPython and the MicroPython unix port.
#
# Bags arrive as a Poisson process whose hourly rate follows a daily profile (local time from
# the board's wall clock); each adds `bag` of the bin's capacity. Level 1.0 is the surface at
# full_m; above OVERFLOW the bin overflows (people leave bags beside it).
# Or, given `deposits` ([[wall s, litres], ...] in time order, e.g. from a street world) and
# `capacity_l`, exactly those deposits arrive at those wall-clock times instead of the profile
# (one scheduled at a time); `levels` then records [wall s, level] at every change.
import math

import simclock
import simworld

OVERFLOW = 1.0
RESIDUE = 0.02  # what stays in the chute after a good discharge

# Bags per hour by local hour: quiet nights, a morning and an evening peak.
DAY_PROFILE = (0.5, 0.3, 0.2, 0.2, 0.3, 0.8, 2.0, 4.0, 5.0, 4.0, 3.5, 4.0,
               5.0, 4.5, 3.5, 3.5, 4.0, 5.0, 6.0, 5.0, 3.5, 2.5, 1.5, 0.8)


class Bin:
    def __init__(self, pins, active_low=(), empty_m=1.2, full_m=0.35, level=0.0,
                 bags_per_h=DAY_PROFILE, scale=1.0, bag=0.03, travel_ms=600,
                 discharge_ms=2000, tz_offset_min=60, jammed=False, temp_c=15.0,
                 deposits=None, capacity_l=None):
        self.empty_m, self.full_m = empty_m, full_m
        self.level = level
        self.max_level = level
        self.profile = bags_per_h
        self.scale = scale
        self.bag = bag
        self.travel_ms = travel_ms
        self.discharge_ms = discharge_ms
        self.tz_s = tz_offset_min * 60
        self.jammed = jammed  # waste stuck in the chute: opening does not empty it
        self.bags = 0
        self.discharges = 0
        self.opens = []  # [wall_ms_open, wall_ms_close or None]
        self.overflow_ms = 0
        self._over_since = None
        self.valve = pins["valve"]
        self.valve_on = 0 if "valve" in active_low else 1
        self.pos = pins["valve_pos"]
        self.pos_closed = 0 if "valve_pos" in active_low else 1
        self._empty_ev = None
        simworld.drive(self.pos, self.pos_closed)
        if pins.get("vacuum_ready") is not None:  # no pressure switch wired in this model
            simworld.drive(pins["vacuum_ready"], 1 if "vacuum_ready" in active_low else 0)
        self.ranger = simworld.ultrasonic(pins["us_trig"], pins["us_echo"], self.distance,
                                          temp_c=temp_c)
        simworld.watch(self.valve, self._on_valve)
        self.deposits = deposits
        self.levels = None
        if deposits is None:
            self._next_bag()
            return
        self.capacity_l = float(capacity_l)
        self.levels = [[simclock.wall_us() / 1e6, level]]
        self._dep_i = 0
        self._next_deposit()

    # ---- what the ranger sees ----

    def distance(self, t_s=None):
        d = self.empty_m - self.level * (self.empty_m - self.full_m)
        return d if d > 0.03 else 0.03

    # ---- people ----

    def _rate_per_h(self):
        hour = ((simclock.wall_us() // 1_000_000 + self.tz_s) // 3600) % 24
        return self.profile[hour] * self.scale

    def _next_bag(self):
        rate = self._rate_per_h()
        u = simworld.rand()
        gap_s = -math.log(1.0 - u) * 3600 / rate if rate > 0 else 3600
        # re-read the hourly rate at least every 15 minutes
        if gap_s > 900:
            simclock.after_ms(900_000, self._next_bag)
            return
        simclock.after_ms(int(gap_s * 1000) + 1, self._drop)

    def _drop(self):
        self.bags += 1
        self._set_level(self.level + self.bag)
        self._next_bag()

    def _next_deposit(self):
        dep = self.deposits
        i = self._dep_i
        while i < len(dep) and dep[i][0] * 1e6 < simclock.wall_us():
            i += 1  # before the board's clock started: not this bin's to see
        self._dep_i = i
        if i < len(dep):
            t_us = simclock.now_us() + int(dep[i][0] * 1e6 - simclock.wall_us())
            simclock.at_us(t_us, self._deposit)

    def _deposit(self):
        self.bags += 1
        self._set_level(self.level + self.deposits[self._dep_i][1] / self.capacity_l)
        self._dep_i += 1
        self._next_deposit()

    def _set_level(self, lv):
        self.level = lv
        if self.levels is not None:
            self.levels.append([simclock.wall_us() / 1e6, lv])
        if lv > self.max_level:
            self.max_level = lv
        now = simclock.now_ms()
        if lv > OVERFLOW and self._over_since is None:
            self._over_since = now
        elif lv <= OVERFLOW and self._over_since is not None:
            self.overflow_ms += now - self._over_since
            self._over_since = None

    # ---- the valve ----

    def _on_valve(self, g, level):
        opening = level == self.valve_on
        wall_ms = simclock.wall_us() // 1000
        if opening:
            self.opens.append([wall_ms, None])
            simclock.after_ms(self.travel_ms, simworld.drive, self.pos, 1 - self.pos_closed)
            self._empty_ev = simclock.after_ms(self.discharge_ms, self._emptied)
        else:
            if self.opens and self.opens[-1][1] is None:
                self.opens[-1][1] = wall_ms
            simclock.after_ms(self.travel_ms, simworld.drive, self.pos, self.pos_closed)
            if self._empty_ev is not None:
                simclock.cancel(self._empty_ev)
                self._empty_ev = None

    def _emptied(self):
        self._empty_ev = None
        if not self.jammed:
            self.discharges += 1
            self._set_level(RESIDUE)

    def summary(self):
        over = self.overflow_ms
        if self._over_since is not None:
            over += simclock.now_ms() - self._over_since
        return {"level": round(self.level, 3), "max_level": round(self.max_level, 3),
                "bags": self.bags, "discharges": self.discharges, "opens": self.opens,
                "overflow_ms": over}
