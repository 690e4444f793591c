# The streetlight role (shell): the pole's pins (light sensor, motion input, lamp PWM), its
# tasks in the agent's loop, and its messages. Every decision is in agent.streetlight.
import json
import time

import machine
from micropython import const

from agent import output
from agent.clock import wall_s
from agent.comms import publish_events
from agent.sched import ticks_diff
from agent.streetlight import Streetlight

CONTROL_MS = const(1000)  # a quiet night: one decision a second
FAST_MS = const(50)  # while a ramp or fade runs: smooth enough for the eye
TELEMETRY_MS = const(60000)
SMOOTH_PCT_PER_S = const(200)  # output slew: no visible jumps on profile steps or switching
_CONTROL = "control"  # the task's name, one string object shared with the ISR
BH1750_ADDR = const(0x23)
_BH_POWER_ON, _BH_CONT_HRES = b"\x01", b"\x10"


class AdcLight:
    """An analog light sensor on an ADC1 pin: read() -> lux (float), raw (u16) kept in .raw.
    The conversion runs only when the reading moved: a steady reading makes no new float."""

    kind = "adc"

    def __init__(self, pin, light):
        self.light = light
        self.adc = machine.ADC(machine.Pin(pin), atten=machine.ADC.ATTN_11DB)
        self.raw = None
        self.lux = None
        self._uv = -1

    def read(self):
        adc = self.adc
        self.raw = adc.read_u16()
        uv = adc.read_uv()
        if uv != self._uv:
            self._uv = uv
            lux = (uv / 1000 - self.light["adc_offset_mv"]) * self.light["adc_lux_per_mv"]
            self.lux = lux if lux > 0 else 0.0
        return self.lux


class Bh1750Light:
    """A BH1750 on I2C: read() -> lux, or None when it does not answer (.raw stays None)."""

    kind = "i2c"

    def __init__(self, scl, sda):
        self.i2c = machine.I2C(0, scl=machine.Pin(scl), sda=machine.Pin(sda), freq=100000)
        self.buf = bytearray(2)
        self.started = False
        self.raw = None
        self.lux = None
        self._counts = -1

    def read(self):
        try:
            if not self.started:
                self.i2c.writeto(BH1750_ADDR, _BH_POWER_ON)
                self.i2c.writeto(BH1750_ADDR, _BH_CONT_HRES)
                self.started = True
            self.i2c.readfrom_into(BH1750_ADDR, self.buf)
        except OSError:
            self.started = False  # re-initialise once it answers again
            return None
        counts = (self.buf[0] << 8) | self.buf[1]
        if counts != self._counts:
            self._counts = counts
            self.lux = counts / 1.2
        return self.lux


def light_sensor(pins, light):
    if pins.get("light_adc") is not None:
        return AdcLight(pins["light_adc"], light)
    return Bh1750Light(pins["i2c_scl"], pins["i2c_sda"])


class Pole:
    def __init__(self, agent, now_ms):
        self.agent = agent
        light = agent.cfg["light"]
        self.light = light
        pins = agent.board["pins"]
        self.sensor = light_sensor(pins, light)
        self.core = Streetlight(light, now_ms, sensor=self.sensor.kind)
        self.pwm = machine.PWM(machine.Pin(pins["lamp_pwm"]), freq=light["pwm_hz"],
                               duty_u16=output.duty_u16(0, light["curve"],
                                                        light["invert_output"]))
        self.ramp = output.Ramp(SMOOTH_PCT_PER_S)
        self.motion_pin = machine.Pin(pins["motion"], machine.Pin.IN)
        self._edge = self._on_edge  # bound once: the handler must not allocate
        self.motion_pin.irq(handler=self._edge,
                            trigger=machine.Pin.IRQ_RISING | machine.Pin.IRQ_FALLING)
        self.duty = -1
        self._level = None  # the level self.duty was worked out for
        self._curve = light["curve"]
        self._invert = light["invert_output"]
        self._debounce_ms = light["motion_debounce_ms"] + FAST_MS
        self.rise_ms = 0
        self.confirming = False  # a rising edge waits for its debounce to confirm it
        self.sched = agent.sched
        self._grouped = agent.cfg["mqtt"]["group"] != ""  # light-ahead needs a group
        agent.sched.add(_CONTROL, CONTROL_MS, self._control)
        agent.sched.add("telemetry", TELEMETRY_MS, self._telemetry, first_in_ms=TELEMETRY_MS)

    def _on_edge(self, pin):
        now, level = time.ticks_ms(), pin.value()
        self.core.motion.edge(now, level)
        if level:
            self.rise_ms = now
            self.confirming = True
            self.sched.poke(_CONTROL)  # decide now, not at the next one-second step

    def _control(self, now_ms):
        sensor = self.sensor
        lux = sensor.read()
        comms = self.agent.comms
        self.core.linked = self._grouped and comms is not None and comms.link.up
        target = self.core.step(now_ms, wall_s(), lux, sensor.raw)
        level = self.ramp.step(target, now_ms)
        if level != self._level:  # the curve only when the level moved
            self._level = level
            duty = output.duty_u16(level, self._curve, self._invert)
            if duty != self.duty:
                self.pwm.duty_u16(duty)
                self.duty = duty
        if self.core.events:
            self._publish_events(now_ms)
        if self.confirming:
            if ticks_diff(now_ms, self.rise_ms) <= self._debounce_ms:
                return FAST_MS  # look again when the debounce can have confirmed it
            self.confirming = False
        if self.core.busy(now_ms) or not self.ramp.settled(target):
            return FAST_MS
        return None

    def _publish_events(self, now_ms):
        comms = self.agent.comms
        events = self.core.events
        if comms is not None:
            for name, fields in events:
                if name == "motion":
                    # Light-ahead: tell the neighbours at once (QoS 0: late is useless), ahead
                    # of the queued events; dir is where the person is going, 0 unknown.
                    comms.peer({"event": "motion", "id": comms.device_id,
                                "pos": self.light["position_m"], "dir": fields["dir"]},
                               now_ms)
        publish_events(comms, events, now_ms)

    def _telemetry(self, now_ms):
        if self.agent.comms is None:
            return
        e = self.core.energy
        self.agent.comms.telemetry({
            "lux": None if self.core.lux is None else round(self.core.lux, 1),
            "level": round(self.core.level, 1), "w": round(e.watts(self.core.level), 1),
            "wh": round(e.wh, 2), "burn_s": e.burn_s, "switches": e.switches}, now_ms)

    # ---- what the agent asks of its role ----

    def state(self):
        return self.core.state()

    def state_deadbands(self):
        return {"level": 2}

    def command(self, cmd, now_ms):
        args = cmd["args"]
        if cmd["cmd"] == "override":
            self.core.override(args["level_pct"], args["duration_s"], now_ms)
        elif cmd["cmd"] == "auto":
            self.core.override(None, 0, now_ms)
        else:
            return False, "cmd: %s is not handled by a streetlight" % cmd["cmd"], None
        self.agent.sched.wake(_CONTROL, now_ms)
        return True, None, self.core.state()

    def peer_message(self, payload, now_ms):
        try:
            msg = json.loads(payload)
            pos = msg["pos"]
            heading = msg.get("dir", 0)  # older firmware sends none: unknown
            if msg.get("id") == self.agent.cfg["device"]["id"] or \
                    type(pos) not in (int, float) or heading not in (-1, 0, 1):
                return
        except Exception:  # a neighbour's garbage must not disturb this pole
            return
        self.core.peer_motion(now_ms, pos, heading)
        self.agent.sched.wake(_CONTROL, now_ms)

    def ha_entities(self):
        return (("level", "sensor", "Dimming level", "state", "level", "%", None, False),
                ("energy", "sensor", "Energy", "telemetry", "wh", "Wh", "energy", False),
                ("lux", "sensor", "Ambient light", "telemetry", "lux", "lx", "illuminance",
                 False))
