"""In-process agents: the firmware's pure cores behind thin host shells, one object each.

What runs is the firmware's own code (imported from firmware/agent, unchanged):
  agent.sched.Scheduler    each agent's tasks and deadlines (its own instance)
  agent.streetlight        every lighting decision (with sensing, dimmer, energy, profile,
                           astro, civil, selfcheck beneath it)
  agent.output             the slew-rate ramp and the PWM duty curve
  agent.inlet              every inlet decision (with fill, discharge, vacuum, civil)
  agent.ranging.Burst      how pings become a reading
  agent.vacuum             the station's messages parsed as the inlet parses them
  (and, in inprocess_link, agent.topics, agent.message, agent.outbox, agent.backoff)
The roles' state deadbands are read from the shells' source (Pole/Chute.state_deadbands).

What is re-created here, line for line from the shells (agent.app, agent.pole,
agent.chute, agent.ranger), because those touch machine/time and the simulated board is one
per interpreter: the loop (run_due, then sleep until the next deadline in 100 ms slices that
an interrupt's poke cuts short, woken at once when the session has bytes:
agent.app._idle), the pole's control/telemetry tasks and its ISR, the chute's
valve/ranging tasks, the valve backstop timer, the ADC's conversion (12 bits at 11 dB, as
the simulated board reads it). Not re-created: the status LED, the watchdog, the heartbeat's
gc and console line, safe mode and crash records, config files and commands. Firmware code
takes no virtual time here: a ping or a loop pass is instantaneous (on the simulated board
it takes the host's time, paced).

The world side re-creates host_tools/simboard/simstreet.py and simbin.py (deposit mode):
the same stimuli.json lists played on the pins, the same history dict recorded.
"""

import json
import math
from array import array

from agent import ranging, vacuum
from agent.discharge import CHECKING
from agent.inlet import Inlet
from agent.output import Ramp, duty_u16
from agent.sched import Scheduler, Uptime, ticks_diff
from agent.streetlight import Streetlight

from .inprocess_link import HostComms, firmware_method_literal, publish_events

# agent.pole's constants (tests/host/test_inprocess.py checks them against its source)
CONTROL_MS = 1000
FAST_MS = 50
TELEMETRY_MS = 60000
SMOOTH_PCT_PER_S = 200
# agent.app's
IDLE_SLICE_MS = 100
AGAIN_MAX = 4  # passes at the same ms before the other agents get their turn
LINK_TURN_MS = 250  # agent.link._serve asks for the next service this much later when idle
LINK_PERIOD_MS = 1000
# agent.chute's
STALE_GRANT_S = 5
# The simulated board's ADC at 11 dB (host_tools/simboard/machine.py _FULL_SCALE_MV[3]).
ADC_FULL_MV = 3100
# simstreet.py's history rules
DRAIN_S = 60
TOL_PCT = 2.0
SETTLE_MS = 200
# simbin.py's model of the chute (deposit mode)
OVERFLOW = 1.0
RESIDUE = 0.02
TRAVEL_MS = 600
DISCHARGE_MS = 2000
BIN_TEMP_C = 15.0
NO_ECHO_US = 38000
MAX_RANGE_M = 4.0
TICKS_MASK = (1 << 30) - 1


class HostAgent:
    """agent.app.Agent's loop for one device, on the engine's shared clock."""

    def __init__(self, engine, cfg, board, stimuli, wire, wall0, boot_ms, seed):
        self.engine = engine
        self.cfg = cfg
        self.board = board
        self.wall0 = wall0  # scenario wall time (s) at engine time 0
        self.boot_ms = boot_ms
        self.role = cfg["device"]["role"]
        self.id = cfg["device"]["id"]
        self.stimuli = stimuli
        self.role_impl = None
        self._token = 0
        self.sleep_from = boot_ms
        self.due_at = boot_ms
        self.wakes = 0
        self.loop_us_max = 0
        self.link_samples = []
        self.comms = None
        self._rx = False  # the wire has something for the link (agent.app._idle's poll)
        self._running = False
        self._link_i = -1
        self._seed = seed
        self._wire = wire
        engine.at(boot_ms, self._boot)

    # ---- clocks ----

    def ticks(self):
        return (self.engine.now - self.boot_ms) & TICKS_MASK

    def wall(self):
        return self.wall0 + self.engine.now / 1000

    def wall_s(self):
        return int(self.wall0 + self.engine.now // 1000)

    # ---- boot and the loop ----

    def _boot(self):
        now = self.ticks()
        self.up = Uptime(now)
        self.sched = Scheduler(now)
        loop = self.cfg["loop"]
        self.sched.add("heartbeat", loop["heartbeat_s"] * 1000, self._heartbeat)
        self.comms = HostComms(self, self.cfg, now, self._wire, self._seed)
        self.comms.link.poke = self.arrived
        self.comms.event({"event": "boot", "reset": "host", "degraded": False,
                          "safe_mode": False}, now)
        if self.role == "streetlight":
            self.role_impl = HostPole(self, now)
        else:
            self.role_impl = HostInlet(self, now)
        # Last (agent.app adds it before the role's): a role task that calls serve_link()
        # has the link served in the same pass, not one pass later.
        self.sched.add("link", LINK_PERIOD_MS, self.comms.service)
        self._link_i = len(self.sched.names) - 1
        mqtt = self.cfg["mqtt"]
        self._slice_up = min(IDLE_SLICE_MS, mqtt["op_timeout_ms"])
        self.engine.after(DRAIN_S * 1000, self._drain_tick)
        self._sleep(0)
        return False

    def _wake(self, token):
        if token != self._token:
            return False  # superseded by a poke
        sched = self.sched
        now = self.ticks()
        if sched.poked:
            sched.poked = False
            sched.wake(sched.poked_name, now)
        if self._rx:  # agent.app._idle: the socket was readable, wake the link
            self._rx = False
            sched.due[self._link_i] = now
        self.wakes += 1
        self._running = True
        wait = sched.run_due(now)
        # agent.app's loop goes round at once when a task was woken (a message handed to
        # the role): the same virtual ms, so again here rather than through the heap
        again = 0
        while wait == 0 and again < AGAIN_MAX:
            again += 1
            if self._rx:
                self._rx = False
                sched.due[self._link_i] = now
            wait = sched.run_due(now)
        self._running = False
        self._sleep(0 if self._rx else wait)
        return True

    def arrived(self):
        """The wire has something for the link (a message, a PUBACK, up or lost): the
        firmware's idle poll on the session socket returns at once, so the agent wakes now
        (in the pass running now, the link is served after it instead)."""
        self._rx = True
        if self._running:
            return
        t = self.engine.io_now_ms()
        if t < self.due_at:
            self._token += 1
            self.due_at = t
            self.engine.at(t, self._wake, self._token)

    def serve_link(self, now_ms):
        """A role task ran (its state or events may have changed): the link's service runs
        later in this pass, if its firmware turn (every LINK_TURN_MS while up) has come;
        else the next role step looks again (a pole steps at least once a second)."""
        i = self._link_i
        if i >= 0 and ticks_diff(now_ms, self.comms.served_ms) >= LINK_TURN_MS:
            self.sched.due[i] = now_ms

    def _sleep(self, wait):
        self._token += 1
        self.sleep_from = self.engine.now
        self.due_at = self.engine.now + wait
        self.engine.at(self.due_at, self._wake, self._token)

    def poked(self):
        """An ISR poked the scheduler: agent.app._idle notices at the end of its slice."""
        now = self.engine.now
        step = self._slice_up if self.comms is not None and self.comms.link.up \
            else IDLE_SLICE_MS
        t = self.sleep_from + ((now - self.sleep_from) // step + 1) * step
        if t < self.due_at:
            self._token += 1
            self.due_at = t
            self.engine.at(t, self._wake, self._token)

    def _heartbeat(self, now_ms):
        self.comms.publish_diag(now_ms)

    def _drain_tick(self):
        self.drain()
        self.engine.after(DRAIN_S * 1000, self._drain_tick)
        return False

    def drain(self):
        up = bool(self.comms is not None and self.comms.link.up)
        if not self.link_samples or self.link_samples[-1][1] != up:
            self.link_samples.append([round(self.wall(), 3), up])
        if self.role_impl is not None:
            self.role_impl.drain()

    # ---- what comms asks of the agent ----

    def state(self):
        st = {"role": self.role, "problems": 0, "health": "ok", "safe_mode": False}
        if self.role_impl is not None:
            st.update(self.role_impl.core.state())
        return st

    def state_deadbands(self):
        return self.role_impl.DEADBANDS if self.role_impl is not None else {}

    def peer_message(self, payload, now_ms):
        if self.role_impl is not None:
            self.role_impl.peer_message(payload, now_ms)

    def history(self):
        self.drain()
        h = {"id": self.id, "role": self.role, "start_wall": self.stimuli["start_wall"],
             "end_wall": round(self.wall(), 3), "link": self.link_samples,
             "in_process": True}
        if self.role_impl is not None:
            self.role_impl.history(h)
        return h


def _feed(engine, agent, items, fn):
    """Play [[wall s, ...], ...] one event at a time (simstreet._Feed)."""
    state = {"i": 0}

    def fire():
        item = items[state["i"]]
        state["i"] += 1
        fn(item)
        nxt()
        return False

    def nxt():
        if state["i"] < len(items):
            engine.at(int(math.floor((items[state["i"]][0] - agent.wall0) * 1000)), fire)

    nxt()


class LampRecord:
    """simstreet's compressed lamp history: a change kept when it moved TOL_PCT or more,
    crossed a boost level, or held SETTLE_MS or more."""

    def __init__(self, marks):
        self.marks = marks
        self.t = array("d")
        self.v = array("f")
        self.last = None
        self.pend = None
        self.hi = 0.0

    def _keep(self, t, pct):
        self.t.append(t)
        self.v.append(pct)
        self.last = pct

    def add(self, t, pct):
        pend = self.pend
        if pend is not None and (t - pend[0]) * 1000 >= SETTLE_MS:
            self._keep(pend[0], pend[1])
        self.pend = None
        if pct > self.hi:
            self.hi = pct
        last = self.last
        if last is None:
            self._keep(t, pct)
            return
        crossed = any((pct >= m) != (last >= m) for m in self.marks)
        if crossed or abs(pct - last) >= TOL_PCT:
            self._keep(t, pct)
        elif pct != last:
            self.pend = (t, pct)

    def flush(self):
        if self.pend is not None:
            self._keep(self.pend[0], self.pend[1])
            self.pend = None

    def pairs(self):
        # as simstreet writes them: "%.3f" and "%.2f"
        return [[round(t, 3), round(float(v), 2)] for t, v in zip(self.t, self.v, strict=True)]


def level_of_duty(duty, curve):
    """The level a PWM duty reads back as (simstreet._level)."""
    pct = duty / 65535 * 100
    if pct <= 0:
        return 0.0
    if curve == "log" and pct < 100:
        return round((math.log10(pct) + 1) / 0.03, 2)
    return round(pct, 2)


class HostPole:
    """agent.pole.Pole's tasks and ISR around agent.streetlight.Streetlight."""

    DEADBANDS = firmware_method_literal("pole.py", "Pole", "state_deadbands")

    def __init__(self, agent, now_ms):
        self.agent = agent
        cfg = agent.cfg
        light = cfg["light"]
        self.light = light
        self.core = Streetlight(light, now_ms, sensor="adc")
        self._curve = light["curve"]
        self._invert = light["invert_output"]
        self.ramp = Ramp(SMOOTH_PCT_PER_S)
        self.duty = -1
        self._level = None
        self._debounce_ms = light["motion_debounce_ms"] + FAST_MS
        self.rise_ms = 0
        self.confirming = False
        self.sched = agent.sched
        self._grouped = cfg["mqtt"]["group"] != ""
        self.lamp = LampRecord((light.get("boost_pct", 100), light.get("late_boost_pct", 80)))
        self.pulses = 0
        self.detections = array("d")
        self.pin_high = False
        self.mv = 0.0
        self._raw12 = -1
        self.raw = None
        self.lux = None
        self._set_duty(duty_u16(0, self._curve, self._invert))
        own = self.core.own_motion
        det = self.detections

        def counted(now_ms):  # as simstreet.watch counts the pole's own detections
            det.append(agent.wall())
            own(now_ms)

        self.core.own_motion = counted
        self.sched.add("control", CONTROL_MS, self._control)
        self.sched.add("telemetry", TELEMETRY_MS, self._telemetry, first_in_ms=TELEMETRY_MS)
        self._play(agent.stimuli)

    # ---- the pins ----

    def _play(self, st):
        agent, engine = self.agent, self.agent.engine
        now = agent.wall()
        lux = st["lux"]
        i = 0
        while i + 1 < len(lux) and lux[i + 1][0] <= now:
            i += 1
        if lux:
            self._lux(lux[i])
        _feed(engine, agent, lux[i + 1:], self._lux)
        motion = [p for p in st["motion"] if p[0] + p[1] / 1000 > now]
        _feed(engine, agent, motion, self._pulse)

    def _lux(self, step):
        light = self.light
        mv = step[1] / light["adc_lux_per_mv"] + light["adc_offset_mv"]
        self.mv = mv if mv < ADC_FULL_MV else ADC_FULL_MV

    def _pulse(self, p):
        self.pulses += 1
        width = p[1]
        late_ms = int((self.agent.wall() - p[0]) * 1000)
        if late_ms > 0:
            width -= late_ms
        if width > 0:
            self._drive(True)
            self.agent.engine.after(width, self._drive, False)

    def _drive(self, high):
        if high != self.pin_high:
            self.pin_high = high
            self._on_edge(high)
        return False

    def _on_edge(self, level):
        now = self.agent.ticks()
        self.core.motion.edge(now, level)
        if level:
            self.rise_ms = now
            self.confirming = True
            self.sched.poke("control")
            self.agent.poked()

    def _read(self):
        """pole.AdcLight.read on the simulated board's 12-bit ADC at 11 dB."""
        mv = self.mv
        raw = 0 if mv <= 0 else int(mv * 4095 / ADC_FULL_MV + 0.5)
        if raw > 4095:
            raw = 4095
        self.raw = (raw << 4) | (raw >> 8)
        if raw != self._raw12:
            self._raw12 = raw
            uv = raw * ADC_FULL_MV * 1000 // 4095
            light = self.light
            lux = (uv / 1000 - light["adc_offset_mv"]) * light["adc_lux_per_mv"]
            self.lux = lux if lux > 0 else 0.0
        return self.lux

    def _set_duty(self, duty):
        self.duty = duty
        self.lamp.add(self.agent.wall(), level_of_duty(duty, self._curve))

    # ---- tasks (agent.pole) ----

    def _control(self, now_ms):
        self.agent.serve_link(now_ms)
        lux = self._read()
        comms = self.agent.comms
        self.core.linked = self._grouped and comms is not None and comms.link.up
        target = self.core.step(now_ms, self.agent.wall_s(), lux, self.raw)
        level = self.ramp.step(target, now_ms)
        if level != self._level:
            self._level = level
            duty = duty_u16(level, self._curve, self._invert)
            if duty != self.duty:
                self._set_duty(duty)
        if self.core.events:
            self._publish_events(now_ms)
        if self.confirming:
            if ticks_diff(now_ms, self.rise_ms) <= self._debounce_ms:
                return FAST_MS
            self.confirming = False
        if self.core.busy(now_ms) or not self.ramp.settled(target):
            return FAST_MS
        return None

    def _publish_events(self, now_ms):
        comms = self.agent.comms
        events = self.core.events
        for name, fields in events:
            if name == "motion":
                comms.peer({"event": "motion", "id": comms.device_id,
                            "pos": self.light["position_m"], "dir": fields["dir"]}, now_ms)
        publish_events(comms, events, now_ms)

    def _telemetry(self, now_ms):
        e = self.core.energy
        self.agent.comms.telemetry({
            "lux": None if self.core.lux is None else round(self.core.lux, 1),
            "level": round(self.core.level, 1), "w": round(e.watts(self.core.level), 1),
            "wh": round(e.wh, 2), "burn_s": e.burn_s, "switches": e.switches}, now_ms)

    def peer_message(self, payload, now_ms):
        try:
            msg = json.loads(payload)
            pos = msg["pos"]
            heading = msg.get("dir", 0)
            if msg.get("id") == self.agent.id or \
                    type(pos) not in (int, float) or heading not in (-1, 0, 1):
                return
        except Exception:  # a neighbour's garbage must not disturb this pole
            return
        self.core.peer_motion(now_ms, pos, heading)
        self.sched.wake("control", now_ms)

    # ---- the history (simstreet) ----

    def drain(self):
        pass

    def history(self, h):
        lamp = self.lamp
        lamp.flush()
        e = self.core.energy
        h.update({"lamp_max_pct": lamp.hi, "motion_pulses": self.pulses,
                  "energy": {"wh": round(e.wh, 3), "burn_s": e.burn_s, "switches": e.switches,
                             "last_night": e.last_night},
                  "state": self.core.state(), "lamp": lamp.pairs(),
                  "detections": [round(t, 3) for t in self.detections]})


class HostRanger:
    """agent.ranger.Ranger.poll around agent.ranging.Burst; the ping's echo from the bin."""

    def __init__(self, inlet_cfg, distance):
        self.gap_ms = max(0, inlet_cfg["ping_gap_ms"])
        self.burst = ranging.Burst(inlet_cfg["pings"], inlet_cfg["blind_m"], inlet_cfg["max_m"],
                                   inlet_cfg["spread_m"])
        self.distance = distance
        self._last_ms = None
        self.fresh = False

    def start(self):
        self.burst.reset()
        self.fresh = False

    def busy(self):
        b = self.burst
        return 0 < b.count < b.n

    def left_ms(self, now_ms):
        if self._last_ms is None:
            return 0
        left = self.gap_ms - ticks_diff(now_ms, self._last_ms)
        return left if left > 0 else 0

    def echo_us(self):
        """simworld.Ultrasonic's echo at BIN_TEMP_C (the street's bins: no noise, no blind
        zone)."""
        d = self.distance()
        if d > MAX_RANGE_M:
            return NO_ECHO_US
        return int(round(2 * d / (331.3 + 0.606 * BIN_TEMP_C) * 1_000_000))

    def poll(self, now_ms, temp_c):
        self.fresh = False
        left = self.left_ms(now_ms)
        if left > 0:
            return left
        burst = self.burst
        if burst.done:
            burst.reset()
        self._last_ms = now_ms
        burst.add(self.echo_us(), temp_c)
        if burst.done:
            burst.measure()
            self.fresh = True
        return self.gap_ms


class HostBin:
    """simbin.Bin in deposit mode: the deposits, the valve's limit switch after its travel,
    the chute emptied while open, and the records the accounting reads."""

    def __init__(self, agent, empty_m, full_m, level, deposits, capacity_l):
        self.agent = agent
        self.engine = agent.engine
        self.empty_m, self.full_m = empty_m, full_m
        self.level = level
        self.capacity_l = float(capacity_l)
        self.levels = [[agent.wall(), level]]
        self.bags = 0
        self.discharges = 0
        self.opens = []
        self.overflow_ms = 0
        self._over_since = None
        self.closed = True  # the limit switch
        self._empty_token = 0
        now = agent.wall()
        _feed(self.engine, agent, [d for d in deposits if d[0] >= now], self._deposit)

    def distance(self):
        d = self.empty_m - self.level * (self.empty_m - self.full_m)
        return d if d > 0.03 else 0.03

    def _deposit(self, dep):
        self.bags += 1
        self._set_level(self.level + dep[1] / self.capacity_l)

    def _set_level(self, lv):
        self.level = lv
        self.levels.append([self.agent.wall(), lv])
        now = self.engine.now
        if lv > OVERFLOW and self._over_since is None:
            self._over_since = now
        elif lv <= OVERFLOW and self._over_since is not None:
            self.overflow_ms += now - self._over_since
            self._over_since = None

    def valve(self, opening):
        wall_ms = int(self.agent.wall() * 1000)
        self._empty_token += 1
        if opening:
            self.opens.append([wall_ms, None])
            self.engine.after(TRAVEL_MS, self._switch, False)
            self.engine.after(DISCHARGE_MS, self._emptied, self._empty_token)
        else:
            if self.opens and self.opens[-1][1] is None:
                self.opens[-1][1] = wall_ms
            self.engine.after(TRAVEL_MS, self._switch, True)

    def _switch(self, closed):
        self.closed = closed
        return False

    def _emptied(self, token):
        if token == self._empty_token:
            self.discharges += 1
            self._set_level(RESIDUE)
        return False

    def overflow_now_ms(self):
        over = self.overflow_ms
        if self._over_since is not None:
            over += self.engine.now - self._over_since
        return over


class HostInlet:
    """agent.chute.Chute's tasks around agent.inlet.Inlet (no thermometer: the street's
    inlets use the configured temperature, as on the simulated board)."""

    DEADBANDS = firmware_method_literal("chute.py", "Chute", "state_deadbands")

    def __init__(self, agent, now_ms):
        self.agent = agent
        inlet = agent.cfg["inlet"]
        self.inlet_cfg = inlet
        self.core = Inlet(inlet, now_ms)
        st = agent.stimuli
        self.bin = HostBin(agent, inlet["empty_m"], inlet["full_m"], st["start_level"],
                           st["deposits"], st["capacity_l"])
        self.ranger = HostRanger(inlet, self.bin.distance)
        self.burst_temp = None
        self.burst_temp_used = inlet["temp_c"]
        self.valve_open = False
        self.backstops = 0
        self.backstops_said = 0
        self._backstop_token = 0
        self.requests = []
        self.sched = agent.sched
        self.sched.add("valve", 1000, self._control)
        self.sched.add("ranging", inlet["sample_s"] * 1000, self._range)

    def _range(self, now_ms):
        self.agent.serve_link(now_ms)
        r = self.ranger
        left = r.left_ms(now_ms)
        if left > 0:
            return left
        if not r.busy():
            self.burst_temp = None
            self.burst_temp_used = self.inlet_cfg["temp_c"]
        wait = r.poll(now_ms, self.burst_temp_used)
        if not r.fresh:
            return wait
        b = r.burst
        quality = b.quality
        self.core.reading(now_ms, b.distance_um / 1e6 if quality == ranging.OK else None,
                          quality, self.burst_temp)
        self.sched.wake("valve", now_ms)
        self._telemetry(now_ms, quality)
        r.start()
        return 0 if self.core.discharge.phase == CHECKING else self.inlet_cfg["sample_s"] * 1000

    def _control(self, now_ms):
        self.agent.serve_link(now_ms)
        comms = self.agent.comms
        link_up = comms is not None and comms.link.up
        wait = self.core.step(now_ms, self.agent.wall_s(), self.bin.closed, False, link_up)
        self._drive(self.core.discharge.valve)
        if self.backstops != self.backstops_said:
            self.backstops_said = self.backstops
            self.core.events.append(("valve", {"backstop": self.backstops}))
        if self.core.discharge.phase == CHECKING and not self.ranger.busy():
            self.sched.wake("ranging", now_ms)
        if publish_events(comms, self.core.events, now_ms):
            self.sched.wake("link", now_ms)
        return wait if wait < 1000 else 1000

    def _drive(self, want_open):
        if want_open == self.valve_open:
            return
        self.valve_open = want_open
        self._backstop_token += 1
        if want_open:  # the backstop armed before the valve moves
            ms = int(self.inlet_cfg["max_open_s"] * 1000)
            self.agent.engine.after(ms, self._backstop, self._backstop_token)
        self.bin.valve(want_open)

    def _backstop(self, token):
        if token == self._backstop_token and self.valve_open:
            # chute.Chute._backstop: the pin closes, valve_open stays (the loop reports)
            self.bin.valve(False)
            self.backstops += 1
        return False

    def _telemetry(self, now_ms, quality):
        c = self.core
        lv = c.filling()
        self.agent.comms.telemetry({
            "distance_m": None if c.distance_m is None else round(c.distance_m, 3),
            "quality": quality, "fillingLevel": None if lv is None else round(lv, 3),
            "temperature": None if c.temp_c is None else round(c.temp_c, 1),
            "rate_per_h": c.forecast.rate_per_h}, now_ms)

    def peer_message(self, payload, now_ms):
        msg, _ = vacuum.parse_station(payload)
        if msg is None:
            return
        t = msg["t"]
        if t == "vacuum":
            self.core.discharge.vacuum(msg["ready"])
        elif msg.get("id") != self.agent.id:
            return
        elif t == "revoke":
            self.core.discharge.revoke(msg["cycle"])
        elif t == "grant":
            wall, ts = self.agent.wall_s(), msg.get("ts")
            if type(ts) is int and wall - ts > msg["ttl_s"] + STALE_GRANT_S:
                self.core.events.append(("discharge", {"cycle": msg["cycle"],
                                                       "step": vacuum.STEP_ABORTED,
                                                       "why": "stale_grant"}))
            else:
                self.core.grant(msg["cycle"], msg["ttl_s"], msg["vac"], now_ms)
        self.sched.wake("valve", now_ms)

    def drain(self):
        req = self.core.request
        if not self.requests or self.requests[-1][1] != req:
            self.requests.append([round(self.agent.wall(), 3), req])

    def history(self, h):
        b = self.bin
        h.update({"levels": [[round(t, 3), round(lv, 4)] for t, lv in b.levels],
                  "opens": [[o[0] / 1000, None if o[1] is None else o[1] / 1000]
                            for o in b.opens],
                  "discharges": b.discharges, "deposits": b.bags,
                  "overflow_ms": b.overflow_now_ms(), "requests": self.requests,
                  "state": self.core.state(), "backstops": self.backstops})
