"""Ring 3 with security on: the agent (MicroPython, simulated board) on the TLS port of a
Mosquitto configured by `street broker init` files, commands signed with its key."""

import json
import threading

import paho.mqtt.client as mqtt
import pytest

from agent import sign
from host_tools import vdevice
from host_tools.security import Device, start_secure_broker, tls

DEV = Device(id="pole-9", role="streetlight", site="main", prefix="city", group="elm")
ROOT = "city/main/streetlight/pole-9"
OP_TIMEOUT_MS = 100  # mqtt.op_timeout_ms: the longest any socket operation may wait


@pytest.fixture(scope="module")
def sb():
    with start_secure_broker([DEV]) as b:
        yield b


def device_dir(tmp_path, sb, ca_der=None, host="localhost"):
    cfg = {"device": {"id": DEV.id, "role": "streetlight"},
           "mqtt": {"host": host, "port": sb.tls_port, "tls": True, "group": "elm",
                    "signed_cmds": True, "keepalive_s": 10, "backoff_max_s": 2,
                    "connect_timeout_s": 4, "op_timeout_ms": OP_TIMEOUT_MS}}
    return vdevice.make_device(tmp_path / "dev", cfg, sb.secrets[DEV.id],
                               extra_files={"ca.der": ca_der or sb.ca_der})


class Operator:
    def __init__(self, sb):
        self.acks, self.status = [], []
        self.got = threading.Condition()
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="op-test")
        self.c.username_pw_set(*sb.login("operator"))
        self.c.on_message = self._on_message
        self.c.connect("127.0.0.1", sb.port, keepalive=10)
        self.c.subscribe([(f"{ROOT}/cmd/ack", 1), (f"{ROOT}/status", 1)])
        self.c.loop_start()

    def _on_message(self, c, u, msg):
        with self.got:
            if msg.topic.endswith("/status"):
                self.status.append(msg.payload)
            else:
                self.acks.append(json.loads(msg.payload))
            self.got.notify_all()

    def wait(self, pred, timeout_s=30):  # generous: a busy host costs time only
        with self.got:
            return self.got.wait_for(pred, timeout_s)

    def send(self, payload: bytes):
        self.c.publish(f"{ROOT}/cmd", payload, qos=1)

    def ack_for(self, cid, timeout_s=30):
        assert self.wait(lambda: any(a.get("id") == cid for a in self.acks), timeout_s), \
            f"no ack for {cid}: {self.acks}"
        return next(a for a in self.acks if a.get("id") == cid)

    def close(self):
        self.c.loop_stop()
        self.c.disconnect()


def body(cid, ctr, cmd="ping"):
    return json.dumps({"id": cid, "cmd": cmd, "ctr": ctr})


def test_signed_commands_over_tls_forged_unsigned_and_replayed_refused(sb, tmp_path):
    key = bytes.fromhex(sb.secrets[DEV.id]["cmd"]["key"])
    good = sign.sign_command(key, DEV.id, body("c1", 1))
    op = Operator(sb)
    dev = device_dir(tmp_path, sb)
    # run_s is a ceiling: the device is stopped once the last ack is in (a slow host costs
    # time, not a failure)
    proc = vdevice.start(dev, run_s=60)
    try:
        assert op.wait(lambda: b"online" in op.status, 20), "device never came online over TLS"
        op.send(good)
        assert op.ack_for("c1")["ok"] is True
        op.send(sign.sign_command(b"\x01" * 32, DEV.id, body("c2", 2)))  # someone else's key
        assert "wrong signature" in op.ack_for("c2")["error"]
        op.send(body("c3", 3).encode())  # unsigned
        assert "only signed commands" in op.ack_for("c3")["error"]
        op.send(sign.sign_command(key, "pole-10", body("c4", 4)))  # signed for another device
        assert "wrong signature" in op.ack_for("c4")["error"]
        op.acks.clear()
        op.send(good)  # the same bytes again
        assert "not above the last accepted 1" in op.ack_for("c1")["error"]
        summary, out = vdevice.stop(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert summary["acks"] == 5, out
    # TLS records are read and written on a socket that always has a bounded timeout
    assert vdevice.wait_problems(summary, OP_TIMEOUT_MS) == [], out
    # After a reboot the counter is still there: the old command stays refused.
    assert json.loads((dev / "cmdctr.json").read_text()) == {"last_ctr": 1}
    op.acks.clear()
    proc = vdevice.start(dev, run_s=60)
    try:
        assert op.wait(lambda: op.status.count(b"online") >= 2, 20)
        op.send(good)
        assert "not above the last accepted 1" in op.ack_for("c1")["error"]
        op.send(sign.sign_command(key, DEV.id, body("c5", 2)))
        assert op.ack_for("c5")["ok"] is True
        vdevice.stop(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
        op.close()


def test_broker_certificate_from_another_ca_is_refused(sb, tmp_path):
    tls.make_ca(tmp_path, "someone else's CA")
    tls.write_der(tmp_path / "ca.crt", tmp_path / "other.der")
    dev = device_dir(tmp_path, sb, ca_der=(tmp_path / "other.der").read_bytes())
    summary, out = vdevice.finish(vdevice.start(dev, run_s=4))
    assert summary["connects"] == 0, out
    assert summary["last_error"] == (
        "session: ValueError The certificate is not correctly signed by the trusted CA"), summary
    # The handshake is polled, never waited on: no call on a socket without a timeout, none
    # longer than op_timeout_ms, the connect not blocking (recorded, not timed: see
    # vdevice.wait_problems).
    assert summary["sock_opened"] >= 1, out
    assert vdevice.wait_problems(summary, OP_TIMEOUT_MS) == [], out


def test_host_name_not_in_the_broker_certificate_is_refused(tmp_path):
    # A broker certified for "localhost" only, reached as 127.0.0.1: right CA, wrong name.
    with start_secure_broker([DEV], hosts=("localhost",)) as only_localhost:
        dev = device_dir(tmp_path, only_localhost, host="127.0.0.1")
        summary, out = vdevice.finish(vdevice.start(dev, run_s=4))
    assert summary["connects"] == 0, out
    assert "CN" in summary["last_error"] or "name" in summary["last_error"], summary


def test_home_assistant_discovery_is_published_when_enabled(sb, tmp_path):
    docs = {}
    got = threading.Event()
    op = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="ha-test")
    op.username_pw_set(*sb.login("operator"))

    def on_message(c, u, msg):
        docs[msg.topic] = json.loads(msg.payload)
        if len(docs) >= 5:
            got.set()

    op.on_message = on_message
    op.connect("127.0.0.1", sb.port, keepalive=10)
    op.subscribe("homeassistant/#", qos=1)
    op.loop_start()
    dev = device_dir(tmp_path, sb)
    cfg = json.loads((dev / "config.json").read_text())
    cfg["mqtt"]["ha_discovery"] = True
    (dev / "config.json").write_text(json.dumps(cfg))
    proc = vdevice.start(dev, run_s=60)  # a ceiling: stopped once the documents are in
    try:
        assert got.wait(20), docs
        vdevice.stop(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
        op.loop_stop()
        op.disconnect()
    online = docs["homeassistant/binary_sensor/pole-9/online/config"]
    assert online["state_topic"] == f"{ROOT}/status" and online["payload_on"] == "online"
    rssi = docs["homeassistant/sensor/pole-9/rssi/config"]
    assert rssi["state_topic"] == f"{ROOT}/diag" and rssi["unit_of_measurement"] == "dBm"
    assert len({d["unique_id"] for d in docs.values()}) == len(docs)
