# SNTP time sync (shell): one UDP socket at a time, never blocking, polled by comms.service
# while the link is up. Asks the clock.servers in turn, lets agent.sntp judge each answer,
# sets the RTC, resyncs every clock.sync_h hours and backs off (full jitter) after failures.
# agent.sntp is loaded for an attempt and let go of after it: on a stock image its bytecode
# would otherwise sit in the heap for the hours between syncs.
import random
import socket
import sys
import time

from micropython import const

from agent.backoff import Backoff, uniform_from_bits
from agent.clock import set_wall_ms, wall_ms, wall_s
from agent.sched import Uptime, ticks_add, ticks_diff

POLL_MS = const(20)  # while an answer is awaited (the time is then off by at most half this)
CONFIRM_MS = const(1000)  # a large jump is asked again this soon, of the next server
_IDLE_MS = const(60000)
_STEP = const(1)  # agent.sntp's STEP, CONFIRM, BACK_OFF
_CONFIRM = const(2)
_BACK_OFF = const(4)


def _sntp():
    from agent import sntp

    return sntp


def _let_go():
    import agent

    if sys.modules.pop("agent.sntp", None) is not None and hasattr(agent, "sntp"):
        delattr(agent, "sntp")


def _why(e):
    return "OSError %s" % (e.args[0] if e.args else "") if isinstance(e, OSError) else repr(e)


class TimeSync:
    """cfg: the config's clock section. event(fields, now_ms): publishes an event."""

    def __init__(self, cfg, now_ms, event=None):
        sntp = _sntp()
        self.servers = sntp.servers(cfg["servers"])
        _let_go()
        # The request and the reply's buffer exist only during an attempt (made by _ask,
        # dropped by _close): 2 x 48 bytes not held for the hours between syncs.
        self.req = self.buf = None
        self.period_ms = cfg["sync_h"] * 3600000
        self.timeout_ms = cfg["timeout_ms"]
        self.jump_ms = cfg["jump_s"] * 1000
        cap = cfg["retry_max_s"] * 1000
        self.backoff = Backoff(min(2000, cap), cap, rand=uniform_from_bits(random.getrandbits))
        self.event = event
        self.up = Uptime(now_ms)
        self.sock = None  # while an answer is awaited
        self.due = now_ms  # next attempt
        self.sent_at = now_ms
        self.i = 0  # the server asked next
        self.tries = 0  # attempts since the last good answer
        self.synced = False  # a good answer set the clock since boot
        self.synced_up = 0  # uptime ms of the last good answer
        self.offset_ms = None  # the last correction
        self.pending = None  # a large jump waiting for a second answer to agree
        self.last_error = ""

    def service(self, now_ms, net_up):
        """One step; ms until it wants to be called again. No call here waits."""
        if self.sock is not None:
            return self._poll(now_ms)
        left = ticks_diff(self.due, now_ms)
        if left > 0:
            return left
        if not net_up:
            self.due = now_ms  # at once when the link is back (and never wraps ahead)
            return _IDLE_MS
        self._ask(now_ms)
        return POLL_MS

    def status(self, now_ms=None):
        up = self.up.at(time.ticks_ms() if now_ms is None else now_ms)
        return {"synced": self.synced, "offset_ms": self.offset_ms,
                "age_s": (up - self.synced_up) // 1000 if self.synced else None,
                "server": self.server(), "tries": self.tries, "last_error": self.last_error}

    def server(self):
        host, port = self.servers[self.i]
        return host if port == 123 else "%s:%d" % (host, port)

    def _ask(self, now_ms):
        self.up.at(now_ms)  # often enough for the uptime to pass the ticks wrap
        self.tries += 1
        host, port = self.servers[self.i]
        try:
            # One lookup per attempt (DNS can block inside lwIP; an IP address does not).
            addr = socket.getaddrinfo(host, port, socket.AF_INET)[0][-1]
            s = self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setblocking(False)
            sntp = _sntp()
            self.req = req = sntp.request()
            self.buf = bytearray(len(req))
            sntp.stamp(req, random.getrandbits)
            s.sendto(self.req, addr)
            self.sent_at = now_ms
        except Exception as e:
            self._failed(now_ms, "send: " + _why(e))

    def _poll(self, now_ms):
        try:
            n = self.sock.readinto(self.buf)  # type: ignore  # None: nothing yet
            if not n:
                if ticks_diff(now_ms, self.sent_at) < self.timeout_ms:
                    return POLL_MS
                self._failed(now_ms, "no answer in %d ms" % self.timeout_ms)
                return ticks_diff(self.due, now_ms)
            was_set = wall_s() is not None
            act, off, why = _sntp().judge(self.buf, n, self.req, ticks_diff(now_ms, self.sent_at),
                                          wall_ms(), was_set, self.jump_ms, self.pending)
            self._close()
            if act == _STEP:
                set_wall_ms(wall_ms() + off)
                self._synced(now_ms, off, was_set)
            elif act == _CONFIRM:
                self.pending = off
                self.last_error = why
                self.i = (self.i + 1) % len(self.servers)
                self.due = ticks_add(now_ms, CONFIRM_MS)
            else:
                self._failed(now_ms, why, act == _BACK_OFF)
        except Exception as e:  # whatever the network or a reply does, never the loop
            self._failed(now_ms, "recv: " + _why(e))
        return ticks_diff(self.due, now_ms)

    def _synced(self, now_ms, off, was_set):
        tries = self.tries
        self.synced = True
        self.synced_up = self.up.at(now_ms)
        self.offset_ms = off
        self.pending = None
        self.last_error = ""
        self.tries = 0
        self.backoff.attempt = 0
        self.due = ticks_add(now_ms, self.period_ms)
        if self.event is not None and (not was_set or abs(off) > self.jump_ms):
            self.event({"event": "clock_jump" if was_set else "clock_set", "offset_ms": off,
                        "server": self.server(), "tries": tries}, now_ms)

    def _failed(self, now_ms, why, longest=False):
        self._close()
        self.last_error = why
        delay = self.backoff.next_delay()
        if longest:  # RFC 4330: a kiss-o'-death asks us to ask less
            delay = self.backoff.cap_ms
        self.due = ticks_add(now_ms, delay)
        self.i = (self.i + 1) % len(self.servers)

    def _close(self):
        s, self.sock = self.sock, None
        self.req = self.buf = None
        if s is not None:
            try:
                s.close()
            except Exception:
                pass
        _let_go()
