"""Ring 3 on the mini broker: a real agent (MicroPython unix port, simulated board, the link's
own CONNECT and umqtt.simple) against host_tools.minibroker instead of Mosquitto, as `make
demo` runs it on a machine without Mosquitto. The device's retained status and its state
reach a monitor, an unsigned command is acked, and when the device dies without a goodbye
its last will says "offline". Every wait is a ceiling; the device is stopped once seen."""

import json
import threading
import time

import paho.mqtt.client as mqtt

from host_tools import vdevice
from host_tools.minibroker import MiniBroker

ROOT = "city/main/streetlight/pole-9/"
SECRETS = {"wifi": {"ssid": "street", "password": "pw"}}
CEILING_S = 30


def device_config(port):
    return {"device": {"id": "pole-9", "role": "streetlight"},
            "mqtt": {"host": "127.0.0.1", "port": port, "keepalive_s": 10,
                     "signed_cmds": False, "backoff_max_s": 1, "connect_timeout_s": 3}}


class Monitor:
    """Records (topic, payload, retain) of what the broker passes on under ROOT."""

    def __init__(self, port, client_id):
        self.msgs = []
        self.lock = threading.Lock()
        self.subscribed = threading.Event()
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        self.c.on_message = self._on_message
        self.c.on_subscribe = lambda *a: self.subscribed.set()
        self.c.on_connect = self._on_connect
        self.c.connect("127.0.0.1", port, keepalive=10)
        self.c.loop_start()
        assert self.subscribed.wait(CEILING_S), "the monitor never subscribed"

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        client.subscribe(ROOT + "#", qos=1)

    def _on_message(self, client, userdata, msg):
        with self.lock:
            self.msgs.append((msg.topic[len(ROOT):], bytes(msg.payload), bool(msg.retain)))

    def wait(self, pred, what):
        deadline = time.monotonic() + CEILING_S
        while time.monotonic() < deadline:
            with self.lock:
                if any(pred(*m) for m in self.msgs):
                    return
            time.sleep(0.05)
        raise AssertionError(f"{what} never came: {self.msgs}")

    def close(self):
        self.c.loop_stop()
        self.c.disconnect()


def test_a_real_agent_works_against_the_mini_broker(tmp_path):
    lines = []
    with MiniBroker(port=0, log=lines.append) as broker:
        live = Monitor(broker.port, "live-monitor")
        dev = vdevice.make_device(tmp_path / "dev", device_config(broker.port), SECRETS)
        proc = vdevice.start(dev, run_s=60)  # a ceiling: killed below once seen working
        late = None
        try:
            live.wait(lambda t, p, r: t == "status" and p == b"online", "status online")
            live.wait(lambda t, p, r: t == "state" and "level" in json.loads(p), "state")
            # someone who subscribes afterwards finds the status retained
            late = Monitor(broker.port, "late-monitor")
            late.wait(lambda t, p, r: t == "status" and p == b"online" and r,
                      "a retained status online")
            live.c.publish(ROOT + "cmd", json.dumps({"id": "k1", "cmd": "ping"}), qos=1)
            live.wait(lambda t, p, r: t == "cmd/ack" and json.loads(p).get("id") == "k1"
                      and json.loads(p).get("ok") is True, "the ack of the ping")
            proc.kill()  # no DISCONNECT: the broker must publish the device's will
            proc.communicate(timeout=CEILING_S)
            live.wait(lambda t, p, r: t == "status" and p == b"offline", "the will (offline)")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=CEILING_S)
            live.close()
            if late is not None:
                late.close()
    assert any(line.startswith("connect pole-9 ") for line in lines), lines
    assert any(line.startswith("drop pole-9: ") and "will published" in line
               for line in lines), lines
