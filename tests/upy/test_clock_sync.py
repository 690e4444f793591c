# Ring 2: SNTP time sync (agent.timesync) on the simulated board, with real UDP sockets on
# loopback. The server is a socket of this test, answered in step with the firmware's own
# service calls (no thread, no host clock): each case says what the server sends and
# asserts what the firmware controls: virtual time, the RTC it set, counts, the socket calls
# it made (recorded by simnet, as host_tools.vdevice.wait_problems reads them).
import random
import struct

import simclock
import simnet
import usocket

from agent import clock, message, sntp, timesync
from agent.sched import ticks_add

T0_MS = 1772366400250  # 2026-03-01 12:00:00.250 UTC: what the server's clock reads
NTP_1900 = 2208988800


class RecordedSockets:
    """The firmware's `socket` module, as the board's socket recorder hands it out."""
    AF_INET = usocket.AF_INET
    SOCK_DGRAM = usocket.SOCK_DGRAM
    socket = simnet.Socket
    getaddrinfo = simnet.getaddrinfo


class Server:
    """A UDP socket on a free loopback port; answer() replies to the request waiting."""

    def __init__(self):
        self.sock = usocket.socket(usocket.AF_INET, usocket.SOCK_DGRAM)
        while True:
            self.port = 20000 + random.getrandbits(15)
            try:
                self.sock.bind(usocket.getaddrinfo("127.0.0.1", self.port)[0][-1])
                break
            except OSError:
                pass
        self.sock.setblocking(False)
        self.requests = 0

    def take(self):
        """The request waiting, or None (each one counted)."""
        try:
            req, addr = self.sock.recvfrom(100)
        except OSError:
            return None
        self.requests += 1
        return req, addr

    def answer(self, now_ms=T0_MS, mode=4, version=4, li=0, stratum=2, origin=None, tx=None,
               size=48, kiss=b"RATE"):
        got = self.take()
        assert got is not None, "no request waiting"
        req, addr = got
        out = bytearray(48)
        out[0] = li << 6 | version << 3 | mode
        out[1] = stratum
        if stratum == 0:
            out[12:16] = kiss
        out[24:32] = req[40:48] if origin is None else origin
        out[32:40] = ntp(now_ms)
        out[40:48] = ntp(now_ms) if tx is None else tx
        self.sock.sendto(bytes(out[:size]), addr)

    def close(self):
        self.sock.close()


def ntp(unix_ms):
    s = unix_ms // 1000 + NTP_1900
    return struct.pack(">II", s & 0xFFFFFFFF, (unix_ms % 1000 << 32) // 1000)


def sync(servers, **cfg):
    c = {"servers": servers, "sync_h": 6, "timeout_ms": 500, "retry_max_s": 30, "jump_s": 1000}
    c.update(cfg)
    events = []
    ts = timesync.TimeSync(c, 0, lambda fields, now: events.append(fields))
    return ts, events


def setup():
    timesync.socket = RecordedSockets
    simnet.reset()
    random.seed(7)


def step(ts, now):
    """One service call at `now` (board ticks); returns the next time it asks for."""
    return ticks_add(now, ts.service(now, True))


def no_waits():
    f = simnet.figures()
    assert f["sock_unbounded_calls"] == 0, f
    assert f["sock_blocking_connects"] == 0 and f["sock_timeout_max_ms"] == 0, f
    assert f["poll_wait_max_ms"] == 0 and f["dns_lookups"] == 0, f


def test_a_good_answer_sets_an_unset_clock():
    setup()
    srv = Server()
    try:
        ts, events = sync("127.0.0.1:%d" % srv.port)
        assert clock.wall_s() is None
        assert ts.service(5000, False) > 0 and srv.take() is None  # no link: no asking
        nxt = step(ts, 5000)
        assert nxt == 5000 + timesync.POLL_MS
        srv.answer(T0_MS)
        nxt = step(ts, nxt)
        # The answer was read 20 ms after asking: the time is its transmit time + 10 ms.
        assert clock.wall_ms() == T0_MS + 10
        assert clock.wall_s() == (T0_MS + 10) // 1000
        assert nxt == 5020 + 6 * 3600 * 1000  # the next sync, sync_h later
        st = ts.status(5020)
        assert st["synced"] and st["age_s"] == 0 and st["tries"] == 0
        assert st["offset_ms"] == T0_MS + 10 and st["last_error"] == ""
        assert st["server"] == "127.0.0.1:%d" % srv.port
        assert events == [{"event": "clock_set", "offset_ms": T0_MS + 10,
                           "server": st["server"], "tries": 1}]
        d = message.clock_diag({}, ts.status(65020))
        assert d["clock_synced"] and d["clock_age_s"] == 60 and d["clock_offset_ms"] == T0_MS + 10
        assert message.clock_diag({}, None) == {"clock_synced": False}
        assert step(ts, 10 * 60000) == nxt and srv.take() is None  # quiet until then
    finally:
        srv.close()
    no_waits()


def test_resync_corrects_a_small_drift_quietly():
    setup()
    srv = Server()
    try:
        ts, events = sync("127.0.0.1:%d" % srv.port)
        step(ts, 0)
        srv.answer(T0_MS)
        nxt = step(ts, 20)
        simclock.advance_ms(nxt)  # six hours pass on the board
        step(ts, nxt)
        srv.answer(T0_MS + nxt + 3000)  # the RTC fell 3 s behind
        before = clock.wall_ms()
        step(ts, nxt + 20)
        assert clock.wall_ms() - before == 3000
        assert ts.offset_ms == 3000 and len(events) == 1 and srv.requests == 2
    finally:
        srv.close()
    no_waits()


def test_no_answer_retries_with_backoff_and_never_waits():
    setup()
    a, b = Server(), Server()
    try:
        ts, _ = sync("127.0.0.1:%d,127.0.0.1:%d" % (a.port, b.port), timeout_ms=500,
                     retry_max_s=8)
        asked = []  # (virtual ms, which server)
        now = 0
        while now < 120000:
            nxt = step(ts, now)
            for name, srv in (("a", a), ("b", b)):
                if srv.take() is not None:
                    asked.append((now, name))
            now = nxt
        assert [n for _, n in asked[:4]] == ["a", "b", "a", "b"]  # the servers in turn
        assert ts.tries == len(asked) and not ts.synced and clock.wall_s() is None
        assert ts.last_error == "no answer in 500 ms"
        ceiling = 2000
        for k in range(1, len(asked)):
            t1, t2 = asked[k - 1][0], asked[k][0]
            # each retry waits the timeout, then a jittered backoff up to its ceiling
            assert 500 <= t2 - t1 <= 500 + ceiling + timesync.POLL_MS, (t1, t2, ceiling)
            ceiling = min(ceiling * 2, 8000)
        assert len(asked) >= 120000 // (500 + 8000 + timesync.POLL_MS)
    finally:
        a.close()
        b.close()
    no_waits()


BAD = (
    ({"mode": 3}, "not a server reply (mode 3)"),
    ({"origin": b"\x00" * 8}, "not an answer to our request (originate differs)"),
    ({"stratum": 0, "kiss": b"DENY"}, "kiss-o'-death DENY"),
    ({"stratum": 16}, "stratum 16: server not synchronised"),
    ({"li": 3}, "leap indicator 3: server not synchronised"),
    ({"version": 2}, "version 2"),
    ({"tx": b"\x00" * 8}, "no transmit time"),
    ({"tx": ntp(1600000000000)}, "transmit time before 2024"),
    ({"size": 47}, "short reply (47 bytes)"),
)


def test_wrong_answers_change_nothing():
    setup()
    srv = Server()
    try:
        for kw, why in BAD:
            ts, events = sync("127.0.0.1:%d" % srv.port, retry_max_s=30)
            step(ts, 0)
            srv.answer(**kw)
            nxt = step(ts, 20)
            assert clock.wall_s() is None, kw
            assert ts.last_error == why and not ts.synced and events == [], (kw, ts.last_error)
            if "kiss" in kw:
                assert nxt == 20 + 30000  # a kiss-o'-death: the longest backoff at once
            else:
                assert nxt <= 20 + 2000
            assert ts.sock is None
    finally:
        srv.close()
    no_waits()


def test_a_large_jump_needs_a_second_answer():
    setup()
    srv = Server()
    try:
        ts, events = sync("127.0.0.1:%d" % srv.port, jump_s=1000)
        step(ts, 0)
        srv.answer(T0_MS)
        step(ts, 20)
        set_at = clock.wall_ms()

        def ask(now, server_ms):
            ts.due = now
            step(ts, now)
            srv.answer(server_ms)
            return step(ts, now + 20)

        # One server says two hours later: not believed yet, asked again in a second.
        nxt = ask(1000, T0_MS + 2 * 3600 * 1000)
        assert nxt == 1020 + timesync.CONFIRM_MS
        assert clock.wall_ms() == set_at and ts.last_error.startswith("a jump of 7")
        # The next answer agrees with the old time: the jump is forgotten.
        ask(nxt, T0_MS + 20)
        assert abs(clock.wall_ms() - set_at) < 50 and ts.pending is None
        # Two answers in a row agree on the jump: the clock steps, and says so.
        ask(5000, T0_MS + 2 * 3600 * 1000 + 5000)
        assert ts.pending is not None and clock.wall_ms() < set_at + 10000
        ask(6020, T0_MS + 2 * 3600 * 1000 + 6020)
        assert clock.wall_ms() > set_at + 2 * 3600 * 1000
        assert [e["event"] for e in events] == ["clock_set", "clock_jump"]
        # measured against the clock as it was (T0 + 30 ms), the answer read 10 ms late
        assert events[1]["offset_ms"] == 2 * 3600 * 1000 + 6020 + 10 - 30
    finally:
        srv.close()
    no_waits()


def test_a_server_name_is_looked_up_once_per_attempt():
    setup()
    ts, _ = sync("ntp.invalid")  # a name nothing resolves here
    step(ts, 0)
    assert ts.tries == 1 and ts.last_error.startswith("send: ")
    assert simnet.figures()["dns_lookups"] == 1 and ts.sock is None
    now = 0
    while now < 60000:
        now = step(ts, now)
    assert ts.tries > 3 and simnet.figures()["dns_lookups"] == ts.tries


def test_sntp_is_loaded_for_an_attempt_only():
    import sys

    setup()
    srv = Server()
    try:
        ts, _ = sync("127.0.0.1:%d" % srv.port)
        assert "agent.sntp" not in sys.modules  # let go of once the config is parsed
        step(ts, 0)
        assert "agent.sntp" in sys.modules  # the attempt: the request stamped
        srv.answer(T0_MS)
        step(ts, 20)
        assert ts.synced and "agent.sntp" not in sys.modules
    finally:
        srv.close()


def test_servers_syntax():
    assert sntp.servers("pool.ntp.org") == [("pool.ntp.org", 123)]
    assert sntp.servers("10.0.0.1:1123, b") == [("10.0.0.1", 1123), ("b", 123)]
    for bad in ("a:0", "a:x", "a:1:2", ":123", "a b", "a,,b"):
        try:
            sntp.servers(bad)
        except ValueError:
            continue
        raise AssertionError(bad)
