# Wi-Fi + MQTT link over umqtt.simple (shell). The control loop calls service() every few
# tens of ms; nothing here waits longer than mqtt.op_timeout_ms on the network.
#
# umqtt.simple's own connect() blocks (1.3.4 has no timeout at all) and its ssl argument
# means different things in 1.3.4 and 1.7.0, so the link opens the session itself: TCP
# connect polled without blocking, TLS via ssl.SSLContext, CONNECT written here and CONNACK
# polled. The open socket, wrapped so every read and write is bounded, is then handed to
# MQTTClient for subscribe / publish / check_msg / ping: the same calls in every version.
# Incoming packets are read by our own wait_msg (_Client), which umqtt's publish and
# subscribe call too: it hands on the retain flag (a retained command must never run) and
# refuses a PUBLISH over PACKET_IN_MAX by reading it off in small pieces, never whole.
#
# States: WIFI (associating) -> TCP (connect in progress) -> SESSION (TLS handshake, CONNECT,
# CONNACK, all polled) -> UP; any failure -> WAIT (backoff with full jitter) -> TCP again.
# Wi-Fi loss goes back to WIFI without touching the broker backoff: a dead access point is
# not a dead broker.
# pyright: reportOptionalMemberAccess=false
# (sock, poller, client... are None exactly when the state says there is no session)
import errno
import random
import select
import socket
import time

import network
from micropython import const
from umqtt.simple import MQTTClient

from agent.backoff import Backoff, uniform_from_bits
from agent.mqttwire import connack_error, connect_packet
from agent.outbox import Outbox
from agent.sched import ticks_add, ticks_diff

WIFI = const(0)
TCP = const(1)
SESSION = const(2)
UP = const(3)
WAIT = const(4)
STATE_NAMES = ("wifi", "tcp", "session", "up", "wait")  # session: TLS, CONNECT, CONNACK
_INBOX_MAX = const(8)  # commands waiting for the app; more in one burst are dropped and counted
_READS_PER_SERVICE = const(8)  # bound the work of one service() call under a message flood
_FLUSH_PER_SERVICE = const(4)
# The largest PUBLISH (remaining length) taken in: a signed command is at most 1 KB
# (agent.sign.WRAPPER_MAX_BYTES) plus its topic; anything bigger is skipped, not allocated.
PACKET_IN_MAX = const(2048)
_SKIP_CHUNK = const(64)
# Same numbers in lwIP and Linux; not all ports name them.
_IPPROTO_TCP = const(6)
_TCP_NODELAY = const(1)
# Association failures the radio reports at once (no point waiting for the timeout).
_WIFI_FAILED = {  # as last_error says it (made once: a failed attempt builds no string)
    network.STAT_NO_AP_FOUND: "wifi: access point not found",
    network.STAT_WRONG_PASSWORD: "wifi: wrong Wi-Fi password",
    network.STAT_CONNECT_FAIL: "wifi: association failed",
}


class LinkError(Exception):
    pass


class _BoundedSocket:
    """The socket umqtt.simple sees.

    Bounded: umqtt switches to blocking mode after the first byte of a packet; here
    'blocking' means 'at most timeout_s', so a broker that stops mid-packet (or a tarpit)
    costs one timeout, never a hang.
    Coalesced: umqtt writes a packet in pieces; sent as they come, Nagle's algorithm and the
    peer's delayed ACK hold each QoS 1 round trip for ~40 ms. Pieces are gathered and go out
    as one segment before the next read, or when the link flushes at the end of a step.
    """

    def __init__(self, stream, raw, timeout_s):
        self.stream = stream  # what to read/write: the TLS wrapper or the raw socket
        self.raw = raw  # what carries the timeout
        self.timeout_s = timeout_s
        self.blocking = True
        self.out = bytearray()
        self.rx = 0  # bytes received: any inbound traffic proves the broker alive
        raw.settimeout(timeout_s)

    def read(self, n):
        self.flush()
        data = self.stream.read(n)
        if data:
            self.rx += len(data)
        return data

    def write(self, buf, n=None):
        if n is None:
            self.out.extend(buf)
            return len(buf)
        self.out.extend(memoryview(buf)[:n])
        return n

    def flush(self):
        if not self.out:
            return
        if not self.blocking:
            self.raw.settimeout(self.timeout_s)
        try:
            self.stream.write(self.out)
        finally:
            self.out = bytearray()
            if not self.blocking:
                self.raw.settimeout(0)

    def skip(self, n, scratch):
        """Read n bytes off the stream into a reused buffer: an oversize packet costs no
        heap. Raises OSError if the peer stops before (the session is then dropped)."""
        self.flush()
        while n > 0:
            got = self.stream.readinto(scratch, n if n < len(scratch) else len(scratch))
            if not got:
                raise OSError(errno.ETIMEDOUT)
            self.rx += got
            n -= got

    def setblocking(self, flag):
        self.blocking = flag
        self.raw.settimeout(self.timeout_s if flag else 0)

    def close(self):
        self.stream.close()


class _Client(MQTTClient):
    """umqtt.simple's client, reading incoming packets itself (same contract as umqtt's
    wait_msg: returns the type byte of a packet it does not consume, for publish() and
    subscribe() to read the rest). The callback gets (topic, payload, retained)."""

    def __init__(self, link):
        MQTTClient.__init__(self, link.client_id, link.host, link.port,
                            keepalive=link.keepalive_s)
        self.link = link

    def wait_msg(self):
        sock = self.sock
        res = sock.read(1)
        sock.setblocking(True)
        if res is None:
            return None
        if res == b"":
            raise OSError(-1)
        op = res[0]
        if op == 0xD0:  # PINGRESP
            sock.read(1)
            return None
        if op & 0xF0 != 0x30:
            return op
        sz = self._recv_len()
        qos = (op >> 1) & 3
        if qos == 2:
            raise LinkError("QoS 2 PUBLISH: subscriptions are QoS 1")
        head = sock.read(2)
        tlen = head[0] << 8 | head[1]
        left = sz - 2 - tlen - (2 if qos else 0)
        if left < 0:
            raise LinkError("malformed PUBLISH")
        big = sz > PACKET_IN_MAX
        # The packet id sits after the topic: an oversize packet's topic is skipped, its id
        # kept to acknowledge (so the broker does not send it again), its payload skipped.
        scratch = self.link.scratch
        topic = sock.skip(tlen, scratch) if big else sock.read(tlen)
        pid = sock.read(2) if qos else None
        if big:
            sock.skip(left, scratch)
            self.link.oversize += 1
        else:
            self.cb(topic, sock.read(left), op & 1)
        if pid is not None:
            sock.write(b"\x40\x02" + pid)  # PUBACK
        return op


class Link:
    def __init__(self, cfg, secrets, topics, now_ms, wlan=None, ca_data=None, on_up=None):
        m = cfg["mqtt"]
        self.host = m["host"]
        self.tls = m["tls"]
        self.port = m["port"]
        self.keepalive_s = m["keepalive_s"]
        self.op_timeout_ms = m["op_timeout_ms"]
        self.op_timeout_s = m["op_timeout_ms"] / 1000
        self.connect_timeout_ms = m["connect_timeout_s"] * 1000
        self.wifi_timeout_ms = cfg["wifi"]["connect_timeout_s"] * 1000
        self.wifi_timeout_error = "wifi: no association in %d s" % cfg["wifi"]["connect_timeout_s"]
        self.ssid = secrets["wifi"]["ssid"] if secrets else ""
        self.wifi_key = secrets["wifi"]["password"] if secrets else ""
        self.user = secrets["mqtt"]["user"] if secrets else ""
        self.password = secrets["mqtt"]["password"] if secrets else ""
        self.ca_data = ca_data
        self.topics = topics
        self.client_id = cfg["device"]["id"]
        rand = uniform_from_bits(random.getrandbits)
        self.backoff = Backoff(base_ms=1000, cap_ms=m["backoff_max_s"] * 1000, rand=rand)
        self.wifi_backoff = Backoff(base_ms=2000, cap_ms=60000, rand=rand)
        self.outbox = Outbox(m["queue_len"])
        self.inbox = []  # (topic, payload, retained) of messages received, for the app
        self.inbox_dropped = 0
        self.oversize = 0  # incoming messages over PACKET_IN_MAX, skipped unread
        self.scratch = bytearray(_SKIP_CHUNK)
        self.wlan = wlan if wlan is not None else network.WLAN(network.STA_IF)
        self.state = WIFI
        self.since = now_ms  # when the current state began
        self.retry_at = now_ms
        self.wifi_started = None  # when the current association attempt began
        self.wifi_retry_at = now_ms
        self.sock = None
        self.stream = None
        self.pending = b""  # CONNECT bytes not yet accepted by the socket
        self.poller = None
        self.client = None
        self.bounded = None
        self.last_rx = now_ms
        self.last_tx = now_ms
        self.last_ping = now_ms
        self.last_rx_bytes = 0
        self.connects = 0  # sessions opened
        self.reconnects = 0  # sessions lost
        self.last_error = ""
        self.on_up = on_up  # fn(now_ms): e.g. publish retained state after every reconnect

    # ---- what the app calls ----

    @property
    def up(self):
        return self.state == UP

    def rssi(self):
        try:
            return self.wlan.status("rssi") if self.wlan.isconnected() else None
        except Exception:
            return None

    def publish(self, topic, payload, retain=False):
        """Fire-and-forget (QoS 0) for state and telemetry, which are sent again anyway.
        Returns False if the link is down (nothing is queued)."""
        if self.state != UP:
            return False
        try:
            self.client.publish(topic, payload, retain)
            self.bounded.flush()
            self.last_tx = time.ticks_ms()
            return True
        except Exception as e:
            self._drop(time.ticks_ms(), "publish", e)
            return False

    def send_event(self, topic, payload):
        """Events are queued and delivered in order with QoS 1, even across outages."""
        self.outbox.put(topic, payload)

    def service(self, now_ms):
        """Move the link one step; returns ms until it wants to be called again."""
        try:
            if not self.wlan.isconnected():
                if self.state != WIFI:
                    self._drop(now_ms, "wifi", None)
                    self._to(WIFI, now_ms)
                return self._wifi(now_ms)
            self.wifi_started = None
            self.wifi_backoff.connected(now_ms)
            if self.state == WIFI:
                self._to(WAIT, now_ms)
                self.retry_at = now_ms
            if self.state == WAIT:
                if ticks_diff(now_ms, self.retry_at) < 0:
                    return ticks_diff(self.retry_at, now_ms)
                self._open(now_ms)
                return 20
            if self.state == TCP:
                return self._poll_tcp(now_ms)
            if self.state == SESSION:
                return self._poll_connack(now_ms)
            return self._serve(now_ms)
        except Exception as e:  # anything the network throws ends the session, never the loop
            self._drop(now_ms, STATE_NAMES[self.state], e)
            return 20

    def close(self):
        """Leave cleanly (DISCONNECT: the broker then does not publish the last will)."""
        if self.state == UP:
            try:
                self.client.disconnect()
            except Exception:
                pass
        self._close_socket()
        self._to(WAIT, time.ticks_ms())

    # ---- states ----

    def _to(self, state, now_ms):
        self.state = state
        self.since = now_ms

    def _wifi(self, now_ms):
        if not self.ssid:
            return 1000
        if not self.wlan.active():
            self.wlan.active(True)
        if self.wifi_started is None:
            if ticks_diff(now_ms, self.wifi_retry_at) < 0:
                return ticks_diff(self.wifi_retry_at, now_ms)
            self.wlan.connect(self.ssid, self.wifi_key)  # returns at once; we poll
            self.wifi_started = now_ms
        else:
            status = self.wlan.status()
            if status in _WIFI_FAILED:
                why = _WIFI_FAILED[status]
            elif ticks_diff(now_ms, self.wifi_started) > self.wifi_timeout_ms:
                why = self.wifi_timeout_error
            else:
                return 250
            self.wlan.disconnect()
            self.wifi_started = None
            self.wifi_backoff.failed()
            self.wifi_retry_at = ticks_add(now_ms, self.wifi_backoff.next_delay())
            self.last_error = why
            return ticks_diff(self.wifi_retry_at, now_ms)
        return 250

    def _open(self, now_ms):
        # DNS can block inside lwIP on the chip: configure an IP address where that matters.
        addr = socket.getaddrinfo(self.host, self.port)[0][-1]
        s = socket.socket()
        self.sock = s
        try:
            # Whole packets go out in one write (see _BoundedSocket), so Nagle can only
            # delay them: a QoS 1 publish right after a QoS 0 one would wait ~40 ms for
            # the broker's delayed ACK.
            s.setsockopt(_IPPROTO_TCP, _TCP_NODELAY, 1)
        except Exception:
            pass  # a port without the option: Nagle stays, only slower
        s.setblocking(False)
        try:
            s.connect(addr)
        except OSError as e:
            if e.errno not in (errno.EINPROGRESS, errno.EAGAIN):
                raise
        self.poller = select.poll()
        self.poller.register(s, select.POLLOUT)
        self._to(TCP, now_ms)

    def _timed_out(self, now_ms):
        return ticks_diff(now_ms, self.since) > self.connect_timeout_ms

    def _poll_tcp(self, now_ms):
        ev = self.poller.poll(0)
        if not ev:
            if self._timed_out(now_ms):
                raise OSError(errno.ETIMEDOUT)
            return 20
        if ev[0][1] & (select.POLLERR | select.POLLHUP):
            raise OSError(errno.ECONNREFUSED)
        self.stream = self._wrap_tls(self.sock) if self.tls else self.sock
        self.pending = connect_packet(self.client_id, self.keepalive_s, self.user,
                                      self.password, self.topics.status, b"offline", True)
        self.poller.modify(self.sock, select.POLLIN)
        self._to(SESSION, now_ms)
        return 0

    def _wrap_tls(self, sock):
        import ssl

        if not self.ca_data:
            raise LinkError("TLS is on but there is no CA certificate to check the broker")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cadata=self.ca_data)
        # No handshake here: on the non-blocking socket it advances a step each time
        # _poll_connack tries to write CONNECT, so a silent TLS peer cannot stall the loop.
        return ctx.wrap_socket(sock, server_hostname=self.host, do_handshake_on_connect=False)

    def _poll_connack(self, now_ms):
        if self.pending:
            # Non-blocking write of CONNECT; with TLS this also drives the handshake, and
            # returns None until the handshake is done.
            n = self.stream.write(self.pending)
            if n:
                self.pending = self.pending[n:]
            if self.pending:
                if self._timed_out(now_ms):
                    raise OSError(errno.ETIMEDOUT)
                return 20
            self.bounded = _BoundedSocket(self.stream, self.sock, self.op_timeout_s)
        if not self.poller.poll(0):
            if self._timed_out(now_ms):
                raise OSError(errno.ETIMEDOUT)
            return 20
        why = connack_error(self.bounded.read(4))
        if why:
            raise LinkError(why)
        c = _Client(self)
        c.sock = self.bounded
        c.set_callback(self._on_message)
        self.client = c
        for t in self.topics.subscriptions():
            c.subscribe(t, 1)
        c.publish(self.topics.status, b"online", True, 1)
        self.bounded.flush()
        self.last_rx = self.last_tx = self.last_ping = now_ms
        self.last_rx_bytes = self.bounded.rx
        self.connects += 1
        self.backoff.connected(now_ms)
        self._to(UP, now_ms)
        if self.on_up is not None:
            self.on_up(now_ms)
        return 0

    def _serve(self, now_ms):
        c = self.client
        b = self.bounded
        for _ in range(_READS_PER_SERVICE):
            before = b.rx
            op = c.check_msg()
            if op == 0x40:  # a late PUBACK: umqtt leaves its 3 remaining bytes to us
                b.read(3)
            if b.rx == before:
                break
        if b.rx != self.last_rx_bytes:
            self.last_rx_bytes = b.rx
            self.last_rx = now_ms
        for _ in range(_FLUSH_PER_SERVICE):
            item = self.outbox.peek()
            if item is None:
                break
            c.publish(item[0], item[1], False, 1)  # waits for PUBACK, bounded per read
            self.outbox.pop()  # only now: a lost PUBACK means the event is sent again
            self.last_tx = now_ms
        self.backoff.maybe_reset(now_ms)
        ka_ms = self.keepalive_s * 1000
        half = ka_ms // 2
        if ticks_diff(now_ms, self.last_rx) > ka_ms + half:
            raise OSError(errno.ETIMEDOUT)  # broker silent for 1.5 keepalives
        # Ping when we have been quiet (the broker's keepalive), and also when the broker
        # has: QoS 0 publishes get no answer, so a device that publishes often would
        # otherwise never hear from a healthy broker and give it up as silent.
        if ticks_diff(now_ms, self.last_tx) >= half or \
                (ticks_diff(now_ms, self.last_rx) >= half and
                 ticks_diff(now_ms, self.last_ping) >= half):
            c.ping()
            self.last_tx = self.last_ping = now_ms
        b.flush()
        return 0 if len(self.outbox) else 250

    def wait_rx(self, ms):
        """Wait up to ms (at most op_timeout_ms) for the broker's next bytes: True as soon
        as the session's socket is readable (or broken), False after ms or when there is
        no session (the caller sleeps instead). ipoll reuses its result: no garbage."""
        if self.state != UP:
            return False
        limit = self.op_timeout_ms
        for _ in self.poller.ipoll(ms if ms < limit else limit):
            return True
        return False

    def _on_message(self, topic, payload, retained):
        if len(self.inbox) >= _INBOX_MAX:
            self.inbox_dropped += 1
            return
        self.inbox.append((topic, payload, retained))

    def _close_socket(self):
        for s in (self.stream, self.sock):
            if s is not None:
                try:
                    s.close()
                except Exception:
                    pass
        self.sock = self.stream = self.poller = self.client = self.bounded = None

    def _drop(self, now_ms, where, exc):
        was_up = self.state == UP
        self._close_socket()
        if exc is not None:
            if isinstance(exc, LinkError):
                detail = str(exc)
            elif isinstance(exc, OSError):  # (MicroPython gives every exception an errno)
                detail = "OSError %s" % (exc.args[0] if exc.args else "")
            else:
                detail = "%s %s" % (type(exc).__name__, str(exc).strip())
            self.last_error = "%s: %s" % (where, detail)
        if was_up:
            self.reconnects += 1
        if where == "wifi":
            # Not the broker's fault: when the access point is back, connect at once.
            self.retry_at = now_ms
        else:
            self.backoff.failed()
            self.retry_at = ticks_add(now_ms, self.backoff.next_delay())
        self._to(WAIT, now_ms)
