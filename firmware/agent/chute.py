# The waste inlet role (shell): the inlet's pins (ultrasonic ranger, temperature, discharge
# valve, its closed limit switch, the vacuum pressure switch), its tasks in the agent's loop
# and its messages. Every decision is in agent.inlet and agent.discharge.
#
# Fail-closed from the first instruction: the valve pin is driven closed when this object is
# made, before anything else can run; the valve itself must be normally closed (spring
# return), so a reset or a power cut closes it too. While it is open, a one-shot hardware
# timer closes it at max_open_s even if the loop were stuck, and the watchdog resets a loop
# that stays stuck.
import machine
from micropython import const

from agent import ranging, vacuum
from agent.clock import wall_s
from agent.comms import publish_events
from agent.discharge import CHECKING
from agent.inlet import Inlet
from agent.pins import is_active_low
from agent.ranger import Ds18b20Thermometer, NtcThermometer, Ranger
from agent.sched import ticks_add, ticks_diff

_CONTROL = "valve"
_RANGE = "ranging"
TELEMETRY_MIN_MS = const(1000)
BACKSTOP_TIMER = const(0)
NTC_SUPPLY_MV = const(3300)
STALE_GRANT_S = const(5)  # a grant stamped longer ago than its ttl plus this is refused


def _thermometer(pins, inlet):
    kind = inlet["temp_sensor"]
    if kind == "ds18b20" and pins.get("temp_onewire") is not None:
        return Ds18b20Thermometer(pins["temp_onewire"])
    if kind == "ntc" and pins.get("temp_adc") is not None:
        return NtcThermometer(pins["temp_adc"], NTC_SUPPLY_MV, inlet["ntc_series_ohm"],
                              inlet["ntc_r25_ohm"], inlet["ntc_beta"])
    return None  # no sensor: the configured temperature, not reported as a measurement


class Chute:
    def __init__(self, agent, now_ms):
        board = agent.board
        pins = board["pins"]
        self.valve_on = 0 if is_active_low(board, "valve") else 1
        # First: the valve closed, whatever state a reset left the pin in.
        self.valve_pin = machine.Pin(pins["valve"], machine.Pin.OUT, value=1 - self.valve_on)
        self.closed_level = 0 if is_active_low(board, "valve_pos") else 1
        self.vacuum_level = 0 if is_active_low(board, "vacuum_ready") else 1
        self.pos_pin = machine.Pin(pins["valve_pos"], machine.Pin.IN)
        self.vac_pin = machine.Pin(pins["vacuum_ready"], machine.Pin.IN)
        self.agent = agent
        inlet = agent.cfg["inlet"]
        self.inlet_cfg = inlet
        self.core = Inlet(inlet, now_ms)
        self.ranger = Ranger(pins["us_trig"], pins["us_echo"], inlet["pings"],
                             inlet["ping_gap_ms"], inlet["blind_m"], inlet["max_m"],
                             inlet["spread_m"])
        self.thermo = _thermometer(pins, inlet)
        self.burst_temp = None  # the thermometer's reading for the burst in progress
        self.burst_temp_used = inlet["temp_c"]  # ... or the configured temperature
        self.my_id = agent.cfg["device"]["id"]
        self.valve_open = False
        self.backstop = None
        self.backstops = 0  # times the hardware timer had to close the valve
        self.backstops_said = 0
        self.last_tele_ms = now_ms
        self._wall_s = None  # the wall clock's last reading (see _wall)
        self._wall_due = None
        agent.sched.add(_CONTROL, 1000, self._control)
        agent.sched.add(_RANGE, inlet["sample_s"] * 1000, self._range)  # first burst at once

    # ---- tasks ----

    def _range(self, now_ms):
        """One ping per run (the loop never waits on more than one echo); a reading when the
        burst is complete, then the next burst after sample_s (at once while a discharge
        waits for its level check). A ping allocates nothing: the air temperature is read
        once per burst, as its first ping goes, and the reading is taken from the ranger's
        burst in place."""
        r = self.ranger
        left = r.left_ms(now_ms)
        if left > 0:
            return left
        if not r.busy():
            temp = self.thermo.read(now_ms) if self.thermo is not None else None
            self.burst_temp = temp
            self.burst_temp_used = temp if temp is not None else self.inlet_cfg["temp_c"]
        wait = r.poll(now_ms, self.burst_temp_used)
        if not r.fresh:
            return wait
        b = r.burst
        quality = b.quality
        self.core.reading(now_ms, b.distance_um / 1e6 if quality == ranging.OK else None,
                          quality, self.burst_temp)
        self.agent.sched.wake(_CONTROL, now_ms)
        self._telemetry(now_ms, quality)
        r.start()
        return 0 if self.core.discharge.phase == CHECKING else self.inlet_cfg["sample_s"] * 1000

    def _control(self, now_ms):
        comms = self.agent.comms
        link_up = comms is not None and comms.link.up
        closed = self.pos_pin.value() == self.closed_level
        vac = self.vac_pin.value() == self.vacuum_level
        wait = self.core.step(now_ms, self._wall(now_ms), closed, vac, link_up)
        self._drive(self.core.discharge.valve)
        if self.backstops != self.backstops_said:
            self.backstops_said = self.backstops
            self.core.events.append(("valve", {"backstop": self.backstops}))
        if self.core.discharge.phase == CHECKING and not self.ranger.busy():
            self.agent.sched.wake(_RANGE, now_ms)  # the level check wants a reading now
        self._publish_events(now_ms)
        return wait if wait < 1000 else 1000

    def _wall(self, now_ms):
        """Wall-clock seconds for the control step, which wants only the local minute: read
        again when the next wall minute may have begun (its last second read at every
        step), every step while the clock is unset. Between, the last value is passed on:
        on the chip an epoch is a long int, and reading one allocates."""
        due = self._wall_due
        if due is not None and ticks_diff(now_ms, due) < 0:
            return self._wall_s
        w = wall_s()
        self._wall_s = w
        self._wall_due = None if w is None else ticks_add(now_ms, (59 - w % 60) * 1000)
        return w

    def _drive(self, want_open):
        if want_open == self.valve_open:
            return
        self.valve_open = want_open
        if want_open:  # the backstop is armed before the valve moves
            ms = int(self.inlet_cfg["max_open_s"] * 1000)
            self.backstop = machine.Timer(BACKSTOP_TIMER)
            self.backstop.init(mode=machine.Timer.ONE_SHOT, period=ms, callback=self._backstop)
            self.valve_pin.value(self.valve_on)
            return
        self.valve_pin.value(1 - self.valve_on)
        if self.backstop is not None:
            self.backstop.deinit()
            self.backstop = None

    def _backstop(self, timer):
        # The timer's callback runs between bytecodes even while the loop is stuck in Python
        # (not inside one blocking C call: the watchdog covers that). Close; the loop reports.
        self.valve_pin.value(1 - self.valve_on)
        self.backstops += 1

    def stop(self):
        """The agent stops (Ctrl-C at the REPL): the valve closes."""
        self._drive(False)

    def _publish_events(self, now_ms):
        comms = self.agent.comms
        if publish_events(comms, self.core.events, now_ms) and comms is not None:
            self.agent.sched.wake("link", now_ms)  # the station waits on these: send now

    def _telemetry(self, now_ms, quality):
        comms = self.agent.comms
        if comms is None:
            return
        c = self.core
        lv = c.filling()
        comms.telemetry({"distance_m": None if c.distance_m is None else round(c.distance_m, 3),
                         "quality": quality, "fillingLevel": None if lv is None else round(lv, 3),
                         "temperature": None if c.temp_c is None else round(c.temp_c, 1),
                         "rate_per_h": c.forecast.rate_per_h}, now_ms)

    # ---- what the agent asks of its role ----

    def state(self):
        return self.core.state()

    def state_deadbands(self):
        return {"fillingLevel": 0.02, "temperature": 1.0, "ttf_s": 1800, "ttf_err_s": 3600}

    def command(self, cmd, now_ms):
        name, args = cmd["cmd"], cmd["args"]
        if name == "calibrate":
            d = args["distance_m"] if args["distance_m"] is not None else self.core.distance_m
            if d is None:
                return False, "calibrate: no valid reading to calibrate with (ranger %s)" \
                    % self.core.quality, None
            return self.agent.comms.set_config("inlet.%s_m" % args["what"], round(d, 3))
        if name == "clear_jam":
            self.core.failed = 0
            self.core.jammed = False
            return True, None, self.core.state()
        return False, "cmd: %s is not handled by an inlet" % name, None

    def peer_message(self, payload, now_ms):
        msg, err = vacuum.parse_station(payload)
        if msg is None:
            return  # not the station's, or garbage: it must not disturb the valve
        t = msg["t"]
        if t == "vacuum":
            self.core.discharge.vacuum(msg["ready"])
        elif msg.get("id") != self.my_id:
            return
        elif t == "revoke":
            self.core.discharge.revoke(msg["cycle"])
        elif t == "grant":
            wall, ts = wall_s(), msg.get("ts")
            if wall is not None and type(ts) is int and wall - ts > msg["ttl_s"] + STALE_GRANT_S:
                self.core.events.append(("discharge", {"cycle": msg["cycle"],
                                                       "step": vacuum.STEP_ABORTED,
                                                       "why": "stale_grant"}))
            else:
                self.core.grant(msg["cycle"], msg["ttl_s"], msg["vac"], now_ms)
        self.agent.sched.wake(_CONTROL, now_ms)

    def ha_entities(self):
        return (("fill", "sensor", "Filling level", "state", "fillingLevel", None, None, False),
                ("temperature", "sensor", "Temperature", "state", "temperature", "°C",
                 "temperature", False))
