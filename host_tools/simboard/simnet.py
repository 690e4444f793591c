# What the firmware does with sockets, recorded for a whole run (MicroPython unix port only).
#
# The folder sockrec/ beside this file holds `socket.py` and `select.py`, which stand in for
# the built-ins when that folder is on MICROPYPATH (host_tools.vdevice puts it there; CPython
# never sees it: tests/conftest.py adds only this folder, not sockrec/). They hand the firmware
# the real module's names with `socket`, `getaddrinfo` and `poll` replaced by the recording
# ones below; every call is passed on to the real socket, so the firmware runs unchanged.
#
# Recorded, as figures the firmware controls (no wall clock in them):
#   timeout_max_ms   the longest timeout ever given to a socket (settimeout)
#   unbounded        calls that may wait forever: connect/recv/read/write/... while the socket
#                    is blocking with no timeout (new, settimeout(None), setblocking(True)),
#                    TLS record reads/writes on such a socket, poll() without a timeout
#   connects / blocking_connects   connect() calls, and those not on a non-blocking socket
#   poll_wait_max_ms the longest poll() timeout
#   dns              getaddrinfo() on a name that is not an IP literal (can block on the chip)
#   reply_ms         for each PUBLISH that came in (a command...), the board's own time
#                    (simclock.own_us: host slowness left out) from when its first byte was
#                    on the socket to the next PUBLISH the firmware wrote (its ack): the
#                    first few, and their max. Plain sockets only (TLS is opaque here).
#
# poll(timeout) is the chip's: it waits on the board's clock (virtual time), returns as soon
# as a socket is ready, and runs what the world does meanwhile (interrupt handlers), like
# time.sleep_ms. Paced, it waits on the real socket for the real time that clock span takes,
# so a broker's bytes end the wait when they arrive; unpaced, only bytes already there do.
#
# Why a wrapper and not a subclass of socket.socket: on this port an instance of a Python
# subclass of the built-in socket reaches select.poll and the TLS layer as the instance, not
# as the socket inside it, so they use a wrong file descriptor (poll reports POLLNVAL, TLS
# writes its ClientHello to another fd). The wrapper below derives from io.IOBase instead:
# select.poll asks it for its descriptor through ioctl() and then polls the real one, and
# ssl wraps a small carrier (_TlsCarrier) whose readinto/write report errors the way the C
# stream layer expects.
import io

import simclock
import simtime
import uselect
import usocket

_POLL, _CLOSE, _GET_FILENO = 3, 4, 10  # MP_STREAM_* ioctl requests
_EINVAL = 22

active = False  # set by sockrec/socket.py: the firmware's `import socket` got this module
stats = {}
_seen = []  # which calls were unbounded (first few distinct names)


def reset():
    stats.update(opened=0, timeout_max_ms=0, unbounded=0, connects=0, blocking_connects=0,
                 poll_wait_max_ms=0, dns=0, reply_ms=[], reply_max_ms=0)
    del _seen[:]
    del _live[:]


_live = []  # connected sockets, looked at before each sleep (see _look)
_REPLIES_KEPT = 16


reset()


def _ms(seconds):
    return int(seconds * 1000 + 0.5)


def _unbounded(what):
    stats["unbounded"] += 1
    if what not in _seen and len(_seen) < 8:
        _seen.append(what)


def figures():
    """The run's figures, as boot_device.py puts them in its SUMMARY."""
    return {"sock_recorder": active, "sock_opened": stats["opened"],
            "sock_timeout_max_ms": stats["timeout_max_ms"],
            "sock_unbounded_calls": stats["unbounded"], "sock_unbounded_what": list(_seen),
            "sock_connects": stats["connects"],
            "sock_blocking_connects": stats["blocking_connects"],
            "poll_wait_max_ms": stats["poll_wait_max_ms"], "dns_lookups": stats["dns"],
            "reply_ms": list(stats["reply_ms"]), "reply_max_ms": stats["reply_max_ms"]}


def _look():
    """Note when each connected socket's next bytes were first there (board's own time)."""
    for s in _live:
        if s._ready is None and s._readable():
            s._ready = simclock.own_us()


class _Framer:
    """Follows MQTT packet boundaries in a byte stream, to see where each packet starts."""

    def __init__(self):
        self.left = 0  # body bytes of the current packet still to come
        self.head = 0  # 0: next byte starts a packet; >0: reading the length, this shift
        self.size = 0

    def feed(self, data):
        """True if a PUBLISH packet starts in data."""
        pub = False
        i, n = 0, len(data)
        while i < n:
            if self.left:
                k = min(self.left, n - i)
                self.left -= k
                i += k
                continue
            b = data[i]
            i += 1
            if not self.head:
                pub = pub or (b & 0xF0) == 0x30
                self.head, self.size = 1, 0
                continue
            self.size |= (b & 0x7F) << (7 * (self.head - 1))
            if b & 0x80:
                self.head += 1
            else:
                self.head, self.left = 0, self.size
        return pub


def _ip_literal(host):
    if isinstance(host, bytes):
        host = host.decode()
    if ":" in host:
        return True  # IPv6
    parts = host.split(".")
    return len(parts) == 4 and all(p.isdigit() for p in parts)


def getaddrinfo(host, port, *args):
    if not _ip_literal(host):
        stats["dns"] += 1
    return usocket.getaddrinfo(host, port, *args)


class Socket(io.IOBase):
    """socket.socket as the firmware sees it: the real one inside, every call passed on."""

    def __init__(self, *args, _real=None):
        self._s = _real if _real is not None else usocket.socket(*args)
        self._t = None  # None: blocking without limit; 0: non-blocking; else seconds
        self._ready = None  # own_us when the bytes not yet read were first seen there
        self._pub = None  # own_us when an incoming PUBLISH not yet answered was there
        self._rx = _Framer()
        self._tx = _Framer()
        stats["opened"] += 1
        _patch_ssl()

    def _readable(self):
        p = uselect.poll()
        p.register(self._s, uselect.POLLIN)
        return bool(p.poll(0))

    def _got(self, data):
        """Bytes read: an incoming PUBLISH starts the reply clock."""
        if data and self._rx.feed(data) and self._pub is None:
            self._pub = self._ready if self._ready is not None else simclock.own_us()
        self._ready = None
        return data

    def _sent(self, buf, n):
        if n and self._tx.feed(memoryview(buf)[:n] if n < len(buf) else buf) and \
                self._pub is not None:
            ms = (simclock.own_us() - self._pub) // 1000
            self._pub = None
            if len(stats["reply_ms"]) < _REPLIES_KEPT:
                stats["reply_ms"].append(ms)
            if ms > stats["reply_max_ms"]:
                stats["reply_max_ms"] = ms
        return n

    def _io(self, what):
        if self._t is None:
            _unbounded(what)

    # ---- modes ----

    def settimeout(self, t):
        self._s.settimeout(t)
        self._t = t
        if t is not None and t > 0 and _ms(t) > stats["timeout_max_ms"]:
            stats["timeout_max_ms"] = _ms(t)

    def setblocking(self, flag):
        self._s.setblocking(flag)
        self._t = None if flag else 0

    # ---- calls that may wait ----

    def connect(self, addr):
        stats["connects"] += 1
        if self._t != 0:
            stats["blocking_connects"] += 1
        self._io("connect")
        if self not in _live:
            _live.append(self)
            simtime.sleep_hook = _look
        return self._s.connect(addr)

    def accept(self):
        self._io("accept")
        s, addr = self._s.accept()
        return Socket(_real=s), addr

    def recv(self, n):
        self._io("recv")
        return self._s.recv(n)

    def recvfrom(self, n):
        self._io("recvfrom")
        return self._s.recvfrom(n)

    def read(self, *n):
        self._io("read")
        if self._ready is None and self._readable():
            self._ready = simclock.own_us()
        return self._got(self._s.read(*n))

    def readinto(self, buf, *n):
        self._io("readinto")
        if self._ready is None and self._readable():
            self._ready = simclock.own_us()
        got = self._s.readinto(buf, *n)
        if got:
            self._got(memoryview(buf)[:got])
        return got

    def readline(self):
        self._io("readline")
        return self._s.readline()

    def send(self, buf):
        self._io("send")
        return self._s.send(buf)

    def sendall(self, buf):
        self._io("sendall")
        return self._s.sendall(buf)

    def sendto(self, buf, addr):
        self._io("sendto")
        return self._s.sendto(buf, addr)

    def write(self, buf, *n):
        self._io("write")
        return self._sent(buf, self._s.write(buf, *n))

    # ---- the rest, passed on ----

    def bind(self, addr):
        return self._s.bind(addr)

    def listen(self, *backlog):
        return self._s.listen(*backlog)

    def setsockopt(self, level, opt, value):
        return self._s.setsockopt(level, opt, value)

    def fileno(self):
        return self._s.fileno()

    def makefile(self, *args, **kw):
        return self  # as the port's own: the socket is its own stream

    def close(self):
        if self in _live:
            _live.remove(self)
        return self._s.close()

    def ioctl(self, req, arg):
        # select.poll asks for the descriptor first and then polls the real socket itself.
        if req == _GET_FILENO:
            return self._s.fileno()
        if req == _POLL:
            p = uselect.poll()
            p.register(self._s, arg)
            ready = p.poll(0)
            return ready[0][1] if ready else 0
        if req == _CLOSE:
            self._s.close()
            return 0
        return -_EINVAL

    def __repr__(self):
        return repr(self._s)


class _TlsCarrier(io.IOBase):
    """What ssl wraps in place of a recording Socket: the TLS layer reads and writes records
    through readinto/write here (counted as unbounded if the socket is blocking without a
    timeout), with errors as the C stream layer wants them (None: try again; -errno)."""

    def __init__(self, owner):
        self.owner = owner

    def readinto(self, buf):
        self.owner._io("tls read")
        try:
            return self.owner._s.readinto(buf)
        except OSError as e:
            return -e.errno

    def write(self, buf):
        self.owner._io("tls write")
        try:
            return self.owner._s.write(buf)
        except OSError as e:
            return -e.errno

    def setblocking(self, flag):  # SSLSocket.setblocking calls this
        self.owner.setblocking(flag)

    def ioctl(self, req, arg):
        return self.owner.ioctl(req, arg)


_ssl_patched = []


def _patch_ssl():
    """ssl.SSLContext.wrap_socket given a recording Socket wraps its carrier instead."""
    if _ssl_patched:
        return
    _ssl_patched.append(True)
    try:
        import ssl
    except ImportError:
        return
    wrap = ssl.SSLContext.wrap_socket

    def wrap_socket(self, sock, *args, **kw):
        if isinstance(sock, Socket):
            sock = _TlsCarrier(sock)
        return wrap(self, sock, *args, **kw)

    ssl.SSLContext.wrap_socket = wrap_socket


class Poll:
    """select.poll as the firmware sees it: waits are recorded."""

    def __init__(self):
        self._p = uselect.poll()

    def register(self, obj, *mask):
        return self._p.register(obj, *mask)

    def modify(self, obj, mask):
        return self._p.modify(obj, mask)

    def unregister(self, obj):
        return self._p.unregister(obj)

    def _wait(self, timeout):
        """True if the wait is the real poll's own (no timeout: as the chip, forever)."""
        _look()
        if timeout is None or timeout < 0:
            _unbounded("poll")
            return True
        if timeout > stats["poll_wait_max_ms"]:
            stats["poll_wait_max_ms"] = timeout
        if timeout > 0:
            self._wait_board(timeout)
        _look()
        return False

    def _wait_board(self, timeout):
        """Wait up to timeout ms of the board's time for a socket to be ready."""
        end = simclock.now_us() + timeout * 1000
        while not self._p.poll(0):
            now = simclock.now_us()
            if now >= end:
                return
            nxt = simclock.next_due_us()
            stop = end if nxt is None or nxt > end else max(nxt, now)
            pace = simclock.pace()
            if pace and stop > now:
                caught = simclock.caught_us()
                ready = self._p.poll(int((stop - now) * pace / 1000) + 1)
                simclock.waited_since(caught)  # the clock caught up: the board waited
                if ready:
                    return
            simclock.run_until_us(stop)

    def poll(self, timeout=-1):
        return self._p.poll(timeout if self._wait(timeout) else 0)

    def ipoll(self, timeout=-1, flags=0):
        return self._p.ipoll(timeout if self._wait(timeout) else 0, flags)


def poll():
    return Poll()
