"""The mini broker: one thread, one `selectors` loop, every socket non-blocking.

Why selectors and not asyncio: the broker runs in a thread beside whatever the caller does
(a demo, a test that has its own event loop), and every byte it owes a client sits in that
client's own buffer where the limit is one `len()` away; a loop of our own with a wake-up
socket gives stop() a prompt, deterministic end without an event loop to hand around.

State is touched only by the broker's thread. A client that breaks the protocol, sends a
packet over the size limit, falls silent past 1.5x its keepalive or lets its outgoing buffer
grow past the limit is dropped (its will published); nobody else notices."""

import hmac
import selectors
import socket
import threading
import time
from collections import deque

from . import codec
from .codec import Malformed
from .topics import matches, valid_filter

MAX_PACKET_BYTES = 256 * 1024  # whole packet, header included
MAX_OUT_BYTES = 1024 * 1024  # what one client may owe before it is dropped as too slow
MAX_INFLIGHT = 100  # QoS 1 messages sent and not yet acked, per session
MAX_QUEUED = 1000  # QoS 1 messages waiting (offline persistent session, or inflight full)
CONNECT_TIMEOUT_S = 10.0  # a socket that has not sent CONNECT by then is closed
_RECV_BYTES = 65536


class Session:
    """What outlives a connection when the client asked for a persistent one (clean
    session 0): its subscriptions and its QoS 1 messages not yet acknowledged."""

    def __init__(self, client_id: str, clean: bool):
        self.client_id = client_id
        self.clean = clean
        self.subs: dict[str, int] = {}  # filter -> granted QoS
        self.inflight: dict[int, tuple[str, bytes, bool]] = {}  # pid -> topic, payload, retain
        self.queue: deque[tuple[str, bytes, bool]] = deque()
        self.queue_dropped = 0
        self.conn: "Connection | None" = None
        self._pid = 0

    def next_pid(self) -> int:
        while True:
            self._pid = self._pid % 65535 + 1
            if self._pid not in self.inflight:
                return self._pid


class Connection:
    def __init__(self, sock: socket.socket, peer: str, now: float):
        self.sock = sock
        self.peer = peer
        self.inbuf = bytearray()
        self.outbuf = bytearray()
        self.session: Session | None = None
        self.keepalive_s = 0
        self.last_rx = now
        self.accepted_at = now
        self.will: tuple[str, bytes, int, bool] | None = None
        self.doomed: str | None = None  # why it will be dropped at the end of this round
        self.closed = False
        self.writing = False  # registered for EVENT_WRITE


class MiniBroker:
    """An MQTT 3.1.1 broker for demos and tests (QoS 0 and 1, no TLS, no persistence).

    `users`: {user name: password} to require a login, None to admit anyone. `log`: called
    with one line per connect and drop (e.g. print), None for silence."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0,
                 users: dict[str, str] | None = None, *,
                 max_packet_bytes: int = MAX_PACKET_BYTES, max_out_bytes: int = MAX_OUT_BYTES,
                 log=None):
        self.host = host
        self.port = port
        self.users = dict(users) if users is not None else None
        self.max_packet_bytes = max_packet_bytes
        self.max_out_bytes = max_out_bytes
        self.log = log
        self.sessions: dict[str, Session] = {}
        self.retained: dict[str, tuple[bytes, int]] = {}  # topic -> payload, qos
        self._conns: dict[socket.socket, Connection] = {}
        self._doomed: list[Connection] = []
        self._dirty: set[Connection] = set()
        self._auto_ids = 0
        self._listener: socket.socket | None = None
        self._sel: selectors.BaseSelector | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False

    # ---- the caller's thread ----

    def start(self) -> "MiniBroker":
        """Listen (port 0: a free one, then in self.port) and serve in a thread. Raises
        OSError if the address cannot be bound. Starting a running broker does nothing."""
        if self._thread is not None:
            return self
        lst = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
        try:
            lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            lst.bind((self.host, self.port))
            lst.listen(128)
            lst.setblocking(False)
        except OSError:
            lst.close()
            raise
        self._listener = lst
        self.port = lst.getsockname()[1]
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._sel = selectors.DefaultSelector()
        self._sel.register(lst, selectors.EVENT_READ)
        self._sel.register(self._wake_r, selectors.EVENT_READ)
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=f"minibroker:{self.port}",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        """Close every socket and end the thread. Safe to call twice."""
        thread = self._thread
        if thread is None:
            return
        self._stopping = True
        try:
            assert self._wake_w is not None
            self._wake_w.send(b"x")
        except OSError:
            pass
        thread.join(timeout_s)
        if thread.is_alive():
            raise RuntimeError(f"minibroker on port {self.port} did not stop in {timeout_s} s")
        self._thread = None

    def __enter__(self) -> "MiniBroker":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---- the broker's thread ----

    def _run(self) -> None:
        assert self._sel is not None
        try:
            while not self._stopping:
                events = self._sel.select(self._next_timeout())
                for key, mask in events:
                    self._on_event(key.fileobj, mask)
                self._check_timers(time.monotonic())
                self._reap()
                self._flush_dirty()
                self._reap()
        finally:
            self._shutdown()

    def _on_event(self, sock, mask: int) -> None:
        if sock is self._listener:
            self._accept()
        elif sock is self._wake_r:
            try:
                self._wake_r.recv(64)
            except OSError:
                pass
        else:
            conn = self._conns.get(sock)
            if conn is None or conn.closed:
                return
            if mask & selectors.EVENT_WRITE:
                self._flush(conn)
            if mask & selectors.EVENT_READ and not conn.doomed:
                try:
                    self._read(conn)
                except Malformed as e:
                    self._doom(conn, f"protocol error: {e}")
                except Exception as e:  # a bug here must cost one client, not the broker
                    self._doom(conn, f"internal error: {type(e).__name__}: {e}")

    def _accept(self) -> None:
        assert self._listener is not None and self._sel is not None
        for _ in range(64):
            try:
                sock, addr = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:  # e.g. out of file descriptors: keep serving the others
                self._say(f"accept failed: {e}")
                return
            sock.setblocking(False)
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
            conn = Connection(sock, f"{addr[0]}:{addr[1]}", time.monotonic())
            self._conns[sock] = conn
            self._sel.register(sock, selectors.EVENT_READ)

    def _read(self, conn: Connection) -> None:
        try:
            data = conn.sock.recv(_RECV_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            self._doom(conn, f"read error: {e}")
            return
        if not data:
            self._doom(conn, "connection closed by the client")
            return
        conn.inbuf += data
        while not conn.doomed and not conn.closed:
            pkt = codec.split_packet(conn.inbuf, self.max_packet_bytes)
            if pkt is None:
                return
            first, total, body = pkt
            del conn.inbuf[:total]
            conn.last_rx = time.monotonic()
            self._handle(conn, first, body)

    def _handle(self, conn: Connection, first: int, body: bytes) -> None:
        kind, flags = first >> 4, first & 0x0F
        if conn.session is None:
            if kind != codec.CONNECT:
                raise Malformed("first packet is not CONNECT")
            self._connect(conn, codec.decode_connect(flags, body))
        elif kind == codec.PUBLISH:
            self._publish_in(conn, first, body)
        elif kind == codec.PUBACK:
            self._puback_in(conn.session, codec.decode_packet_id(flags, body, "PUBACK"))
        elif kind == codec.SUBSCRIBE:
            self._subscribe(conn, *codec.decode_subscribe(flags, body))
        elif kind == codec.UNSUBSCRIBE:
            pid, filters = codec.decode_unsubscribe(flags, body)
            for flt in filters:
                conn.session.subs.pop(flt, None)
            self._send(conn, codec.unsuback(pid))
        elif kind == codec.PINGREQ:
            if flags or body:
                raise Malformed("bad PINGREQ")
            self._send(conn, codec.PINGRESP_PACKET)
        elif kind == codec.DISCONNECT:
            if flags or body:
                raise Malformed("bad DISCONNECT")
            conn.will = None  # a clean goodbye: no will
            self._close(conn, "disconnected")
        elif kind == codec.CONNECT:
            raise Malformed("a second CONNECT")
        elif kind in (codec.PUBREC, codec.PUBREL, codec.PUBCOMP):
            raise Malformed("QoS 2 is not supported")
        else:
            raise Malformed(f"packet type {kind} is not one a client sends")

    # ---- sessions ----

    def _connect(self, conn: Connection, c: codec.Connect) -> None:
        if not c.protocol_ok:
            return self._refuse(conn, codec.BAD_PROTOCOL, "not MQTT 3.1.1")
        if self.users is not None:
            if c.username is None:
                return self._refuse(conn, codec.NOT_AUTHORISED, "no user name")
            want = self.users.get(c.username)
            if want is None or not hmac.compare_digest(want.encode(), c.password or b""):
                return self._refuse(conn, codec.BAD_LOGIN, f"bad login for {c.username!r}")
        cid = c.client_id
        if not cid:
            if not c.clean:
                return self._refuse(conn, codec.ID_REJECTED, "empty id, persistent session")
            self._auto_ids += 1
            cid = f"auto-{self._auto_ids}"
        old = self.sessions.get(cid)
        if old is not None and old.conn is not None:
            self._close(old.conn, "taken over by a new connection with its client id")
            old = self.sessions.get(cid)
        present = old is not None and not c.clean and not old.clean
        session = old if present and old is not None else Session(cid, c.clean)
        self.sessions[cid] = session
        session.conn = conn
        conn.session = session
        conn.keepalive_s = c.keepalive_s
        if c.will is not None:
            topic, payload, qos, retain = c.will
            conn.will = (topic, payload, min(qos, 1), retain)  # QoS 2 is served as 1
        self._send(conn, codec.connack(present, codec.ACCEPTED))
        self._say(f"connect {cid} from {conn.peer} ({'clean' if c.clean else 'persistent'}"
                  f"{', resumed' if present else ''}, keepalive {c.keepalive_s} s)")
        for pid, (topic, payload, retain) in session.inflight.items():
            self._send(conn, codec.publish(topic, payload, 1, retain, pid, dup=True))
        self._pump(session)

    def _refuse(self, conn: Connection, code: int, why: str) -> None:
        self._say(f"refuse {conn.peer}: {why}")
        self._send(conn, codec.connack(False, code))
        self._flush(conn)
        self._close(conn, f"refused ({why})")

    def _publish_in(self, conn: Connection, first: int, body: bytes) -> None:
        topic, payload, qos, retain, _dup, pid = codec.decode_publish(first, body)
        if qos == 2:
            raise Malformed("QoS 2 is not supported")
        self._publish(topic, payload, qos, retain)
        if pid is not None:
            self._send(conn, codec.puback(pid))

    def _publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        if retain:
            if payload:
                self.retained[topic] = (payload, qos)
            else:  # an empty retained message clears the topic (and is still delivered)
                self.retained.pop(topic, None)
        for session in list(self.sessions.values()):
            granted = -1
            for flt, g in session.subs.items():
                if g > granted and matches(flt, topic):
                    granted = g
            if granted >= 0:
                # 3.1.1, 3.3.1.3: retain is 0 on what matches an established subscription
                self._deliver(session, topic, payload, min(qos, granted), False)

    def _deliver(self, session: Session, topic: str, payload: bytes, qos: int,
                 retain: bool) -> None:
        conn = session.conn
        if qos == 0:
            if conn is not None:  # QoS 0 is not kept for an offline session
                self._send(conn, codec.publish(topic, payload, 0, retain))
            return
        session.queue.append((topic, payload, retain))
        if len(session.queue) > MAX_QUEUED:
            session.queue.popleft()
            session.queue_dropped += 1
        self._pump(session)

    def _pump(self, session: Session) -> None:
        """Send queued QoS 1 messages while the session is online and has room in flight."""
        conn = session.conn
        while conn is not None and session.queue and len(session.inflight) < MAX_INFLIGHT:
            topic, payload, retain = session.queue.popleft()
            pid = session.next_pid()
            session.inflight[pid] = (topic, payload, retain)
            self._send(conn, codec.publish(topic, payload, 1, retain, pid))

    def _puback_in(self, session: Session, pid: int) -> None:
        if session.inflight.pop(pid, None) is not None:
            self._pump(session)

    def _subscribe(self, conn: Connection, pid: int, wanted: list[tuple[str, int]]) -> None:
        session = conn.session
        assert session is not None
        codes, granted = [], []
        for flt, qos in wanted:
            if valid_filter(flt):
                g = min(qos, 1)  # QoS 2 asked for: 1 granted (the spec allows lower)
                session.subs[flt] = g
                codes.append(g)
                granted.append((flt, g))
            else:
                codes.append(codec.SUBACK_FAILURE)
        self._send(conn, codec.suback(pid, codes))
        for topic, (payload, qos) in list(self.retained.items()):
            best = max((g for flt, g in granted if matches(flt, topic)), default=-1)
            if best >= 0:
                self._deliver(session, topic, payload, min(qos, best), True)

    # ---- output, timers, closing ----

    def _send(self, conn: Connection, data: bytes) -> None:
        if conn.closed or conn.doomed:
            return
        conn.outbuf += data
        if len(conn.outbuf) > self.max_out_bytes:
            self._doom(conn, f"too slow: over {self.max_out_bytes} bytes waiting to be sent")
            return
        self._dirty.add(conn)

    def _flush_dirty(self) -> None:
        dirty, self._dirty = self._dirty, set()
        for conn in dirty:
            if not conn.closed and not conn.doomed:
                self._flush(conn)

    def _flush(self, conn: Connection) -> None:
        assert self._sel is not None
        if conn.outbuf:
            try:
                n = conn.sock.send(conn.outbuf)
                del conn.outbuf[:n]
            except (BlockingIOError, InterruptedError):
                pass
            except OSError as e:
                self._doom(conn, f"write error: {e}")
                return
        want = bool(conn.outbuf)
        if want != conn.writing:  # wait for room only while something is left to send
            conn.writing = want
            mask = selectors.EVENT_READ | (selectors.EVENT_WRITE if want else 0)
            self._sel.modify(conn.sock, mask)

    def _check_timers(self, now: float) -> None:
        for conn in list(self._conns.values()):
            if conn.doomed or conn.closed:
                continue
            if conn.session is None:
                if now - conn.accepted_at > CONNECT_TIMEOUT_S:
                    self._doom(conn, f"no CONNECT within {CONNECT_TIMEOUT_S:g} s")
            elif conn.keepalive_s and now - conn.last_rx > 1.5 * conn.keepalive_s:
                self._doom(conn, f"silent for 1.5 x keepalive {conn.keepalive_s} s")

    def _next_timeout(self) -> float:
        now, soonest = time.monotonic(), 1.0
        for conn in self._conns.values():
            if conn.session is None:
                due = conn.accepted_at + CONNECT_TIMEOUT_S
            elif conn.keepalive_s:
                due = conn.last_rx + 1.5 * conn.keepalive_s
            else:
                continue
            soonest = min(soonest, due - now)
        return max(0.0, soonest) + 0.001  # just past the deadline: it is then expired

    def _doom(self, conn: Connection, why: str) -> None:
        """Drop the client at the end of this round (never in the middle of routing)."""
        if not conn.doomed and not conn.closed:
            conn.doomed = why
            self._doomed.append(conn)

    def _reap(self) -> None:
        while self._doomed:  # a will published here may doom a slow subscriber in turn
            conn = self._doomed.pop(0)
            self._close(conn, conn.doomed or "dropped")

    def _close(self, conn: Connection, why: str) -> None:
        if conn.closed:
            return
        conn.closed = True
        self._conns.pop(conn.sock, None)
        if self._sel is not None:
            try:
                self._sel.unregister(conn.sock)
            except (KeyError, ValueError):
                pass
        conn.sock.close()
        session, will = conn.session, conn.will
        if session is not None and session.conn is conn:
            session.conn = None
            if session.clean:
                self.sessions.pop(session.client_id, None)
        if session is not None:
            self._say(f"drop {session.client_id}: {why}" + (" (will published)" if will else ""))
        if will is not None:
            topic, payload, qos, retain = will
            self._publish(topic, payload, qos, retain)

    def _shutdown(self) -> None:
        for conn in list(self._conns.values()):
            conn.closed = True
            conn.sock.close()
        self._conns.clear()
        for cid, session in list(self.sessions.items()):  # a restart keeps persistent ones
            session.conn = None
            if session.clean:
                del self.sessions[cid]
        for s in (self._listener, self._wake_r, self._wake_w):
            if s is not None:
                s.close()
        if self._sel is not None:
            self._sel.close()
        self._listener = self._wake_r = self._wake_w = None
        self._sel = None

    def _say(self, line: str) -> None:
        if self.log is not None:
            self.log(line)
