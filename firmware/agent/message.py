# Message envelopes, report-on-change and guarded JSON parsing (pure: callers pass the clocks).
#
# Every payload a device publishes is compact JSON {"v":1,"seq":N,"ts":T,...fields}: v is the
# schema version, seq counts this device's messages (a gap means loss, a drop to 0 a reboot),
# ts is wall-clock epoch seconds, or null with "up" (uptime ms) while the clock is unset.
import json

from micropython import const

from agent.sched import ticks_diff

SCHEMA_VERSION = const(1)
SEQ_WRAP = 1 << 30
_RESERVED = ("v", "seq", "ts", "up")

_QUOTE = const(0x22)
_BACKSLASH = const(0x5C)
_OPENERS = (0x5B, 0x7B)  # [ {
_CLOSERS = (0x5D, 0x7D)  # ] }


def depth_ok(data, max_depth):
    """True if JSON text `data` (bytes) never nests arrays/objects deeper than max_depth.

    Scanned before json.loads so hostile nesting is refused without recursing on it.
    Brackets inside strings do not count; unbalanced closers are refused here too.
    """
    depth = 0
    in_str = False
    escaped = False
    for b in data:
        if in_str:
            if escaped:
                escaped = False
            elif b == _BACKSLASH:
                escaped = True
            elif b == _QUOTE:
                in_str = False
        elif b == _QUOTE:
            in_str = True
        elif b in _OPENERS:
            depth += 1
            if depth > max_depth:
                return False
        elif b in _CLOSERS:
            depth -= 1
            if depth < 0:
                return False
    return True


def safe_loads(payload, max_bytes, max_depth):
    """(value, None) or (None, why) for untrusted bytes. Size and nesting are checked before
    parsing; not UTF-8 and not JSON are refused. Never raises."""
    try:
        if isinstance(payload, str):
            payload = payload.encode()
        elif not isinstance(payload, bytes):
            payload = bytes(payload)
        if len(payload) > max_bytes:
            return None, "too large: %d bytes, at most %d" % (len(payload), max_bytes)
        if not depth_ok(payload, max_depth):
            return None, "brackets nested deeper than %d, or unbalanced" % max_depth
        try:
            text = payload.decode()
        except Exception:
            return None, "not UTF-8"
        try:
            return json.loads(text), None
        except Exception:
            return None, "not JSON"
    except Exception as e:  # e.g. MemoryError, or a payload that is not bytes-like at all
        return None, "unreadable payload (%s)" % type(e).__name__


class Encoder:
    """Stamps outgoing payloads with the schema version and this device's sequence number."""

    def __init__(self, seq=0):
        self.seq = seq % SEQ_WRAP

    def encode(self, fields, ts, up_ms):
        """Compact JSON bytes for `fields` (a dict without v/seq/ts/up).

        ts: wall-clock epoch seconds, or None when the clock is not set (then up_ms goes in).
        """
        for k in _RESERVED:
            if k in fields:
                raise ValueError("field %r is part of the envelope" % k)
        if ts is None:
            head = '{"v":%d,"seq":%d,"ts":null,"up":%d' % (SCHEMA_VERSION, self.seq, up_ms)
        else:
            head = '{"v":%d,"seq":%d,"ts":%d' % (SCHEMA_VERSION, self.seq, int(ts))
        self.seq = (self.seq + 1) % SEQ_WRAP
        body = json.dumps(fields, separators=(",", ":"))
        # body is "{...}": splice the fields after the envelope instead of copying the dict.
        return (head + ("," if len(body) > 2 else "") + body[1:]).encode()


def decode(payload, max_bytes=4096, max_depth=8):
    """(message dict, None) for a well-formed envelope, else (None, why). For host tools."""
    obj, err = safe_loads(payload, max_bytes, max_depth)
    if err:
        return None, err
    if not isinstance(obj, dict):
        return None, "not a JSON object"
    if obj.get("v") != SCHEMA_VERSION or type(obj.get("v")) is not int:
        return None, "schema version %r, expected %d" % (obj.get("v"), SCHEMA_VERSION)
    seq = obj.get("seq")
    if type(seq) is not int or not 0 <= seq < SEQ_WRAP:
        return None, "seq must be an integer in [0, 2**30), got %r" % (seq,)
    if "ts" not in obj:
        return None, "ts missing"
    ts = obj["ts"]
    if ts is None:
        up = obj.get("up")
        if type(up) is not int or up < 0:
            return None, "ts is null, so up (uptime ms) must be a non-negative integer"
    elif type(ts) is not int:
        return None, "ts must be integer epoch seconds or null, got %r" % (ts,)
    return obj, None


def _is_num(v):
    return type(v) is int or type(v) is float


class Reporter:
    """Report-on-change, compared with the last values SENT (not the last sample):

    - a number is due once it moved past its deadband and stayed past it for settle_ms
      (a 25 s motion boost that fades back is not a change of state); a deadband of None
      never makes a report due (uptime), the field just goes along with the next one;
    - a countdown field (e.g. a time-to-full in seconds) is compared with its last sent
      value minus the seconds since: counting down as forecast is not a change;
    - anything else (a string, a bool, None, a field that appears or goes) is due at once;
    - the heartbeat period (<= 0: none) makes a report due even without a change."""

    def __init__(self, deadbands, heartbeat_ms, settle_ms=0, countdown=()):
        self.deadbands = deadbands
        self.heartbeat_ms = heartbeat_ms
        self.settle_ms = settle_ms
        self.countdown = countdown
        self.last = {}
        self.last_ms = 0
        self.moved_ms = None  # since when a number has been past its deadband
        self.never = True

    def due(self, values, now_ms):
        if self.never:
            return True
        if self.heartbeat_ms > 0 and ticks_diff(now_ms, self.last_ms) >= self.heartbeat_ms:
            return True
        last = self.last
        if len(values) != len(last):
            return True  # a field appeared or went away
        moved = False
        for k in values:
            if k not in last:
                return True
            new, old = values[k], last[k]
            if _is_num(new) and _is_num(old):
                if new != new or old != old:  # NaN: report only entering or leaving it
                    if (new != new) != (old != old):
                        return True
                    continue
                band = self.deadbands.get(k, 0)
                if band is None:
                    continue
                if k in self.countdown:
                    old = old - ticks_diff(now_ms, self.last_ms) // 1000
                if abs(new - old) > band:
                    moved = True
            elif new != old or type(new) is not type(old):
                return True
        if not moved:
            self.moved_ms = None
            return False
        if self.moved_ms is None:
            self.moved_ms = now_ms
        return ticks_diff(now_ms, self.moved_ms) >= self.settle_ms

    def sent(self, values, now_ms):
        """Record what was just reported (copied: the caller may reuse its dict)."""
        self.last.clear()
        self.last.update(values)
        self.last_ms = now_ms
        self.moved_ms = None
        self.never = False


def diag_fields(uptime_s, rssi, heap_free, heap_max_block, reset_cause, loop_us_max,
                reconnects, dropped):
    """The fields of a `diag` message (rssi None when not on Wi-Fi)."""
    return {
        "uptime_s": uptime_s,
        "rssi": rssi,
        "heap_free": heap_free,
        "heap_max_block": heap_max_block,
        "reset_cause": reset_cause,
        "loop_us_max": loop_us_max,
        "reconnects": reconnects,
        "dropped": dropped,
    }


def clock_diag(fields, status):
    """Add the time sync's state (agent.timesync status(); None: sync off) to diag fields."""
    fields["clock_synced"] = bool(status and status["synced"])
    if status is not None:
        fields["clock_age_s"] = status["age_s"]  # since the last good answer, None: never
        fields["clock_offset_ms"] = status["offset_ms"]  # the last correction
        fields["clock_server"] = status["server"]
        fields["clock_error"] = status["last_error"]
    return fields
