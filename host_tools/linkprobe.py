"""What the agents put on the air, and how often their sessions drop (issue 14).

Runs a street (host_tools.street.run: real agents on the simulated board, paced against a real
Mosquitto, the station) and meanwhile a paho subscriber on '#' counts every PUBLISH a device
sends as the broker delivers it: fixed header + remaining length + topic (with its length) +
packet id (QoS 1) + payload, per device and topic kind. Retained copies replayed to the
subscriber are not counted (they were counted when sent). PINGREQs, PUBACKs and TCP/TLS
overhead are not seen from here. Session (re)opens are counted from the device's retained
`status` "online", which the link publishes at each connect.

    .venv/bin/python -m host_tools.linkprobe --hours 3 --speed 720 --poles 2 --inlets 2

prints bytes per device per day by role and kind (light-ahead `peer` apart) and the
reconnects per device per day, and writes them as JSON with --json FILE.
"""

import argparse
import json
import sys
import threading

from agent import topics

KINDS = ("status", "state", "telemetry", "event", "diag", "cmd/ack")


def _varlen_size(n: int) -> int:
    size = 1
    while n >= 128:
        n >>= 7
        size += 1
    return size


def publish_bytes(topic: str, payload: bytes, qos: int) -> int:
    """Bytes of one MQTT 3.1.1 PUBLISH packet carrying topic and payload."""
    rest = 2 + len(topic.encode()) + (2 if qos else 0) + len(payload)
    return 1 + _varlen_size(rest) + rest


class Listener:
    """A paho subscriber on '#' of a loopback broker, back within seconds after an outage;
    subclasses count what _on_message(client, userdata, msg) sees."""

    CLIENT_ID = "listener"
    QOS = 1  # keeps the sender's QoS (a QoS 1 PUBLISH carries a packet id)

    client = None

    def start(self, port: int) -> None:
        import paho.mqtt.client as mqtt

        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.CLIENT_ID)
        c.on_message = self._on_message
        c.on_connect = lambda c, u, f, rc, p: c.subscribe("#", qos=self.QOS)
        c.reconnect_delay_set(1, 2)  # broker outages of a scenario
        c.connect_async("127.0.0.1", port)
        c.loop_start()
        self.client = c

    def stop(self) -> None:
        if self.client is not None:
            self.client.loop_stop()
            self.client.disconnect()

    def _on_message(self, c, u, msg) -> None:
        raise NotImplementedError


class Counter(Listener):
    """Per (role, kind): [messages, bytes]; per device: session opens."""

    CLIENT_ID = "linkprobe"

    def __init__(self):
        self.lock = threading.Lock()
        self.by: dict = {}
        self.opens: dict = {}
        self.devices: dict = {}  # id -> role
        self.errors: dict = {}  # diag link_error -> times seen changed
        self.last_error: dict = {}
        self.last_state: dict = {}
        self.changed: dict = {}  # role.field -> state messages where it changed

    def _on_message(self, c, u, msg) -> None:
        if msg.retain:
            return
        p = topics.parse(msg.topic)
        if p is None:
            return
        _, _, role, device, _, channel = p
        if device is None:
            if channel != "peer" or role != "streetlight":
                return  # the station's grants go down, not up
            kind = "peer"
        else:
            kind = channel
        if kind == "cmd":
            return  # to the device, not from it
        n = publish_bytes(msg.topic, msg.payload, msg.qos)
        with self.lock:
            row = self.by.setdefault((role, kind), [0, 0])
            row[0] += 1
            row[1] += n
            if device is not None:
                self.devices[device] = role
                if kind == "status" and msg.payload == b"online":
                    self.opens[device] = self.opens.get(device, 0) + 1
                if kind == "diag":
                    self._note_error(device, msg.payload)
                if kind == "state":
                    self._note_change(role, device, msg.payload)

    def _note_change(self, role: str, device: str, payload: bytes) -> None:
        """Which state fields changed from the device's previous state message."""
        try:
            new = json.loads(payload)
        except ValueError:
            return
        old = self.last_state.get(device)
        self.last_state[device] = new
        if old is None:
            return
        for k in new:
            if k not in ("seq", "ts", "up") and new.get(k) != old.get(k):
                key = f"{role}.{k}"
                self.changed[key] = self.changed.get(key, 0) + 1

    def _note_error(self, device: str, payload: bytes) -> None:
        try:
            err = json.loads(payload).get("link_error") or ""
        except ValueError:
            return
        if err and err != self.last_error.get(device):
            self.errors[err] = self.errors.get(err, 0) + 1
        self.last_error[device] = err

    def figures(self, hours: float) -> dict:
        day = 24.0 / hours
        out: dict = {}
        with self.lock:
            roles: dict = {}
            for dev, role in self.devices.items():
                roles.setdefault(role, []).append(dev)
            for (role, kind), (msgs, nbytes) in sorted(self.by.items()):
                n = max(1, len(roles.get(role, ())))
                out.setdefault(role, {})[kind] = {
                    "msgs_per_device_day": round(msgs * day / n),
                    "bytes_per_device_day": round(nbytes * day / n)}
            for role, devs in roles.items():
                chans = out.setdefault(role, {})
                chans["total_bytes_per_device_day"] = sum(
                    v["bytes_per_device_day"] for k, v in chans.items()
                    if isinstance(v, dict) and k != "peer")
                reopen = sum(max(0, self.opens.get(d, 0) - 1) for d in devs)
                chans["reconnects_per_device_day"] = round(reopen * day / len(devs), 1)
            out["link_errors_seen"] = dict(self.errors)
            out["state_fields_changed"] = dict(sorted(self.changed.items()))
        return out


def with_default_link(scenario: str, out: str) -> str:
    """A copy of the scenario whose devices keep the firmware's DEFAULT loop.heartbeat_s and
    mqtt.keepalive_s (the street runner sets its own): the settings a device ships with."""
    from pathlib import Path

    from agent import config
    from host_tools.street import scenario as scn

    path = Path(scenario) if scenario.endswith(".json") else scn.SCENARIOS / f"{scenario}.json"
    s = json.loads(path.read_text())
    dc = s.setdefault("device_config", {})
    dc.setdefault("loop", {})["heartbeat_s"] = config.CONFIG["loop"]["heartbeat_s"][1]
    dc.setdefault("mqtt", {})["keepalive_s"] = config.CONFIG["mqtt"]["keepalive_s"][1]
    Path(out).mkdir(parents=True, exist_ok=True)
    copy = Path(out) / f"{path.stem}-defaults.json"
    copy.write_text(json.dumps(s))
    return str(copy)


def run(scenario: str, hours: float, speed: float, poles: int, inlets: int, out: str,
        say=print, defaults=True) -> dict:
    from host_tools.street.run import Options, Run

    if defaults:
        scenario = with_default_link(scenario, out)

    count = Counter()
    started = [False]

    def on_tick(r):
        if not started[0] and r.broker is not None and r.broker.port:
            count.start(r.broker.port)
            started[0] = True

    r = Run(Options(scenario=scenario, speed=speed, poles=poles, inlets=inlets, out=out,
                    hours=hours), say=say)
    try:
        result = r.run(on_tick)
    finally:
        count.stop()
    covered_h = result["speed"]["scenario_s"] / 3600
    fig = count.figures(covered_h)
    fig["covered_h"] = round(covered_h, 2)
    fig["speed"] = speed
    return fig


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="linkprobe", description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", default="residential")
    ap.add_argument("--hours", type=float, default=3.0)
    ap.add_argument("--speed", type=float, default=720.0)
    ap.add_argument("--poles", type=int, default=2)
    ap.add_argument("--inlets", type=int, default=2)
    ap.add_argument("--out", default="out/linkprobe")
    ap.add_argument("--json", default=None, help="write the figures here too")
    ap.add_argument("--street-link", action="store_true",
                    help="keep the street runner's heartbeat/keepalive instead of the defaults")
    a = ap.parse_args(argv)
    if a.speed <= 0 or a.hours <= 0:
        print("linkprobe: --speed and --hours must be positive", file=sys.stderr)
        return 2
    fig = run(a.scenario, a.hours, a.speed, a.poles, a.inlets, a.out,
              say=lambda m: print("  " + m, file=sys.stderr), defaults=not a.street_link)
    print(json.dumps(fig, indent=1))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(fig, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
