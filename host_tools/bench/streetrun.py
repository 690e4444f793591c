"""This controller on the street: the demo's runner (host_tools.street.run) runs real agents
on the simulated board with a broker and the station; meanwhile a paho subscriber on '#'
counts the bytes the devices publish (topic + payload of each PUBLISH as the broker
delivers it; retained copies replayed to the subscriber are not counted, MQTT headers,
keepalives and TCP/TLS overhead are not in the figure), per device and channel."""

import threading

from agent import topics
from host_tools.linkprobe import Listener

CHANNELS = ("status", "state", "telemetry", "event", "diag", "cmd/ack", "peer")


class Airtime(Listener):
    """Bytes and messages per (role, channel) and per device, from a subscriber on '#'."""

    CLIENT_ID = "bench-airtime"
    QOS = 0

    def __init__(self):
        self.lock = threading.Lock()
        self.by = {}  # (role, channel) -> [messages, bytes]
        self.devices = set()
        self.state_sizes = []

    def _on_message(self, c, u, msg) -> None:
        if msg.retain:
            return  # a replay of something already counted (or from before we listened)
        p = topics.parse(msg.topic)
        if p is None:
            return
        _, _, kind, device, group, channel = p
        n = len(msg.topic.encode()) + len(msg.payload)
        key = (kind, channel if device is not None else f"group/{channel}")
        with self.lock:
            row = self.by.setdefault(key, [0, 0])
            row[0] += 1
            row[1] += n
            if device is not None:
                self.devices.add((kind, device))
                if channel == "state":
                    self.state_sizes.append(n)

    def figures(self, devices_by_role: dict, scenario_h: float) -> dict:
        """{role: {channel: {msgs, bytes_per_device_day}}, "state_msg_bytes"}. Group
        channels (peer light-ahead, the station's grants) are shared out over the role's
        devices."""
        day = 24.0 / scenario_h if scenario_h > 0 else 0.0
        out: dict = {}
        with self.lock:
            for (role, ch), (msgs, nbytes) in sorted(self.by.items()):
                n = max(1, devices_by_role.get(role, 0))
                out.setdefault(role, {})[ch] = {"msgs": msgs,
                                               "bytes_per_device_day": round(nbytes * day / n)}
            sizes = sorted(self.state_sizes)
        for role, chans in out.items():
            # uplink only: what the devices themselves sent (cmd and station grants go down)
            up = sum(v["bytes_per_device_day"] for ch, v in chans.items()
                     if ch in ("status", "state", "telemetry", "event", "diag", "cmd/ack",
                               "group/peer") and not (role == "inlet" and ch == "group/peer"))
            chans["total_up"] = {"msgs": None, "bytes_per_device_day": up}
        out["state_msg_bytes"] = sizes[len(sizes) // 2] if sizes else None
        return out


def run(scenario: str, poles: int, inlets: int, speed: float, out: str, hours=None,
        say=print) -> dict:
    """One street run; the runner's result plus "airtime"."""
    from host_tools.street.run import Options, Run

    air = Airtime()
    started = [False]

    def on_tick(r):
        if not started[0] and r.broker is not None and r.broker.port:
            air.start(r.broker.port)
            started[0] = True

    # The firmware's default telemetry period: airtime is measured as a city installs it.
    r = Run(Options(scenario=scenario, speed=speed, poles=poles, inlets=inlets, out=out,
                    hours=hours, telemetry_s=None), say=lambda m: say(f"  [{scenario}] {m}"))
    try:
        result = r.run(on_tick)
    finally:
        air.stop()
    roles = {"streetlight": len(r.world.poles), "inlet": len(r.world.inlets)}
    covered_h = result["speed"]["scenario_s"] / 3600
    result["airtime"] = air.figures(roles, covered_h)
    result["airtime"]["covered_h"] = round(covered_h, 2)
    return result
