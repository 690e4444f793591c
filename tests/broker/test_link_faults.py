"""Ring 3: a whole agent (MicroPython unix port, simulated board, real sockets) against a real
Mosquitto that the test starts, kills, restarts, or replaces with a refusing port or a tarpit.
The control loop must never stall on the network, and queued events must all arrive."""

import json
import socket
import threading
import time

import paho.mqtt.client as mqtt

from host_tools import vdevice
from host_tools.broker import Broker, free_port

TICK_BUDGET_US = 200_000  # no control tick may be delayed more than this


def device_config(port, **mqtt_extra):
    m = {"host": "127.0.0.1", "port": port, "keepalive_s": 10, "backoff_max_s": 2,
         "connect_timeout_s": 3}
    m.update(mqtt_extra)
    return {"device": {"id": "pole-7", "role": "streetlight"}, "mqtt": m,
            "loop": {"heartbeat_s": 10}}


SECRETS = {"wifi": {"ssid": "street", "password": "pw"}}


class Collector:
    """A monitor on the broker: a persistent QoS 1 session, so events published while it is
    reconnecting after a broker restart are kept for it."""

    def __init__(self, port, topic="city/+/streetlight/+/event"):
        self.msgs = []
        self.lock = threading.Lock()
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="collector",
                             clean_session=False)
        self.c.on_message = self._on_message
        self.c.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
        self.c.reconnect_delay_set(0.1, 0.5)
        self.c.connect("127.0.0.1", port, keepalive=10)
        self.c.loop_start()

    def _on_message(self, client, userdata, msg):
        try:
            body = json.loads(msg.payload)
        except ValueError:
            body = {"raw": msg.payload.decode()}  # status is plain "online" / "offline"
        with self.lock:
            self.msgs.append((msg.topic, body))

    def wait_for(self, pred, timeout_s):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                if pred(self.msgs):
                    return True
            time.sleep(0.05)
        return False

    def close(self):
        self.c.loop_stop()
        self.c.disconnect()


def persistent_broker(tmp_path, port=None):
    conf = (f"persistence true\npersistence_location {tmp_path}/\nautosave_interval 1\n")
    return Broker(extra_conf=conf, port=port).start()


def test_events_survive_a_broker_killed_and_restarted(tmp_path):
    broker = persistent_broker(tmp_path)
    port = broker.port
    col = Collector(port)
    dev = vdevice.make_device(tmp_path / "dev", device_config(port), SECRETS)
    proc = vdevice.start(dev, run_s=14, events_ms=250)
    try:
        assert col.wait_for(lambda m: len(m) >= 4, 8), "no events before the outage"
        # Killed (SIGTERM: the broker saves its sessions, so the collector's queued copies
        # survive and any loss seen here is the device's; to the device it is the same
        # dead socket as SIGKILL)
        broker.proc.terminate()
        broker.proc.wait()
        time.sleep(3)  # ~12 events are made while the broker is gone
        broker.stop()
        broker = persistent_broker(tmp_path, port=port)
        summary, out = vdevice.finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    try:
        # Events made in the last instant may still be queued when the run ends.
        assert summary["queued"] <= 2, out
        sent = summary["events_made"] - summary["queued"]
        col.wait_for(lambda m: len({e["n"] for _, e in m if "n" in e}) >= sent, 10)
        ns = [e["n"] for _, e in col.msgs if "n" in e]
        assert sorted(set(ns)) == list(range(sent)), f"an event was lost: {ns}\n{out}"
        # QoS 1 is at least once: the restored session may hand the monitor a second copy of
        # what was in flight when the broker died. Order is that of first arrivals.
        first = [n for i, n in enumerate(ns) if n not in ns[:i]]
        assert first == sorted(first), f"events arrived out of order: {ns}"
        # every event keeps the time it happened, not the time it was delivered
        seen, stamps = set(), []
        for _, e in col.msgs:
            if "n" in e and e["n"] not in seen:
                seen.add(e["n"])
                stamps.append(e["ts"])
        assert all(isinstance(t, int) for t in stamps) and stamps == sorted(stamps)
        assert summary["reconnects"] >= 1 and summary["dropped"] == 0
        assert summary["loop_us_max"] < TICK_BUDGET_US, out
    finally:
        col.close()
        broker.close()


def test_refusing_port_then_broker_appears(tmp_path):
    port = free_port()  # nothing listens: every connect is refused
    dev = vdevice.make_device(tmp_path / "dev", device_config(port), SECRETS)
    proc = vdevice.start(dev, run_s=9)
    time.sleep(4)
    broker = Broker(port=port).start()
    col = Collector(port, topic="city/+/streetlight/+/status")
    try:
        summary, out = vdevice.finish(proc)
        assert summary["connects"] >= 1 and summary["link_state"] == 3, out  # UP
        assert summary["loop_us_max"] < TICK_BUDGET_US, out
        assert "111" in out or "ECONNREFUSED" in out or summary["reconnects"] == 0
    finally:
        col.close()
        broker.close()


class Tarpit:
    """Accepts TCP connections and never says a word."""

    def __init__(self, port):
        self.s = socket.socket()
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.s.bind(("127.0.0.1", port))
        self.s.listen(16)
        self.conns = []
        self.stop = False
        self.t = threading.Thread(target=self._accept, daemon=True)
        self.t.start()

    def _accept(self):
        self.s.settimeout(0.2)
        while not self.stop:
            try:
                c, _ = self.s.accept()
                self.conns.append(c)
            except OSError:
                pass

    def close(self):
        self.stop = True
        self.t.join()
        for c in self.conns:
            c.close()
        self.s.close()


def test_tarpit_never_stalls_the_loop_and_the_agent_recovers(tmp_path):
    port = free_port()
    pit = Tarpit(port)
    dev = vdevice.make_device(tmp_path / "dev", device_config(port), SECRETS)
    proc = vdevice.start(dev, run_s=12, events_ms=500)
    try:
        time.sleep(6)  # accepted, CONNECT sent, CONNACK never comes: again and again
        attempts = len(pit.conns)
        pit.close()
        broker = Broker(port=port).start()
        summary, out = vdevice.finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    try:
        assert attempts >= 1, "the agent never tried the tarpit"
        assert summary["loop_us_max"] < TICK_BUDGET_US, out
        assert summary["link_state"] == 3 and summary["queued"] == 0, out  # online, flushed
        assert "ETIMEDOUT" in out or "110" in summary["last_error"] or summary["connects"]
    finally:
        broker.close()


def test_wifi_loss_is_not_a_broker_fault(tmp_path):
    """Without an access point the agent keeps trying Wi-Fi, never the broker."""
    broker = Broker().start()
    try:
        dev = vdevice.make_device(tmp_path / "dev", device_config(broker.port), SECRETS)
        summary, out = vdevice.finish(vdevice.start(dev, run_s=5, ap=0))  # a scan gives up in 3 s
        assert summary["connects"] == 0 and summary["link_state"] == 0, out  # WIFI
        assert "wifi: access point not found" in summary["last_error"], out
        assert summary["loop_us_max"] < TICK_BUDGET_US
    finally:
        broker.close()
