"""MQTT 3.1.1 packets as the mini broker reads and writes them (no I/O here).

Reading is incremental: `split_packet` takes whatever bytes have arrived and returns one whole
packet or None (wait for more), so a packet that trickles in over many reads costs nothing
until it is complete. Anything that breaks the spec raises Malformed, and the broker drops
that one client."""

import struct

# Control packet types (the high nibble of the first byte)
CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT = 8, 9, 10, 11, 12, 13, 14

# CONNACK return codes (3.1.1, section 3.2.2.3)
ACCEPTED, BAD_PROTOCOL, ID_REJECTED, UNAVAILABLE, BAD_LOGIN, NOT_AUTHORISED = range(6)
SUBACK_FAILURE = 0x80

PINGRESP_PACKET = b"\xd0\x00"


class Malformed(ValueError):
    """The client broke the protocol: the broker closes its connection."""


class TooBig(Malformed):
    pass


def split_packet(buf: bytearray, max_bytes: int) -> tuple[int, int, bytes] | None:
    """(first byte, whole packet length, body) of the packet at the head of buf, or None when
    it is not all there yet. Raises TooBig as soon as the header announces more than
    max_bytes (counting the whole packet), before the body is read."""
    if len(buf) < 2:
        return None
    remaining, mult, i = 0, 1, 1
    while True:
        if i >= len(buf):
            return None
        b = buf[i]
        remaining += (b & 0x7F) * mult
        i += 1
        if not b & 0x80:
            break
        if i == 5:  # a fifth length byte: at most four (3.1.1, 2.2.3)
            raise Malformed("remaining length longer than 4 bytes")
        mult *= 128
    total = i + remaining
    if total > max_bytes:
        raise TooBig(f"packet of {total} bytes over the limit of {max_bytes}")
    if len(buf) < total:
        return None
    return buf[0], total, bytes(buf[i:total])


def encode_length(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | 0x80 if n else b)
        if not n:
            return bytes(out)


class Reader:
    """Walks a packet body; every read past its end is Malformed."""

    def __init__(self, body: bytes):
        self.body, self.pos = body, 0

    def left(self) -> int:
        return len(self.body) - self.pos

    def take(self, n: int) -> bytes:
        if n > self.left():
            raise Malformed("packet shorter than its fields")
        out = self.body[self.pos:self.pos + n]
        self.pos += n
        return out

    def byte(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return struct.unpack("!H", self.take(2))[0]

    def blob(self) -> bytes:
        return self.take(self.u16())

    def text(self) -> str:
        raw = self.blob()
        try:
            s = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise Malformed("a string is not UTF-8") from None
        if "\x00" in s:  # 3.1.1, 1.5.3: U+0000 is never allowed
            raise Malformed("a string holds U+0000")
        return s


class Connect:
    """A decoded CONNECT. `protocol_ok` False: answer BAD_PROTOCOL and close."""

    def __init__(self) -> None:
        self.protocol_ok = True
        self.client_id = ""
        self.clean = True
        self.keepalive_s = 0
        self.will: tuple[str, bytes, int, bool] | None = None  # topic, payload, qos, retain
        self.username: str | None = None
        self.password: bytes | None = None


def decode_connect(flags: int, body: bytes) -> Connect:
    if flags != 0:
        raise Malformed("CONNECT with fixed-header flags set")
    r, c = Reader(body), Connect()
    name, level = r.text(), r.byte()
    if name not in ("MQTT", "MQIsdp"):
        raise Malformed(f"protocol name {name!r}")
    if name != "MQTT" or level != 4:  # 3.1 or 5: refused with a code either understands
        c.protocol_ok = False
        return c
    cflags = r.byte()
    if cflags & 0x01:
        raise Malformed("CONNECT reserved flag set")
    c.clean = bool(cflags & 0x02)
    will, will_qos, will_retain = cflags & 0x04, (cflags >> 3) & 3, bool(cflags & 0x20)
    if will_qos == 3 or (not will and (will_qos or will_retain)):
        raise Malformed("CONNECT will flags inconsistent")
    has_user, has_password = cflags & 0x80, cflags & 0x40
    if has_password and not has_user:
        raise Malformed("CONNECT password without a user name")
    c.keepalive_s = r.u16()
    c.client_id = r.text()
    if will:
        topic = r.text()
        check_topic_name(topic)
        c.will = (topic, r.blob(), will_qos, will_retain)
    if has_user:
        c.username = r.text()
    if has_password:
        c.password = r.blob()
    if r.left():
        raise Malformed("CONNECT longer than its fields")
    return c


def check_topic_name(topic: str) -> None:
    """A topic a message is published to: not empty, no wildcard."""
    if not topic or "+" in topic or "#" in topic:
        raise Malformed(f"bad topic name {topic!r}")


def decode_publish(first: int, body: bytes) -> tuple[str, bytes, int, bool, bool, int | None]:
    """(topic, payload, qos, retain, dup, packet id or None)"""
    qos, retain, dup = (first >> 1) & 3, bool(first & 1), bool(first & 8)
    if qos == 3:
        raise Malformed("PUBLISH with QoS 3")
    if qos == 0 and dup:
        raise Malformed("QoS 0 PUBLISH with DUP set")
    r = Reader(body)
    topic = r.text()
    check_topic_name(topic)
    pid = r.u16() if qos else None
    if pid == 0:
        raise Malformed("packet id 0")
    return topic, r.take(r.left()), qos, retain, dup, pid


def decode_subscribe(flags: int, body: bytes) -> tuple[int, list[tuple[str, int]]]:
    """(packet id, [(filter, requested qos)])"""
    if flags != 2:
        raise Malformed("SUBSCRIBE fixed-header flags must be 0010")
    r = Reader(body)
    pid = r.u16()
    out = []
    while r.left():
        topic, qos = r.text(), r.byte()
        if qos > 2:  # the upper six bits are reserved too
            raise Malformed("SUBSCRIBE requested QoS over 2")
        out.append((topic, qos))
    if not out:
        raise Malformed("SUBSCRIBE without a topic filter")
    return pid, out


def decode_unsubscribe(flags: int, body: bytes) -> tuple[int, list[str]]:
    if flags != 2:
        raise Malformed("UNSUBSCRIBE fixed-header flags must be 0010")
    r = Reader(body)
    pid = r.u16()
    out = []
    while r.left():
        out.append(r.text())
    if not out:
        raise Malformed("UNSUBSCRIBE without a topic filter")
    return pid, out


def decode_packet_id(flags: int, body: bytes, what: str) -> int:
    if flags != 0 or len(body) != 2:
        raise Malformed(f"bad {what}")
    return struct.unpack("!H", body)[0]


def connack(session_present: bool, code: int) -> bytes:
    return bytes((0x20, 2, 1 if session_present and code == ACCEPTED else 0, code))


def publish(topic: str, payload: bytes, qos: int, retain: bool, pid: int | None = None,
            dup: bool = False) -> bytes:
    t = topic.encode("utf-8")
    var = struct.pack("!H", len(t)) + t + (struct.pack("!H", pid) if qos else b"")
    first = 0x30 | (8 if dup else 0) | (qos << 1) | (1 if retain else 0)
    return bytes((first,)) + encode_length(len(var) + len(payload)) + var + payload


def puback(pid: int) -> bytes:
    return struct.pack("!BBH", 0x40, 2, pid)


def suback(pid: int, codes: list[int]) -> bytes:
    return b"\x90" + encode_length(2 + len(codes)) + struct.pack("!H", pid) + bytes(codes)


def unsuback(pid: int) -> bytes:
    return struct.pack("!BBH", 0xB0, 2, pid)
