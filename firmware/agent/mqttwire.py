# The MQTT 3.1.1 packets the link writes itself (pure). umqtt.simple encodes the rest; the
# session opening is ours so it can be polled instead of blocking (see agent.link).
import struct

CONNACK_REASONS = ("accepted", "unacceptable protocol version", "client id rejected",
                   "server unavailable", "bad user name or password", "not authorised")


def _varlen(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | 0x80 if n else b)
        if not n:
            return out


def _mqtt_str(s):
    if isinstance(s, str):
        s = s.encode()
    return struct.pack("!H", len(s)) + s


def connect_packet(client_id, keepalive_s, user, password, will_topic, will_msg, will_retain):
    """MQTT 3.1.1 CONNECT with a clean session and a QoS 1 last will (pure)."""
    flags = 0x02 | 0x04 | 0x08 | (0x20 if will_retain else 0)
    payload = _mqtt_str(client_id) + _mqtt_str(will_topic) + _mqtt_str(will_msg)
    if user:
        flags |= 0x80
        payload += _mqtt_str(user)
        if password:
            flags |= 0x40
            payload += _mqtt_str(password)
    var = b"\x00\x04MQTT\x04" + bytes((flags,)) + struct.pack("!H", keepalive_s)
    body = var + payload
    return b"\x10" + bytes(_varlen(len(body))) + body


def connack_error(resp):
    """None if resp (4 bytes) is a CONNACK accepting the session, else why not."""
    if not resp or len(resp) != 4 or resp[0] != 0x20 or resp[1] != 0x02:
        return "not a CONNACK"
    code = resp[3]
    if code == 0:
        return None
    return "broker refused: " + (CONNACK_REASONS[code] if code < len(CONNACK_REASONS)
                                 else "code %d" % code)
