"""Light-ahead through a real broker: a walker passes pole A; its neighbour B, 30 m further
on in the same group, raises its level ahead of the walker to the full boost (A cannot tell
which way the walker goes, so it tells both sides), and drops back once its hold is over.

Nothing here races the host's speed: B is online (so subscribed to its group) before A
boots, A's walker comes a second after A's own link is up, and each pole is stopped once it
has said (in the ack of a `ping`) that it is back at its profile level; run lengths are
only ceilings."""

import json
import threading
import time

import paho.mqtt.client as mqtt

from host_tools import vdevice
from host_tools.broker import Broker

SECRETS = {"wifi": {"ssid": "street", "password": "pw"}}
CEILING_S = 60  # the longest a device may run; it is stopped as soon as the test has its answer
ROOT = "city/main/streetlight/"


def pole(port, dev_id, position_m):
    return {"device": {"id": dev_id, "role": "streetlight"},
            "mqtt": {"host": "127.0.0.1", "port": port, "group": "elm", "keepalive_s": 10,
                     "signed_cmds": False},  # the test pings it unsigned
            "light": {"position_m": position_m, "ahead_reach_m": 90, "boost_pct": 100,
                      "hold_s": 2, "fade_s": 1, "ramp_ms": 200, "curve": "linear",
                      "ahead_hold_s": 3,
                      "profile": [["00:00", 30]], "min_level_pct": 10}}


class Monitor:
    """The poles' status and state as the broker passes them on; ping() asks a pole."""

    def __init__(self, port):
        self.status, self.levels, self.acks = {}, {}, {}  # per pole: last, [levels], {id: ack}
        self.lock = threading.Lock()
        self.n = 0
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="light-ahead-monitor")
        self.c.on_message = self._on_message
        self.c.on_connect = lambda c, u, f, rc, p: c.subscribe(
            [(ROOT + "+/status", 1), (ROOT + "+/state", 1), (ROOT + "+/cmd/ack", 1)])
        self.c.connect("127.0.0.1", port, keepalive=10)
        self.c.loop_start()

    def _on_message(self, client, userdata, msg):
        pole_id, channel = msg.topic[len(ROOT):].split("/", 1)
        with self.lock:
            if channel == "status":
                self.status[pole_id] = msg.payload.decode()
            elif channel == "state":
                self.levels.setdefault(pole_id, []).append(json.loads(msg.payload)["level"])
            else:
                ack = json.loads(msg.payload)
                self.acks.setdefault(pole_id, {})[ack["id"]] = ack

    def wait(self, pred, timeout_s=30):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                if pred():
                    return True
            time.sleep(0.05)
        return False

    def online(self, pole_id):
        return self.status.get(pole_id) == "online"

    def boosted(self, pole_id, above):
        return any(level > above for level in self.levels.get(pole_id, []))

    def ping(self, pole_id):
        """The pole's state, as it answers a ping now (None: no answer in 10 s)."""
        self.n += 1
        cid = f"p{self.n}"
        self.c.publish(ROOT + pole_id + "/cmd", json.dumps({"id": cid, "cmd": "ping"}), qos=1)
        if not self.wait(lambda: cid in self.acks.get(pole_id, {}), 10):
            return None
        return self.acks[pole_id][cid]["state"]

    def wait_level(self, pole_id, level, timeout_s=30):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            state = self.ping(pole_id)
            if state is not None and state["level"] == level:
                return True
            time.sleep(0.25)
        return False

    def close(self):
        self.c.loop_stop()
        self.c.disconnect()


def test_a_neighbour_lights_ahead_of_the_walker(tmp_path):
    with Broker() as broker:
        mon = Monitor(broker.port)
        a = vdevice.make_device(tmp_path / "a", pole(broker.port, "pole-a", 0), SECRETS)
        b = vdevice.make_device(tmp_path / "b", pole(broker.port, "pole-b", 30), SECRETS)
        procs = []
        try:
            procs.append(vdevice.start(b, run_s=CEILING_S))
            # "online" comes after its subscriptions: B now hears its group's peer messages
            assert mon.wait(lambda: mon.online("pole-b")), "B never came online"
            # a dark street (0 lx), a walker at A one second after A is online
            procs.append(vdevice.start(a, run_s=CEILING_S, motion_after_up_ms=1000))
            assert mon.wait(lambda: mon.boosted("pole-b", 50)), mon.levels
            assert mon.wait(lambda: mon.boosted("pole-a", 90)), mon.levels
            # hold 2 s, fade 1 s: each says when it is back at its profile's 30 %
            assert mon.wait_level("pole-b", 30) and mon.wait_level("pole-a", 30), mon.levels
            (sb, out_b), (sa, out_a) = (vdevice.stop(p) for p in procs)
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
            mon.close()
    assert sa["lamp_max_pct"] == 100, out_a  # own sensor: full boost
    # the nearest neighbour, within the 90 m reach: the full boost (the class), not a share
    assert sb["lamp_max_pct"] == 100, out_b
    # both back to the profile level (within the PWM's resolution)
    assert abs(sb["lamp_last_pct"] - 30) < 0.1 and abs(sa["lamp_last_pct"] - 30) < 0.1
    assert sb["state"]["on"] and sb["state"]["control"] == "photocell"
