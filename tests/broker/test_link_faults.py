"""Ring 3: a whole agent (MicroPython unix port, simulated board, real sockets) against a real
Mosquitto that the test starts, kills, restarts, or replaces with a refusing port or a tarpit.
The control loop must never stall on the network, and queued events must all arrive.

"Never stall" is checked on what the firmware controls, recorded by the simulated board for
the whole run (vdevice.wait_problems): no socket call without a timeout, no timeout longer
than mqtt.op_timeout_ms, connects that do not block. How long a loop pass took in real time
depends on this host's load as much as on the firmware: that figure is in `make bench`."""

import json
import threading
import time

import paho.mqtt.client as mqtt

from host_tools import vdevice
from host_tools.bench.faults import Tarpit, persistent_broker
from host_tools.broker import Broker, free_port

OP_TIMEOUT_MS = 100  # mqtt.op_timeout_ms: the longest any socket operation may wait


def device_config(port, **mqtt_extra):
    m = {"host": "127.0.0.1", "port": port, "keepalive_s": 10, "backoff_max_s": 2,
         "connect_timeout_s": 3, "op_timeout_ms": OP_TIMEOUT_MS, "signed_cmds": False}
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
        assert summary["sock_opened"] >= 2, out  # the recorder saw the first and the new one
        assert vdevice.wait_problems(summary, OP_TIMEOUT_MS) == [], out
    finally:
        col.close()
        broker.close()


def test_refusing_port_then_broker_appears(tmp_path):
    port = free_port()  # nothing listens: every connect is refused
    dev = vdevice.make_device(tmp_path / "dev", device_config(port), SECRETS)
    proc = vdevice.start(dev, run_s=60)  # a ceiling: stopped once it is online
    broker = col = None
    try:
        time.sleep(4)  # a few refused attempts, backing off
        broker = Broker(port=port).start()
        col = Collector(port, topic="city/+/streetlight/+/status")
        assert col.wait_for(lambda m: ("city/main/streetlight/pole-7/status",
                                       {"raw": "online"}) in m, 20), "never came online"
        summary, out = vdevice.stop(proc)
        assert summary["connects"] >= 1 and summary["link_state"] == 3, out  # UP
        assert summary["sock_opened"] >= 1, out  # the recorder saw the link's sockets
        assert vdevice.wait_problems(summary, OP_TIMEOUT_MS) == [], out
        assert "111" in out or "ECONNREFUSED" in out or summary["reconnects"] == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        if col is not None:
            col.close()
        if broker is not None:
            broker.close()


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
        assert summary["sock_opened"] >= 2, out  # the tarpit's, then the broker's
        assert vdevice.wait_problems(summary, OP_TIMEOUT_MS) == [], out
        assert summary["link_state"] == 3 and summary["queued"] == 0, out  # online, flushed
        assert "ETIMEDOUT" in out or "110" in summary["last_error"] or summary["connects"]
    finally:
        broker.close()


def test_wifi_loss_is_not_a_broker_fault(tmp_path):
    """Without an access point the agent keeps trying Wi-Fi, never the broker."""
    broker = Broker().start()
    try:
        dev = vdevice.make_device(tmp_path / "dev", device_config(broker.port), SECRETS)
        # Nothing here needs the network, so the board runs on virtual time alone (pace=0).
        # The one radio call that blocks is WLAN.scan() (2 s on a chip): the board counts them.
        summary, out = vdevice.finish(vdevice.start(dev, run_s=5, ap=0, pace=0))
        assert summary["connects"] == 0 and summary["link_state"] == 0, out  # WIFI
        assert "wifi: access point not found" in summary["last_error"], out  # after 3 s
        assert summary["sock_opened"] == 0, out  # never the broker
        assert vdevice.wait_problems(summary, OP_TIMEOUT_MS) == [], out
        assert summary["wifi_scans"] == 0, out  # nothing blocked the loop on the radio
    finally:
        broker.close()
