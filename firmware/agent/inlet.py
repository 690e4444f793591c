# The waste inlet's decisions (pure): fill level from ranging, the forecast, when to ask the
# vacuum station for emptying, and the discharge sequence (agent.discharge).
#
# Request policy, from the best estimate of the fill level now:
#   must   at or above must_go: at once, day or night, in or out of the cheap window
#   may    at or above may_go, or the forecast reaches must_go within lead_min (not in quiet
#          hours); inside the cheap-energy window when one is set (unless must_go would be
#          reached before the window opens). An hour (lead_min) before quiet hours begin, a
#          bin that would reach must_go during them asks now. The station starts no fan for a
#          may-go alone: "may" means "take me along in a run" (host_tools/station).
#   none   otherwise.
# With no valid reading the level is extrapolated from the last good one along the forecast,
# so a bin whose sensor dies while filling still asks in time; with no local time, every hour
# counts as quiet (only must-go), because a fan run at night is worse than one run too few.
# Every input arrives as an argument; nothing here reads a clock or a pin.
from micropython import const

from agent import civil, ranging, vacuum
from agent.civil import minutes
from agent.discharge import CHECKING, FAULT, Discharge
from agent.fill import Forecast, Level, clamp01
from agent.sched import ticks_add, ticks_diff
from agent.vacuum import REQ_MAY, REQ_MUST, REQ_NONE, STEP_DONE

# status values: "ok" as in the FIWARE WasteContainer model; the others are ours
ST_OK, ST_SENSOR, ST_VALVE, ST_JAMMED = "ok", "sensorFault", "valveFault", "jammed"
SENSOR_FAULT_AFTER = const(3)  # invalid readings in a row before the sensor counts as faulty
REDO_MAX_MS = const(3600000)  # the request is worked out at least this often


def _minutes_until(m, target):
    return (target - m) % 1440


def policy(level, t_must_s, must_go, may_go, lead_s, local_minute, quiet, cheap):
    """The request for a best-estimate fill level (None: unknown) and the forecast seconds to
    must_go (None: unknown). quiet/cheap: (from, to) local minutes; local_minute None when
    the time is unknown."""
    if level is None:
        return REQ_NONE
    if level >= must_go:
        return REQ_MUST
    m = local_minute
    if m is None:
        return REQ_NONE
    if civil.in_window(m, quiet[0], quiet[1]):
        # A may-go never starts a fan by itself (the station waits for a must-go), so at night
        # it only lets the bin join a run that a must-go started anyway: one night run fewer.
        return REQ_MAY if level >= may_go else REQ_NONE
    horizon = lead_s
    if _minutes_until(m, quiet[0]) * 60 <= lead_s and quiet[0] != quiet[1]:
        horizon = _minutes_until(m, quiet[1]) * 60  # through the coming quiet hours
    soon = t_must_s is not None and t_must_s <= horizon
    if cheap[0] != cheap[1] and not civil.in_window(m, cheap[0], cheap[1]):
        # outside the cheap window: only if must_go would come before the window opens
        early = t_must_s is not None and t_must_s <= _minutes_until(m, cheap[0]) * 60
        return REQ_MAY if early and (level >= may_go or soon) else REQ_NONE
    return REQ_MAY if level >= may_go or soon else REQ_NONE


class Inlet:
    def __init__(self, inlet, now_ms):
        self.cfg = inlet
        self.level_cal = Level(inlet["empty_m"], inlet["full_m"], inlet["relearn_tol_m"],
                               inlet["blind_m"])
        # Stale after 5 missed readings (at least 30 min): a dead sensor ends the forecast.
        stale_ms = inlet["sample_s"] * 5000
        self.forecast = Forecast(stale_ms=stale_ms if stale_ms > 1800000 else 1800000)
        self.discharge = Discharge(inlet["open_s"], inlet["max_open_s"],
                                   inlet["valve_travel_ms"], inlet["vacuum_check"],
                                   inlet["emptied_level"], now_ms)
        self.quiet = (minutes(inlet["quiet_from"]), minutes(inlet["quiet_to"]))
        self.cheap = (minutes(inlet["cheap_from"]), minutes(inlet["cheap_to"]))
        self.lead_s = inlet["lead_min"] * 60
        self.local_clock = civil.MinuteClock(inlet["tz_offset_min"], inlet["dst"])
        # what the last reading / step decided (for state, telemetry and tests)
        self.distance_m = None
        self.quality = None  # ranging quality of the last reading
        self.bad_in_row = 0
        self.level = None  # fill level of the last valid readings (median, not clamped)
        # The best estimate now (see the estimate property) as of the last step, worked out
        # only when something needs it: a control step in which no input changed costs no
        # float arithmetic (on the chip every float result is a heap object).
        self._est = None
        self._est_ok = True  # _est is the estimate at _now
        self._now = now_ms  # now_ms of the last step
        self._redo = True  # an input of the request changed: work it out at the next step
        self._redo_at = now_ms  # ... and at the latest then (the estimate reaches a threshold)
        self._moved = True  # the forecast changed since _t_must was worked out
        self._t_must = None  # forecast seconds to must_go (None: unknown)
        self.last_est = None  # the last estimate the forecast gave, when, and the last rate
        self.last_est_ms = now_ms
        self.last_rate = 0.0
        self.temp_c = None
        self.request = REQ_NONE
        self.failed = 0  # discharges in a row after which the level did not drop
        self.jammed = False
        self.fresh = None  # a valid level read since the last step (for the level check)
        self.local_minute = None
        self.events = []  # (name, fields) for the shell to publish; drained by the shell

    # ---- inputs ----

    def reading(self, now_ms, distance_m, quality, temp_c):
        """One ranging result (agent.ranging: distance or None, and its quality)."""
        self._fix_estimate()  # the estimate as of the last step, before the forecast moves
        self._redo = self._moved = True
        self.temp_c = temp_c
        self.distance_m = distance_m
        if quality != self.quality:
            self.events.append(("ranger", {"quality": quality}))
            self.quality = quality
        if quality == ranging.BLIND:
            # Waste nearer than the blind zone: at least as full as a surface at blind_m,
            # which is at or above full (the config keeps full_m outside the blind zone). An
            # overfull bin must ask, not go quiet; a hand is a spike the median drops.
            lv = self.level_cal.level(self.level_cal.blind_m)
        elif distance_m is None or quality != ranging.OK:
            self.bad_in_row += 1
            self.forecast.add(now_ms, None)
            return
        else:
            lv = self.level_cal.level(distance_m)
        self.bad_in_row = 0
        if self.discharge.phase == CHECKING:
            self.fresh = lv  # the level check after a discharge takes this one reading
            return
        # The forecast's running median: a hand or a falling bag in the beam for one or
        # two readings does not move the level (a bag that stays does, on the third).
        robust = self.forecast.add(now_ms, lv)
        self.level = robust if robust is not None else lv

    def grant(self, cycle, ttl_s, vac, now_ms):
        return self.discharge.grant(cycle, ttl_s, vac, now_ms, self.request != REQ_NONE,
                                    self.estimate)

    # ---- one control step ----

    def step(self, now_ms, utc_s, closed, vacuum_input, link_up):
        """Returns the longest wait (ms) before the next step is needed.

        The request is worked out again only when one of its inputs may have changed: a
        reading came, the local minute turned, the discharge did something, or the time came
        when the estimate (growing along the fill rate) reaches may_go or must_go, or an hour
        passed. Otherwise a step allocates nothing."""
        cfg = self.cfg
        minute = self.local_clock.at(utc_s) if utc_s is not None else None
        if minute != self.local_minute:
            self.local_minute = minute
            self._redo = True
        self._now = now_ms
        self._est_ok = False
        d = self.discharge
        fresh, self.fresh = self.fresh, None
        wait = d.step(now_ms, closed, vacuum_input, link_up, fresh)
        if d.events:
            self._est = self._estimate(now_ms)  # before the discharge's outcome moves it
            self._est_ok = True
            if self._after_discharge(now_ms):
                self._est = self._estimate(now_ms)  # the request must not say "must" still
            self._redo = self._moved = True
        elif not self._redo and ticks_diff(now_ms, self._redo_at) < 0:
            return wait
        est = self.estimate
        if self._moved:  # the forecast's own time to must_go depends on the forecast only
            self._t_must = self.forecast.time_to(cfg["must_go"]) if est is not None else None
        self._redo = self._moved = False
        self.request = policy(est, self._t_must, cfg["must_go"], cfg["may_go"], self.lead_s,
                              self.local_minute, self.quiet, self.cheap)
        self._redo_at = ticks_add(now_ms, self._until_threshold(est))
        return wait

    @property
    def estimate(self):
        """The fill level now (as of the last step): the spike-proof median carried along the
        fill rate (see _estimate), None while unknown."""
        self._fix_estimate()
        return self._est

    def _fix_estimate(self):
        if not self._est_ok:
            self._est = self._estimate(self._now)
            self._est_ok = True

    def _rate_now(self):
        """The rate (per hour, >= 0) the estimate grows at until the next reading."""
        if self.forecast.level is not None:
            r = self.forecast.rate_per_h
            return 0.0 if r is None else r
        return 0.0 if self.last_est is None else self.last_rate

    def _until_threshold(self, est):
        """ms until the estimate may reach the nearer of may_go and must_go above it (the
        request's only thresholds in the level), at most an hour. Early rather than late:
        a second, and while within 1e-6 of a threshold (float32 rounding) every step."""
        cfg = self.cfg
        if est is None:
            return REDO_MAX_MS
        may, must = cfg["may_go"], cfg["must_go"]
        nxt = may if est < may else None
        if est < must and (nxt is None or must < nxt):
            nxt = must
        rate = self._rate_now()
        if nxt is None or not rate > 0:
            return REDO_MAX_MS
        ms = (nxt - est - 1e-6) / rate * 3600000 - 1000
        return 0 if ms < 0 else (REDO_MAX_MS if ms >= REDO_MAX_MS else int(ms))

    def _estimate(self, now_ms):
        """The fill level now: the spike-proof median carried along the fill rate (also
        across invalid readings). With the sensor dead beyond the forecast's staleness, the
        last estimate goes on growing at the last known rate: a timetable, the inlet's
        fallback as the sun clock is the streetlight's."""
        lv = self.forecast.level_at(now_ms)
        if lv is not None:
            self.last_est, self.last_est_ms = lv, now_ms
            rate = self.forecast.rate_per_h
            if rate is not None:
                self.last_rate = rate
            return lv
        if self.last_est is None:
            return self.level
        # grown step by step: one ticks_diff over days would wrap
        self.last_est += self.last_rate * ticks_diff(now_ms, self.last_est_ms) / 3600000
        self.last_est_ms = now_ms
        return self.last_est

    def _after_discharge(self, now_ms):
        """Turn the discharge's events into our bookkeeping (and pass them on)."""
        d = self.discharge
        finished = False
        while d.events:
            name, fields = d.events.pop(0)
            self.events.append((name, fields))
            if name != "discharge" or fields.get("step") != STEP_DONE:
                continue
            finished = True
            emptied = fields.get("emptied")
            if fields.get("why") is not None and not emptied:
                continue  # cut short (vacuum or link lost...): neither a failure nor emptied
            if emptied:
                self.failed = 0
                if self.jammed:
                    self.jammed = False
                    self.events.append(("jam", {"suspected": False}))
                self.forecast.reset()
                if self.distance_m is not None:
                    self.level_cal.relearn_empty(self.distance_m)
                    self.level = self.level_cal.level(self.distance_m)
                    self.forecast.add(now_ms, self.level)
            elif emptied is None and self.last_est is not None:
                # No reading to check with: assume the discharge worked, so a dead sensor
                # does not call the fans again and again; the timetable starts from empty.
                self.last_est, self.last_est_ms = 0.0, now_ms
            elif emptied is False:
                self.failed += 1
                if self.failed > self.cfg["retries"] and not self.jammed:
                    self.jammed = True
                    self.events.append(("jam", {"suspected": True, "failed": self.failed}))
        return finished

    # ---- reporting ----

    def status(self):
        if self.discharge.phase == FAULT:
            return ST_VALVE
        if self.jammed:
            return ST_JAMMED
        if self.bad_in_row >= SENSOR_FAULT_AFTER:
            return ST_SENSOR
        return ST_OK

    def filling(self):
        return clamp01(self.estimate)

    def state(self):
        f = self.forecast
        lv = self.filling()
        ttf = f.time_to(1.0) if self.estimate is not None else None
        st = vacuum.request_fields(
            self.request, self.cfg["priority"], None if ttf is None else int(ttf),
            None if ttf is None or f.ttf_err_s is None else int(f.ttf_err_s))
        st.update({"branch": self.cfg["branch"],
                   "fillingLevel": None if lv is None else round(lv, 3),
                   "status": self.status(), "discharge": self.discharge.phase,
                   "valve": self.discharge.valve,
                   "temperature": None if self.temp_c is None else round(self.temp_c, 1),
                   "ranger": self.quality})
        return st
