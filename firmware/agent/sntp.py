# SNTP packets and when to step the clock (pure: the shell passes the bytes and the times).
#
# RFC 4330 client. The request's transmit timestamp is a random nonce, not our clock (which
# may be unset): the server echoes it as the originate timestamp, so a reply that does not
# is no answer to this request (late, or forged) and changes nothing. Times are integer ms
# since 1970: long ints on the chip, made only at a sync, never per tick (float32 could not
# hold them).
from micropython import const

PORT = const(123)
SIZE = const(48)
VALID_AFTER = 1704067200  # 2024-01-01, as agent.clock: an answer before it is wrong
AGREE_MS = const(2000)  # two answers this close agree on a large jump
KOD = "kiss-o'-death"
# What an answer does (agent.timesync holds the same numbers: it lets go of this module).
STEP = const(1)  # set the clock to local + offset
CONFIRM = const(2)  # a large jump: ask again before believing it
REJECT = const(3)  # nothing changes
BACK_OFF = const(4)  # nothing changes, and the next attempt waits the longest backoff
_FROM_1900 = 2208988800  # NTP seconds at the 1970 epoch


def servers(text):
    """[(host, port)] from clock.servers, "host[:port],..."; ValueError naming a bad one."""
    out = []
    for e in text.split(","):
        e = e.strip()
        parts = e.split(":")
        port = parts[1] if len(parts) == 2 else "123"
        if not parts[0] or len(parts) > 2 or " " in e or not port.isdigit() or \
                not 0 < int(port) < 65536:
            raise ValueError("%r is not host or host:port (port 1..65535)" % e)
        out.append((parts[0], int(port)))
    return out


def request():
    """The request buffer, made once: leap 0, version 4, mode 3 (client)."""
    b = bytearray(SIZE)
    b[0] = 0x23
    return b


def stamp(req, randbits):
    """A fresh nonce as the request's transmit timestamp (never zero)."""
    for i in range(40, 48):
        req[i] = randbits(8)
    req[47] |= 1


def _u32(b, i):
    return (b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]


def _ms(b, i):
    # RFC 4330 section 3: seconds with the top bit clear count from 2036 (era 1), so the
    # timestamp's wrap on 2036-02-07 is handled until 2104.
    s = _u32(b, i)
    if not s & 0x80000000:
        s += 0x100000000
    return (s - _FROM_1900) * 1000 + ((_u32(b, i + 4) * 1000 + 0x80000000) >> 32)  # rounded


def _zero(b, i):
    for k in range(i, i + 8):
        if b[k]:
            return False
    return True


def read_reply(reply, n, req):
    """(None, server receive ms, server transmit ms) for a valid answer to `req`, else
    (why, 0, 0). reply: the receive buffer, n: the bytes received."""
    if n < SIZE:
        return "short reply (%d bytes)" % n, 0, 0
    b0 = reply[0]
    if b0 & 7 != 4:
        return "not a server reply (mode %d)" % (b0 & 7), 0, 0
    if not 3 <= (b0 >> 3) & 7 <= 4:
        return "version %d" % ((b0 >> 3) & 7), 0, 0
    for i in range(8):  # before anything else is believed, a kiss-o'-death included
        if reply[24 + i] != req[40 + i]:
            return "not an answer to our request (originate differs)", 0, 0
    if reply[1] == 0:
        code = "".join(chr(c) if 32 < c < 127 else "?" for c in reply[12:16])
        return KOD + " " + code, 0, 0
    if reply[1] > 15:
        return "stratum %d: server not synchronised" % reply[1], 0, 0
    if b0 >> 6 == 3:
        return "leap indicator 3: server not synchronised", 0, 0
    if _zero(reply, 40):
        return "no transmit time", 0, 0
    tx = _ms(reply, 40)
    if tx < VALID_AFTER * 1000:
        return "transmit time before 2024", 0, 0
    return None, tx if _zero(reply, 32) else _ms(reply, 32), tx


def judge(reply, n, req, rtt_ms, local_ms, clock_set, jump_ms, pending):
    """What an answer does: (STEP, offset_ms, "") sets the clock to local + offset;
    (CONFIRM, offset_ms, why): a large jump, ask again first (the shell keeps the offset as
    `pending` for the next answer to agree with); (REJECT, 0, why) changes nothing;
    (BACK_OFF, 0, why) neither, and asks the shell to wait its longest (a kiss-o'-death).
    rtt_ms: from sending to reading the reply; local_ms: our wall clock (ms since 1970, set
    or not) when it was read. An unset clock takes the first valid answer whatever the
    jump; a set one moves more than jump_ms only when two answers in a row agree within
    AGREE_MS (one wrong server must not throw a street's schedule by hours)."""
    why, rx, tx = read_reply(reply, n, req)
    if why:
        return BACK_OFF if why.startswith(KOD) else REJECT, 0, why
    busy = tx - rx  # the server's time between receiving and answering
    if busy < 0 or busy > rtt_ms:
        busy = 0
    off = tx + (rtt_ms - busy) // 2 - local_ms
    if clock_set and abs(off) > jump_ms and (pending is None or abs(off - pending) > AGREE_MS):
        return CONFIRM, off, "a jump of %d s: asking again" % (off // 1000)
    return STEP, off, ""
