"""Ring 3, the device's own defences, on a Mosquitto set up by `street broker init`: a retained
command never runs (it would reboot the device at every connect), a `set` to the value in
force touches no file, an oversize command is skipped without being held in memory, and one
signed command cannot use up the counter range."""

import json
import time

import pytest

from agent import sign
from host_tools import vdevice
from host_tools.security import start_secure_broker
from tests.broker.test_secure_agent import DEV, ROOT, Operator, body, device_dir


@pytest.fixture(scope="module")
def sb():
    with start_secure_broker([DEV]) as b:
        yield b


def lab_device(tmp_path, sb):
    """Unsigned commands (the lab choice), plain MQTT: the setting the defects were found in."""
    cfg = {"device": {"id": DEV.id, "role": "streetlight"},
           "mqtt": {"host": "127.0.0.1", "port": sb.port, "group": "elm", "signed_cmds": False,
                    "keepalive_s": 10, "backoff_max_s": 1, "connect_timeout_s": 3}}
    return vdevice.make_device(tmp_path / "dev", cfg, sb.secrets[DEV.id])


RUN_S = 60  # a ceiling: each test stops its device once it has seen what it needs


def run_until_done(proc, op, pred, what, timeout_s=30):
    """Wait (generously) for pred over the operator's messages, then stop the device and
    return its summary: a slow host costs time, never a failure."""
    try:
        assert op.wait(pred, timeout_s), what
        summary, out = vdevice.stop(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    return summary, out


def acked(op, *cids):
    return lambda: set(cids) <= {a.get("id") for a in op.acks}


GROUP_CMD = "city/main/streetlight/group/elm/cmd"


def test_retained_commands_never_run_and_are_refused_once(sb, tmp_path):
    op = Operator(sb)
    dev = lab_device(tmp_path, sb)
    before = {p.name: p.read_bytes() for p in dev.iterdir()}
    set_same = json.dumps({"id": "s1", "cmd": "set",
                           "args": {"field": "mqtt.keepalive_s", "value": 11}})
    try:
        # Left on the broker before the device comes, so every new session gets them: a
        # reboot (9 boots in 20 s before), and a `set` on the group's topic (config.json was
        # rewritten at every boot).
        op.c.publish(f"{ROOT}/cmd", body("r1", 1, "reboot"), qos=1, retain=True) \
            .wait_for_publish()
        op.c.publish(GROUP_CMD, set_same, qos=1, retain=True).wait_for_publish()
        proc = vdevice.start(dev, run_s=RUN_S)
        assert op.wait(acked(op, "r1", "s1"), 30), "no ack for the retained commands"
        # A reboot would come 1.5 s of board time after the command (the board's clock never
        # runs ahead of the host's): then a live ping, answered by the same session.
        time.sleep(2)
        op.send(body("p1", 1))
        summary, out = run_until_done(proc, op, acked(op, "p1"), "no ack for the ping")
        for cid in ("r1", "s1"):
            ack = op.ack_for(cid)
            assert ack["ok"] is False and "retained" in ack["error"], ack
        assert op.ack_for("p1")["ok"] is True
        # No reboot, one session, one ack each, no file written.
        assert summary["connects"] == 1 and summary["reconnects"] == 0, out
        assert summary["acks"] == 3, out
        assert op.status.count(b"online") == 1
        assert {p.name: p.read_bytes() for p in dev.iterdir()} == before
    finally:
        for topic in (f"{ROOT}/cmd", GROUP_CMD):  # an empty retained message clears one
            op.c.publish(topic, b"", qos=1, retain=True).wait_for_publish()
        op.close()


def test_a_set_to_the_value_in_force_writes_nothing(sb, tmp_path):
    op = Operator(sb)
    dev = lab_device(tmp_path, sb)
    before = {p.name: p.read_bytes() for p in dev.iterdir()}
    try:
        proc = vdevice.start(dev, run_s=RUN_S)
        assert op.wait(lambda: b"online" in op.status, 30), "device never came online"
        op.send(json.dumps({"id": "s1", "cmd": "set",
                            "args": {"field": "mqtt.keepalive_s", "value": 10}}).encode())
        summary, out = run_until_done(proc, op, acked(op, "s1"), "no ack for the set")
        ack = op.ack_for("s1")
        assert ack["ok"] is True and ack["state"]["unchanged"] is True, ack
        assert summary["reconnects"] == 0 and op.status.count(b"online") == 1, out
        # No file was written (no config.json.bak appeared, config.json is byte-identical).
        assert {p.name: p.read_bytes() for p in dev.iterdir()} == before
    finally:
        op.close()


class _Anonymous:
    """A plain test broker, where any login name is let in."""

    def __init__(self, port):
        self.port = port

    def login(self, who):
        return who, ""


def test_an_oversize_command_is_skipped_and_the_device_stays_connected(tmp_path, broker):
    """A broker without a packet limit (the device must not count on one): 100 KB and 1 MB
    commands on a small heap. Before, the device ran out of memory reading them whole."""
    cfg = {"device": {"id": DEV.id, "role": "streetlight"},
           "mqtt": {"host": "127.0.0.1", "port": broker.port, "group": "elm",
                    "signed_cmds": False, "keepalive_s": 10, "backoff_max_s": 1}}
    dev = vdevice.make_device(tmp_path / "dev", cfg, {"wifi": {"ssid": "street"}})
    op = Operator(_Anonymous(broker.port))
    try:
        proc = vdevice.start(dev, run_s=RUN_S, heap="512K")
        assert op.wait(lambda: b"online" in op.status, 30), "device never came online"
        for size in (100_000, 1_000_000):
            pad = "x" * size
            op.c.publish(f"{ROOT}/cmd", json.dumps({"id": "big", "cmd": "ping", "pad": pad}),
                         qos=1).wait_for_publish()
        op.send(body("after", 1))  # still connected and listening
        summary, out = run_until_done(proc, op, acked(op, "after"),
                                      "no ack after the oversize commands")
        assert op.ack_for("after")["ok"] is True
        assert not any(a.get("id") == "big" for a in op.acks)
        assert summary["reconnects"] == 0 and summary["acks"] == 1, out
        assert "MemoryError" not in out
    finally:
        op.close()


def test_one_signed_command_cannot_lock_out_the_rest(sb, tmp_path):
    key = bytes.fromhex(sb.secrets[DEV.id]["cmd"]["key"])
    op = Operator(sb)
    proc = vdevice.start(device_dir(tmp_path, sb), run_s=RUN_S)
    try:
        assert op.wait(lambda: b"online" in op.status, 30), "device never came online"
        op.send(sign.sign_command(key, DEV.id, body("top", 2**53 - 1)))
        assert "more than" in op.ack_for("top")["error"]
        op.send(sign.sign_command(key, DEV.id, body("next", 1)))
        summary, out = run_until_done(proc, op, acked(op, "next"), "no ack for the next command")
        assert op.ack_for("next")["ok"] is True, out
    finally:
        op.close()
