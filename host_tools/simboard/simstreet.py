# Plays a street world's stimuli.json on the simulated board, and records what the device did
# for the street's accounting (host_tools/street). Runs under the MicroPython unix port (and
# CPython). boot_device.py uses it with stimuli=FILE and history=FILE.
#
# stimuli.json (host_tools.street.world.World.stimuli_for): times are UTC epoch seconds, the
# scenario's wall clock. They map to the board's virtual clock through simclock's wall clock
# (set by boot_device from wall0/real0), so every device of a street sees one scenario time.
#   streetlight: "lux" [[wall s, lux], ...] steps -> the light sensor's ADC pin in mV through
#                the config's calibration (lux = (mV - adc_offset_mv) * adc_lux_per_mv);
#                "motion" [[wall s, width ms], ...] -> high pulses on the motion pin
#   inlet:       "deposits" [[wall s, litres], ...] into a simbin.Bin of "capacity_l",
#                starting at "start_level"
# Each list is fed one event at a time (the next is scheduled when one fires), so a busy
# night never fills the scheduler; what lies before the board's clock started is skipped
# (a lux step before it sets the starting level).
#
# History: a night of 50 ms fade steps is hundreds of thousands of PWM entries, more than
# this process should hold, so every DRAIN_S the lamp's PWM history is folded into a
# compressed record of level changes (two flat arrays: 12 bytes a change, where a list of
# pairs costs several times that) and dropped from the board's record. A change is kept
# when the level moved TOL_PCT or more since the last kept one, when it crosses one of the
# boost levels (so "at boost from" is exact to the entry), or when it held SETTLE_MS or more
# (the end of a ramp or fade, so no level is off by more than TOL_PCT for longer than a
# ramp step, and never at rest). The inlet's requests to the station are sampled every
# DRAIN_S (they change a few times a day).
import json
import math
from array import array

import simclock
import simworld

DRAIN_S = 60
TOL_PCT = 2.0
SETTLE_MS = 200
ADC_MAX_MV = 3100  # full scale at 11 dB: a brighter sky reads as this


class _Feed:
    """Plays [[wall s, ...], ...] in time order, one scheduled event at a time."""

    def __init__(self, items, fn):
        self.items = items
        self.fn = fn
        self.i = 0
        self.done = 0

    def start(self):
        self._next()

    def _next(self):
        if self.i < len(self.items):
            simclock.at_us(_us(self.items[self.i][0]), self._fire)

    def _fire(self):
        item = self.items[self.i]
        self.i += 1
        self.done += 1
        self.fn(item)
        self._next()


def _us(wall_s):
    """World time (µs) at which the board's wall clock reads wall_s."""
    return int(wall_s * 1e6 - (simclock.wall_us() - simclock.now_us()))


def _wall():
    return simclock.wall_us() / 1e6


class Street:
    def __init__(self, stimuli_path, board, cfg):
        with open(stimuli_path) as f:
            st = json.load(f)
        self.st = st
        self.role = st["role"]
        self.pins = board["pins"]
        self.cfg = cfg
        self.bin = None
        self.lamp_t = array("d")  # wall s of each kept level change (see above)
        self.lamp_v = array("f")  # ... and the level, %
        self._last = None  # the last kept level
        self.pulses = 0  # motion pulses put on the pin
        self.detections = array("d")  # wall s of the agent's own motion detections
        self.requests = []  # [[wall s, request]] (inlet)
        self.link = []  # [[wall s, up]] sampled every DRAIN_S
        self.agent = None
        self._pend = None
        self._hi = 0
        now = _wall()
        if self.role == "streetlight":
            light = cfg["light"]
            self.curve = light.get("curve", "log")
            self.marks = (light.get("boost_pct", 100), light.get("late_boost_pct", 80))
            self.off_mv = light.get("adc_offset_mv", 0)
            self.lux_per_mv = light.get("adc_lux_per_mv", 0.1)
            lux = st["lux"]
            i = 0
            while i + 1 < len(lux) and lux[i + 1][0] <= now:
                i += 1
            if lux:
                self._lux(lux[i])
            self.lux_feed = _Feed(lux[i + 1:], self._lux)
            motion = [p for p in st["motion"] if p[0] + p[1] / 1000 > now]
            self.motion_feed = _Feed(motion, self._pulse)
            self.lux_feed.start()
            self.motion_feed.start()
        else:
            import simbin

            inlet = cfg["inlet"]
            self.bin = simbin.Bin(self.pins, board.get("active_low", ()),
                                  empty_m=inlet.get("empty_m", 1.2),
                                  full_m=inlet.get("full_m", 0.35), level=st["start_level"],
                                  deposits=st["deposits"], capacity_l=st["capacity_l"])
        simclock.after_ms(DRAIN_S * 1000, self._drain_tick)

    # ---- playing the world ----

    def _lux(self, step):
        mv = step[1] / self.lux_per_mv + self.off_mv
        simworld.set_adc_mv(self.pins["light_adc"], mv if mv < ADC_MAX_MV else ADC_MAX_MV)

    def _pulse(self, p):
        self.pulses += 1
        width = p[1]
        late_ms = int((_wall() - p[0]) * 1000)  # a pulse already under way at boot
        if late_ms > 0:
            width -= late_ms
        if width > 0:
            n = self.pins["motion"]
            simworld.drive(n, 1)
            simclock.after_ms(width, simworld.drive, n, 0)

    # ---- watching the agent ----

    def watch(self, agent):
        """Count the agent's own motion detections (the pole saw someone)."""
        self.agent = agent
        core = _core(agent)
        if core is None or self.role != "streetlight":
            return
        own = core.own_motion
        det = self.detections

        def counted(now_ms):
            det.append(_wall())
            own(now_ms)

        core.own_motion = counted

    def _drain_tick(self):
        self.drain()
        simclock.after_ms(DRAIN_S * 1000, self._drain_tick)

    def drain(self):
        """Fold the board's PWM record into self.lamp; sample requests and the link."""
        now = round(_wall(), 3)
        for n in self.pins.values():  # a night of LED blinks and pulses: nobody reads them
            if n is not None:
                h = simworld.gpio(n).history
                if len(h) > 1:
                    del h[:-1]
        agent = self.agent
        if agent is not None and agent.comms is not None:
            up = bool(agent.comms.link.up)
            if not self.link or self.link[-1][1] != up:
                self.link.append([now, up])
        if self.role != "streetlight":
            core = _core(agent)
            if core is not None:
                req = core.request
                if not self.requests or self.requests[-1][1] != req:
                    self.requests.append([now, req])
            return
        g = simworld.gpio(self.pins["lamp_pwm"])
        hist = g.pwm_hist
        off = simclock.wall_us() - simclock.now_us()
        for t_us, _, frac in hist:
            self._add((t_us + off) / 1e6, self._level(frac))
        del hist[:]

    def _level(self, frac):
        pct = frac * 100
        if pct <= 0:
            return 0.0
        if self.curve == "log" and pct < 100:  # output = 10 ** (0.03 * level - 1)
            return round((math.log10(pct) + 1) / 0.03, 2)
        return round(pct, 2)

    def _keep(self, t, pct):
        self.lamp_t.append(t)
        self.lamp_v.append(pct)
        self._last = pct

    def _add(self, t, pct):
        pend = self._pend
        if pend is not None and (t - pend[0]) * 1000 >= SETTLE_MS:
            self._keep(pend[0], pend[1])  # it held: the end of a ramp or a fade
        self._pend = None
        if pct > self._hi:
            self._hi = pct
        last = self._last
        if last is None:
            self._keep(t, pct)
            return
        crossed = False
        for m in self.marks:
            if (pct >= m) != (last >= m):
                crossed = True
        if crossed or abs(pct - last) >= TOL_PCT:
            self._keep(t, pct)
        elif pct != last:
            self._pend = (t, pct)

    # ---- the end ----

    def lamp_max_pct(self):
        return self._hi

    def lamp_last_pct(self):
        return self._last if self._last is not None else 0

    def write(self, path):
        """Write the history as JSON: history() plus, for a pole, "lamp" [[wall s, %]] and
        "detections" [wall s], streamed from their arrays (a night's worth would be a large
        list of small lists in memory)."""
        h = self.history()
        with open(path, "w") as f:
            f.write(json.dumps(h)[:-1])
            if self.role == "streetlight":
                f.write(', "lamp": [')
                tv, vv = self.lamp_t, self.lamp_v
                for i in range(len(tv)):
                    f.write("%s[%.3f, %.2f]" % ("," if i else "", tv[i], vv[i]))
                f.write('], "detections": [')
                det = self.detections
                for i in range(len(det)):
                    f.write("%s%.3f" % ("," if i else "", det[i]))
                f.write("]")
            f.write("}")

    def history(self):
        """What the device did, as JSON-able data, without a pole's lamp and detection
        records (write() adds them)."""
        self.drain()
        if self._pend is not None:
            self._keep(self._pend[0], self._pend[1])
            self._pend = None
        h = {"id": self.st["id"], "role": self.role, "start_wall": self.st["start_wall"],
             "end_wall": round(_wall(), 3), "link": self.link}
        core = _core(self.agent)
        if self.role == "streetlight":
            h.update({"lamp_max_pct": self._hi, "motion_pulses": self.pulses})
            if core is not None:
                e = core.energy
                h["energy"] = {"wh": round(e.wh, 3), "burn_s": e.burn_s,
                               "switches": e.switches, "last_night": e.last_night}
                h["state"] = core.state()
        else:
            b = self.bin
            h.update({"levels": [[round(t, 3), round(lv, 4)] for t, lv in b.levels],
                      "opens": [[o[0] / 1000, None if o[1] is None else o[1] / 1000]
                                for o in b.opens],
                      "discharges": b.discharges, "deposits": b.bags,
                      "overflow_ms": b.summary()["overflow_ms"], "requests": self.requests})
            if core is not None:
                h["state"] = core.state()
        return h


def _core(agent):
    if agent is None or agent.role_impl is None:
        return None
    return agent.role_impl.core
