"""The wires an in-process agent's link runs on.

Bus: no broker at all. Exact topics, retained messages, the last will on an outage, and
filter listeners (the station's `+` subscriptions), delivered synchronously in virtual time.
For ring-1 tests and for measuring the agents alone.

Sessions: one real MQTT 3.1.1 session per agent against a real broker (Mosquitto), every
socket non-blocking on one selector served by the engine while it waits. The broker sees
each device as a device: its own client id, clean session, keepalive, the retained
`offline` last will (CONNECT from the firmware's agent.mqttwire.connect_packet), the
retained `online`, its subscriptions (cmd, group cmd, group peer), QoS 1 events with
PUBACK, QoS 0 state/telemetry/peer. Costs one file descriptor per agent here and one in the
broker (ulimit -n), and the broker's memory per session; keepalive pings run on the real
clock (the broker's), not the virtual one.
"""

import errno
import selectors
import socket
import struct
import time

from agent.mqttwire import connack_error, connect_packet


def topic_matches(filt, topic):
    """MQTT filter matching ('+' one level, '#' the rest)."""
    f, t = filt.split("/"), topic.split("/")
    for i, part in enumerate(f):
        if part == "#":
            return True
        if i >= len(t) or (part != "+" and part != t[i]):
            return False
    return len(f) == len(t)


class Bus:
    def __init__(self):
        self.subs = {}  # topic bytes -> [link]
        self.retained = {}
        self.listeners = []  # (filter str, fn(topic str, payload bytes))
        self.wires = []
        self.up = True
        self.messages = 0
        self.bytes = 0
        self.tap = None  # fn(topic bytes, payload): sees every publish (the bench)

    def wire(self, topics):
        w = BusWire(self, topics)
        self.wires.append(w)
        return w

    def listen(self, filt, fn):
        self.listeners.append((filt, fn))

    def publish(self, topic, payload, retain=False):
        self.messages += 1
        self.bytes += len(topic) + len(payload)
        if self.tap is not None:
            self.tap(topic, payload)
        if retain:
            self.retained[topic] = payload
        for link in self.subs.get(topic, ()):
            link.wire_message(topic, payload, False)
        if self.listeners:
            ts = topic.decode() if isinstance(topic, bytes) else topic
            for filt, fn in self.listeners:
                if topic_matches(filt, ts):
                    fn(ts, payload)

    def outage(self, down):
        """The broker stops (every session lost, each will published) or comes back."""
        self.up = not down
        if down:
            for w in self.wires:
                if w.link is not None:
                    w.drop("broker: connection lost", will=True)


class BusWire:
    def __init__(self, bus, topics):
        self.bus = bus
        self.topics = topics
        self.link = None

    def connect(self, link):
        if not self.bus.up:
            link.wire_lost("tcp: connection refused")
            return
        self.link = link
        for t in self.topics.subscriptions():
            self.bus.subs.setdefault(t, []).append(link)
        link.wire_up()
        self.bus.publish(self.topics.status, b"online", True)
        for t in self.topics.subscriptions():
            if t in self.bus.retained:
                link.wire_message(t, self.bus.retained[t], True)

    def drop(self, why, will):
        link, self.link = self.link, None
        for t in self.topics.subscriptions():
            subs = self.bus.subs.get(t)
            if subs and link in subs:
                subs.remove(link)
        if will:
            self.bus.publish(self.topics.status, b"offline", True)
        link.wire_lost(why)

    def send(self, topic, payload, retain, qos):
        if self.link is None:
            return False
        self.bus.publish(topic, payload, retain)
        if qos:
            self.link.wire_acked()
        return True


class NoNetwork:
    """No access point (vdevice ap=0): the link's Wi-Fi attempts fail (inprocess_link's
    HostLink._wifi), it never comes up."""

    no_ap_ms = 3000  # host_tools/simboard/network.py _NO_AP_SCAN_MS: the radio gives up

    def connect(self, link):
        link.wire_lost("wifi: access point not found")

    def send(self, topic, payload, retain, qos):
        return False


def _varlen(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | 0x80 if n else b)
        if not n:
            return bytes(out)


def publish_packet(topic, payload, retain, qos, pid):
    head = 0x30 | (qos << 1) | (1 if retain else 0)
    var = struct.pack("!H", len(topic)) + topic + (struct.pack("!H", pid) if qos else b"")
    return bytes((head,)) + _varlen(len(var) + len(payload)) + var + payload


def subscribe_packet(pid, topics):
    body = struct.pack("!H", pid) + b"".join(struct.pack("!H", len(t)) + t + b"\x01"
                                             for t in topics)
    return b"\x82" + _varlen(len(body)) + body


_DOWN, _TCP, _CONNACK, _UP = 0, 1, 2, 3
_STATUS_PID = 1  # the retained online's PUBACK: nothing waits on it
_SUB_PID = 2


class Sessions:
    """Every agent's socket on one selector; the engine calls poll(timeout_s) while it waits
    and now and then while it is behind."""

    def __init__(self, host, port, keepalive_s=30):
        self.host, self.port = host, port
        self.keepalive_s = keepalive_s
        self.sel = selectors.DefaultSelector()
        self.wires = []
        self.sent = 0
        self.received = 0
        self.connects = 0
        self.failures = 0
        self._next_ka = 0.0
        self.tap = None  # fn(topic bytes, payload): sees every publish (the bench)

    def wire(self, topics, client_id):
        w = SessionWire(self, topics, client_id)
        self.wires.append(w)
        return w

    def poll(self, timeout_s):
        for key, mask in self.sel.select(timeout_s):
            key.data.ready(mask)
        now = time.monotonic()
        if now >= self._next_ka:  # one sweep a second: PINGREQ where nothing went out
            self._next_ka = now + 1.0
            half = self.keepalive_s / 2
            for w in self.wires:
                if w.state == _UP and now - w.last_tx >= half:
                    w.write(b"\xc0\x00")

    def close(self):
        for w in self.wires:
            if w.sock is not None:
                w.write(b"\xe0\x00")  # DISCONNECT: a clean end, no will
                w.close()
        self.sel.close()

    def open_sockets(self):
        return sum(1 for w in self.wires if w.sock is not None)


class SessionWire:
    def __init__(self, sessions, topics, client_id):
        self.s = sessions
        self.topics = topics
        self.client_id = client_id
        self.sock = None
        self.link = None
        self.state = _DOWN
        self.rx = bytearray()
        self.out = bytearray()
        self.pid = _SUB_PID
        self.event_pid = None
        self.last_tx = 0.0
        self.mask = 0

    def connect(self, link):
        self.link = link
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        err = sock.connect_ex((self.s.host, self.s.port))
        if err not in (0, errno.EINPROGRESS):
            sock.close()
            self.s.failures += 1
            link.wire_lost("tcp: %s" % errno.errorcode.get(err, err))
            return
        self.sock = sock
        self.state = _TCP
        self.s.sel.register(sock, selectors.EVENT_WRITE, self)

    def ready(self, mask):
        if self.sock is None:
            return
        if self.state == _TCP:
            err = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                return self._lost("tcp: %s" % errno.errorcode.get(err, err))
            self.state = _CONNACK
            self.mask = selectors.EVENT_READ
            self.s.sel.modify(self.sock, selectors.EVENT_READ, self)
            self.write(connect_packet(self.client_id, self.s.keepalive_s, "", "",
                                      self.topics.status, b"offline", True))
            return
        if mask & selectors.EVENT_WRITE:
            self._flush()
        if mask & selectors.EVENT_READ:
            try:
                data = self.sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                return self._lost("recv: %s" % e)
            if not data:
                return self._lost("broker closed the session")
            self.rx += data
            self._parse()

    def _parse(self):
        buf = self.rx
        while len(buf) >= 2:
            n, mult, i = 0, 1, 1
            while True:
                if i >= len(buf):
                    return
                b = buf[i]
                n += (b & 0x7F) * mult
                mult <<= 7
                i += 1
                if not b & 0x80:
                    break
            if len(buf) < i + n:
                return
            op = buf[0]
            body = bytes(buf[i:i + n])
            del buf[:i + n]
            self._packet(op, body)
            if self.sock is None:
                return

    def _packet(self, op, body):
        kind = op & 0xF0
        if kind == 0x30:
            qos = (op >> 1) & 3
            tlen = body[0] << 8 | body[1]
            topic = body[2:2 + tlen]
            at = 2 + tlen
            if qos:
                self.write(b"\x40\x02" + body[at:at + 2])
                at += 2
            self.s.received += 1
            self.link.wire_message(topic, body[at:], op & 1)
        elif kind == 0x40:
            pid = body[0] << 8 | body[1]
            if pid == self.event_pid:
                self.event_pid = None
                self.link.wire_acked()
        elif kind == 0x20:
            why = connack_error(bytes((op, len(body))) + body)
            if why is not None:
                return self._lost(why)
            self.state = _UP
            self.s.connects += 1
            self.write(subscribe_packet(_SUB_PID, self.topics.subscriptions()))
            self.write(publish_packet(self.topics.status, b"online", True, 1, _STATUS_PID))
            self.link.wire_up()

    def send(self, topic, payload, retain, qos):
        if self.state != _UP:
            return False
        pid = 0
        if qos:
            self.pid = self.pid + 1 if self.pid < 0xFFFF else _SUB_PID + 1
            pid = self.event_pid = self.pid
        self.s.sent += 1
        if self.s.tap is not None:
            self.s.tap(topic, payload)
        self.write(publish_packet(topic, payload, retain, qos, pid))
        return self.sock is not None

    def write(self, data):
        if self.sock is None:
            return
        pending = bool(self.out)
        self.out += data
        self.last_tx = time.monotonic()
        if not pending:
            self._flush()

    def _flush(self):
        try:
            n = self.sock.send(self.out)
        except (BlockingIOError, InterruptedError):
            n = 0
        except OSError as e:
            return self._lost("send: %s" % e)
        del self.out[:n]
        want = selectors.EVENT_READ | (selectors.EVENT_WRITE if self.out else 0)
        if self.state != _TCP and want != self.mask:  # epoll_ctl only when it changes
            self.mask = want
            self.s.sel.modify(self.sock, want, self)

    def _lost(self, why):
        self.close()
        self.s.failures += 1
        if self.link is not None:
            self.link.wire_lost(why)

    def close(self):
        if self.sock is not None:
            try:
                self.s.sel.unregister(self.sock)
            except (KeyError, ValueError):
                pass
            self.sock.close()
            self.sock = None
        self.state = _DOWN
        self.rx = bytearray()
        self.out = bytearray()
        self.event_pid = None
