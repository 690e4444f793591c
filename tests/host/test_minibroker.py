"""The mini broker (host_tools/minibroker) against paho-mqtt clients, and raw sockets where a
test needs bytes no well-behaved client sends. Nothing waits on the clock to prove a
negative: a message that must NOT arrive is checked against a marker published after it on
the same path (the broker keeps order per publisher and subscriber), and every wait is a
generous ceiling."""

import signal
import socket
import struct
import subprocess
import sys
import threading
import time

import paho.mqtt.client as mqtt
import pytest

from agent.mqttwire import connect_packet
from host_tools.minibroker import MiniBroker
from host_tools.minibroker.codec import encode_length

CEILING_S = 10  # the longest any wait may take on a busy host; normally a few ms


@pytest.fixture
def broker():
    with MiniBroker(port=0) as b:
        yield b


def wait_until(pred, timeout_s=CEILING_S):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.01)
    return pred()


class Client:
    """A paho client that records what it receives: (topic, payload, qos, retain)."""

    def __init__(self, port, client_id="", clean=True, keepalive=10, user=None, password=None,
                 will=None):
        self.msgs = []
        self.lock = threading.Lock()
        self.connected = threading.Event()
        self.reason = None
        self.session_present = None
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                             clean_session=clean)
        if user is not None:
            self.c.username_pw_set(user, password)
        if will is not None:
            self.c.will_set(will, b"gone", qos=1, retain=True)
        self.c.on_message = self._on_message
        self.c.on_connect = self._on_connect
        self.c.connect("127.0.0.1", port, keepalive=keepalive)
        self.c.loop_start()
        assert self.connected.wait(CEILING_S), "no CONNACK"

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        self.reason = str(reason_code)
        self.session_present = flags.session_present
        self.connected.set()

    def _on_message(self, client, userdata, msg):
        with self.lock:
            self.msgs.append((msg.topic, bytes(msg.payload), msg.qos, bool(msg.retain)))

    def subscribe(self, *filters):
        """Subscribe and wait for the SUBACK; filters are (filter, qos)."""
        done = threading.Event()
        self.c.on_subscribe = lambda *a: done.set()
        self.c.subscribe(list(filters))
        assert done.wait(CEILING_S), "no SUBACK"

    def publish(self, topic, payload, qos=0, retain=False):
        info = self.c.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(CEILING_S)  # QoS 1: until the PUBACK
        return info

    def got(self, topic):
        with self.lock:
            return [m for m in self.msgs if m[0] == topic]

    def topics(self):
        with self.lock:
            return [m[0] for m in self.msgs]

    def wait_for(self, topic):
        assert wait_until(lambda: self.got(topic)), f"{topic} never arrived: {self.msgs}"
        return self.got(topic)

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


@pytest.fixture
def clients(broker):
    made = []

    def make(**kw):
        c = Client(broker.port, **kw)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


class Raw:
    """A bare socket speaking MQTT bytes, for what paho will not send (or not stop sending)."""

    def __init__(self, port, client_id="raw", keepalive=10, will=None, connect=True):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=CEILING_S)
        if connect:
            pkt = connect_packet(client_id, keepalive, "", "", will or "unused", b"gone", True)
            self.s.sendall(pkt)
            assert self.s.recv(4) == b"\x20\x02\x00\x00", "not accepted"

    def closed_by_broker(self):
        """True once the broker has closed the connection (reads through anything pending)."""
        try:
            while True:
                data = self.s.recv(65536)
                if not data:
                    return True
        except ConnectionResetError:
            return True
        except TimeoutError:
            return False

    def close(self):
        self.s.close()


def connect_bytes(client_id=b"x", level=4, user=None, password=None):
    flags = 0x02 | (0x80 if user is not None else 0) | (0x40 if password is not None else 0)
    body = b"\x00\x04MQTT" + bytes((level, flags)) + b"\x00\x0a"
    for field in (client_id, user, password):
        if field is not None:
            body += struct.pack("!H", len(field)) + field
    return b"\x10" + encode_length(len(body)) + body


def connack_code(port, packet):
    """(CONNACK return code, whether the broker then closed the connection)"""
    with socket.create_connection(("127.0.0.1", port), timeout=CEILING_S) as s:
        s.sendall(packet)
        resp = s.recv(4)
        assert resp[:2] == b"\x20\x02", resp
        if resp[3] == 0:
            return 0, False
        return resp[3], s.recv(1) == b""  # a refusal closes the connection


def test_publish_and_subscribe_with_wildcards(clients):
    sub = clients(client_id="sub")
    everything = clients(client_id="all")
    sub.subscribe(("city/+/light", 0), ("bins/#", 0), ("end", 0))
    everything.subscribe(("#", 0))
    pub = clients(client_id="pub")
    sent = ["city/main/light", "city/main/x/light", "city", "bins", "bins/a/b", "other",
            "$SYS/uptime"]
    for topic in sent:
        pub.publish(topic, topic.encode())
    pub.publish("end", b"")
    sub.wait_for("end")
    everything.wait_for("end")
    assert sub.topics() == ["city/main/light", "bins", "bins/a/b", "end"]
    assert everything.topics() == [t for t in sent if t[0] != "$"] + ["end"]
    assert sub.got("bins/a/b") == [("bins/a/b", b"bins/a/b", 0, False)]


def test_unsubscribe_stops_delivery(clients):
    sub = clients(client_id="sub")
    sub.subscribe(("a", 0), ("end", 0))
    done = threading.Event()
    sub.c.on_unsubscribe = lambda *a: done.set()
    sub.c.unsubscribe("a")
    assert done.wait(CEILING_S), "no UNSUBACK"
    pub = clients(client_id="pub")
    pub.publish("a", b"1")
    pub.publish("end", b"")
    sub.wait_for("end")
    assert sub.got("a") == []


def test_retained_message_is_kept_for_new_subscribers_and_an_empty_one_clears_it(clients):
    live = clients(client_id="live")
    live.subscribe(("st/#", 1))
    pub = clients(client_id="pub")
    pub.publish("st/pole", b"online", qos=1, retain=True)
    # a subscriber already there gets it as a live message (retain 0, 3.1.1 3.3.1.3)
    assert live.wait_for("st/pole") == [("st/pole", b"online", 1, False)]
    late = clients(client_id="late")
    late.subscribe(("st/#", 0))
    assert late.wait_for("st/pole") == [("st/pole", b"online", 0, True)]
    pub.publish("st/pole", b"", qos=1, retain=True)  # cleared, and still passed on live
    assert wait_until(lambda: len(live.got("st/pole")) == 2)
    assert live.got("st/pole")[1] == ("st/pole", b"", 1, False)
    pub.publish("st/other", b"kept", retain=True)
    later = clients(client_id="later")
    later.subscribe(("st/#", 0))
    later.wait_for("st/other")  # retained ones are all sent at the SUBACK: nothing else left
    assert later.topics() == ["st/other"]


def test_qos1_is_acked_and_delivered_at_the_lower_qos(clients):
    q1 = clients(client_id="q1")
    q0 = clients(client_id="q0")
    q1.subscribe(("t", 1))
    q0.subscribe(("t", 0))
    pub = clients(client_id="pub")
    info = pub.publish("t", b"one", qos=1)
    assert info.is_published()  # the broker's PUBACK came back
    pub.publish("t", b"zero", qos=0)
    assert wait_until(lambda: len(q1.got("t")) == 2 and len(q0.got("t")) == 2)
    assert q1.got("t") == [("t", b"one", 1, False), ("t", b"zero", 0, False)]
    assert q0.got("t") == [("t", b"one", 0, False), ("t", b"zero", 0, False)]


def test_a_persistent_session_keeps_its_subscription_and_qos1_messages(broker, clients):
    station = Client(broker.port, client_id="station", clean=False)
    station.subscribe(("ev", 1))
    assert station.session_present is False
    station.close()
    pub = clients(client_id="pub")
    pub.publish("ev", b"while away", qos=1)
    pub.publish("ev", b"qos 0 is not kept", qos=0)
    back = Client(broker.port, client_id="station", clean=False)
    try:
        assert back.session_present is True
        assert back.wait_for("ev") == [("ev", b"while away", 1, False)]
        pub.publish("ev", b"live", qos=1)  # the subscription itself was kept
        assert wait_until(lambda: len(back.got("ev")) == 2)
    finally:
        back.close()
    fresh = Client(broker.port, client_id="station", clean=True)  # clean: session discarded
    try:
        assert fresh.session_present is False
    finally:
        fresh.close()


def test_will_on_a_dropped_client_not_on_a_clean_disconnect(broker, clients):
    watch = clients(client_id="watch")
    watch.subscribe(("dev/+/status", 1), ("end", 0))
    raw = Raw(broker.port, "dev-a", will="dev/a/status")
    raw.close()  # socket closed without DISCONNECT
    assert watch.wait_for("dev/a/status") == [("dev/a/status", b"gone", 1, False)]
    polite = Client(broker.port, client_id="dev-b", will="dev/b/status")
    polite.close()  # DISCONNECT first
    clients(client_id="pub").publish("end", b"")
    watch.wait_for("end")
    assert watch.got("dev/b/status") == []
    # the will was retained: a newcomer sees it
    late = clients(client_id="late")
    late.subscribe(("dev/+/status", 0))
    assert late.wait_for("dev/a/status") == [("dev/a/status", b"gone", 0, True)]


def test_a_silent_client_is_dropped_after_its_keepalive_and_its_will_published(clients, broker):
    watch = clients(client_id="watch")
    watch.subscribe(("dev/quiet/status", 1))
    raw = Raw(broker.port, "quiet", keepalive=1, will="dev/quiet/status")  # then says nothing
    try:
        watch.wait_for("dev/quiet/status")  # after 1.5 s; the ceiling is generous
        assert raw.closed_by_broker()
    finally:
        raw.close()


def test_a_second_connect_with_the_same_client_id_takes_over(broker, clients):
    watch = clients(client_id="watch")
    watch.subscribe(("dev/twin/status", 1), ("after", 0))
    old = Raw(broker.port, "twin", will="dev/twin/status")
    try:
        new = clients(client_id="twin")
        assert old.closed_by_broker()
        watch.wait_for("dev/twin/status")  # the old connection's will
        new.publish("after", b"the new one works", qos=1)
        assert watch.wait_for("after") == [("after", b"the new one works", 0, False)]
    finally:
        old.close()


def test_logins_are_checked_when_users_are_given():
    with MiniBroker(port=0, users={"alice": "s3cret"}) as b:
        assert connack_code(b.port, connect_bytes(user=b"alice", password=b"wrong")) == (4, True)
        assert connack_code(b.port, connect_bytes(user=b"bob", password=b"s3cret")) == (4, True)
        assert connack_code(b.port, connect_bytes()) == (5, True)  # anonymous
        ok = Client(b.port, client_id="a", user="alice", password="s3cret")
        bad = Client(b.port, client_id="b", user="alice", password="nope")
        try:
            assert ok.reason == "Success"
            assert bad.reason == "Bad user name or password"
        finally:
            ok.close()
            bad.close()


def test_connack_codes_for_bad_protocol_and_an_empty_persistent_id(broker):
    assert connack_code(broker.port, connect_bytes(level=3)) == (1, True)
    assert connack_code(broker.port, connect_bytes(level=5)) == (1, True)
    persistent_no_id = bytearray(connect_bytes(client_id=b""))
    persistent_no_id[9] = 0  # connect flags: clean session off
    assert connack_code(broker.port, bytes(persistent_no_id)) == (2, True)
    assert connack_code(broker.port, connect_bytes(client_id=b"")) == (0, False)  # id given


MALFORMED = {
    "publish QoS 3": b"\x36\x05\x00\x01t\x00\x01",
    "QoS 2 publish": b"\x34\x05\x00\x01t\x00\x01",
    "wildcard in a topic name": b"\x30\x03\x00\x01#",
    "topic longer than the packet": b"\x30\x03\x00\x09t",
    "subscribe with bad flags": b"\x80\x06\x00\x01\x00\x01t\x00",
    "subscribe without a filter": b"\x82\x02\x00\x01",
    "second CONNECT": connect_bytes(),
    "remaining length of 5 bytes": b"\x30\xff\xff\xff\xff\x01",
    "a packet type the server sends": b"\x20\x02\x00\x00",
    "not UTF-8": b"\x30\x04\x00\x02\xff\xfe",
}


@pytest.mark.parametrize("bad", list(MALFORMED.values()), ids=list(MALFORMED))
def test_a_malformed_packet_drops_only_that_client(broker, clients, bad):
    watch = clients(client_id="watch")
    watch.subscribe(("dev/bad/status", 1), ("#", 0))
    raw = Raw(broker.port, "bad", will="dev/bad/status")
    try:
        raw.s.sendall(bad)
        assert raw.closed_by_broker()
        watch.wait_for("dev/bad/status")  # dropped, not a clean goodbye
        clients(client_id="pub").publish("still/fine", b"yes", qos=1)
        watch.wait_for("still/fine")
    finally:
        raw.close()


def test_the_first_packet_must_be_connect(broker):
    raw = Raw(broker.port, connect=False)
    try:
        raw.s.sendall(b"\xc0\x00")  # PINGREQ before CONNECT
        assert raw.closed_by_broker()
    finally:
        raw.close()


def test_an_oversized_packet_drops_only_that_client():
    with MiniBroker(port=0, max_packet_bytes=4096) as b:
        watch = Client(b.port, client_id="watch")
        watch.subscribe(("#", 0))
        raw = Raw(b.port, "big", will="dev/big/status")
        try:
            topic = b"big/data"
            body = struct.pack("!H", len(topic)) + topic + b"x" * 4096
            try:
                raw.s.sendall(b"\x30" + encode_length(len(body)) + body)
            except OSError:
                pass  # the broker may close before it has all of it
            assert raw.closed_by_broker()
            watch.wait_for("dev/big/status")
            fits = Client(b.port, client_id="fits")
            fits.publish("small/data", b"x" * 4000, qos=1)
            watch.wait_for("small/data")
            fits.close()
            assert watch.got("big/data") == []
        finally:
            raw.close()
            watch.close()


def test_a_subscriber_that_does_not_read_is_dropped_and_the_rest_go_on():
    """The broker never waits on one client: what it owes a client that stopped reading
    piles up in that client's buffer until the limit, then the client is dropped."""
    with MiniBroker(port=0, max_out_bytes=64 * 1024) as b:
        watch = Client(b.port, client_id="watch")
        watch.subscribe(("dev/stuck/status", 1), ("tick", 0))
        stuck = socket.socket()
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.settimeout(CEILING_S)
        stuck.connect(("127.0.0.1", b.port))
        stuck.sendall(connect_packet("stuck", 0, "", "", "dev/stuck/status", b"gone", True))
        assert stuck.recv(4) == b"\x20\x02\x00\x00"
        stuck.sendall(b"\x82\x06\x00\x01\x00\x01#\x00")  # SUBSCRIBE "#" QoS 0, then never read
        pub = Client(b.port, client_id="pub")
        try:
            chunk = b"y" * 32 * 1024
            for _ in range(1000):  # at most 32 MB; the socket buffers take a few MB at most
                pub.publish("flood", chunk, qos=1)
                if watch.got("dev/stuck/status"):
                    break
            assert watch.got("dev/stuck/status"), "the stuck subscriber was never dropped"
            pub.publish("tick", b"still served", qos=1)
            watch.wait_for("tick")
        finally:
            stuck.close()
            pub.close()
            watch.close()


def test_stop_closes_every_socket_and_ends_the_thread():
    b = MiniBroker(port=0).start()
    port = b.port
    raw = Raw(port, "x")
    try:
        b.stop()
        assert raw.closed_by_broker()
        assert not any(t.name == f"minibroker:{port}" for t in threading.enumerate())
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        b.stop()  # twice is fine
    finally:
        raw.close()


def test_the_command_serves_until_sigterm_and_names_a_bad_users_file(tmp_path):
    users = tmp_path / "users"
    users.write_text("# operator logins\nalice:s3cret\n")
    cmd = [sys.executable, "-m", "host_tools.minibroker", "--port", "0", "--users-file"]
    proc = subprocess.Popen(cmd + [str(users)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert "(1 users)" in first, first
        port = int(first.split(" listening on 127.0.0.1:")[1].split()[0])
        assert connack_code(port, connect_bytes(user=b"alice", password=b"s3cret")) == (0, False)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=CEILING_S)
        assert proc.returncode == 0 and out.endswith("minibroker stopped\n"), out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    users.write_text("alice\n")
    bad = subprocess.run(cmd + [str(users)], capture_output=True, text=True, timeout=CEILING_S)
    assert bad.returncode == 2
    assert bad.stderr == f"minibroker: users file: {users}:1: expected user:password\n"
