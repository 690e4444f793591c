# Signed commands (pure): HMAC-SHA256 (RFC 2104) on hashlib.sha256; MicroPython has no hmac.
#
# Wire format: {"body": "<the command JSON, as a string>", "sig": "<64 hex>"}. The MAC covers
# device_id + "\n" + body (UTF-8), so a command signed for one pole is refused by another,
# and the body's "ctr" must exceed the last applied counter, so a recorded command cannot be
# replayed. The counter moves only when the caller has applied the command (accept).
# It may move at most CTR_WINDOW at a time: a single command (a slip of the operator's tool,
# or a leaked key) cannot jump it to the end of the range and lock every later command out.
import binascii
import hashlib
import json

from micropython import const

from agent.message import safe_loads

BLOCK = const(64)
_CTR_MAX = (1 << 53) - 1
# A sender that lost its count starts again from the device's last_ctr (diag, refusal text):
# a million commands per step leaves room for 2**33 steps before the range is used up.
CTR_WINDOW = const(1000000)
WRAPPER_MAX_BYTES = const(1024)  # a 512-byte body, JSON-escaped, plus the signature
BODY_MAX_BYTES = const(512)
BODY_MAX_DEPTH = const(4)


def _pads(key):
    """The inner and outer padded keys (computed once per key)."""
    if len(key) > BLOCK:
        key = hashlib.sha256(key).digest()
    key = bytes(key) + bytes(BLOCK - len(key))
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def _mac(pads, msg):
    inner = hashlib.sha256(pads[0])
    inner.update(msg)
    outer = hashlib.sha256(pads[1])
    outer.update(inner.digest())
    return outer.digest()


def hmac_sha256(key, msg):
    return _mac(_pads(key), msg)


def equal(a, b):
    """Compare two byte strings in time independent of where they differ."""
    if len(a) != len(b):
        return False
    diff = 0
    for i in range(len(a)):
        diff |= a[i] ^ b[i]
    return diff == 0


def key_from_hex(text):
    """The command key from secrets.json (64 hex digits), or None when it is empty."""
    if not text:
        return None
    return binascii.unhexlify(text)


def _signed_text(device_id, body):
    return (device_id + "\n" + body).encode()


def sign_command(key, device_id, body_str):
    """The signed payload for a command body (host tools and tests)."""
    sig = binascii.hexlify(hmac_sha256(key, _signed_text(device_id, body_str))).decode()
    return json.dumps({"body": body_str, "sig": sig}, separators=(",", ":")).encode()


def _ctr_ok(v):
    return type(v) is int and 0 <= v <= _CTR_MAX


class Verifier:
    """Checks command payloads against the device's key and replay counter.

    After a successful check of a signed command, `ctr` holds its counter (None for an
    unsigned one); pass it to accept() once the command has been applied, then persist
    last_ctr (counter_doc) so a reboot does not reopen the replay window.
    """

    def __init__(self, key, required, last_ctr=0):
        self.pads = _pads(key) if key else None
        self.required = required
        self.last_ctr = last_ctr
        self.ctr = None

    def check(self, payload, device_id):
        """(body bytes for commands.decode_command, None) or (None, why). Never raises."""
        self.ctr = None
        try:
            return self._check(payload, device_id)
        except Exception as e:
            return None, "unreadable command (%s)" % type(e).__name__

    def _check(self, payload, device_id):
        obj, err = safe_loads(payload, WRAPPER_MAX_BYTES, BODY_MAX_DEPTH)
        if not (isinstance(obj, dict) and ("sig" in obj or "body" in obj)):
            if self.required:
                return None, err or "refused: this device accepts only signed commands"
            # Unsigned: hand over as-is; decode_command says what is wrong with it, if anything.
            if isinstance(payload, str):
                return payload.encode(), None
            return bytes(payload), None
        if len(obj) != 2 or not isinstance(obj.get("body"), str) \
                or not isinstance(obj.get("sig"), str):
            return None, "signed command: must hold exactly body (a string) and sig"
        if self.pads is None:
            return None, "signed command, but this device has no command key"
        sig_hex = obj["sig"]
        if len(sig_hex) != 64:
            return None, "sig: must be 64 hex digits"
        try:
            sig = binascii.unhexlify(sig_hex)
        except Exception:
            return None, "sig: must be 64 hex digits"
        body = obj["body"]
        if not equal(_mac(self.pads, _signed_text(device_id, body)), sig):
            return None, "sig: wrong signature (other key, other device, or altered body)"
        body_bytes = body.encode()
        cmd, err = safe_loads(body_bytes, BODY_MAX_BYTES, BODY_MAX_DEPTH)
        if err:
            return None, "body: " + err
        ctr = cmd.get("ctr") if isinstance(cmd, dict) else None
        if not _ctr_ok(ctr) or ctr is None:
            return None, "ctr: a signed command needs a non-negative integer counter"
        if ctr <= self.last_ctr:
            return None, "ctr: %d is not above the last accepted %d (replay?)" % (
                ctr, self.last_ctr)
        if ctr - self.last_ctr > CTR_WINDOW:
            return None, "ctr: %d is more than %d above the last accepted %d" % (
                ctr, CTR_WINDOW, self.last_ctr)
        self.ctr = ctr
        return body_bytes, None

    def accept(self, ctr):
        """Record an applied command's counter; True if last_ctr moved (then persist it)."""
        if _ctr_ok(ctr) and 0 < ctr - self.last_ctr <= CTR_WINDOW:
            self.last_ctr = ctr
            return True
        return False


def counter_doc(last_ctr):
    """The cmdctr.json document for store.save_json."""
    return {"last_ctr": counter_from_doc({"last_ctr": last_ctr})}


def counter_from_doc(obj):
    """last_ctr from a cmdctr.json document; ValueError if it is not one (store.load_json
    then falls back to the backup file)."""
    v = obj.get("last_ctr") if isinstance(obj, dict) else None
    if not _ctr_ok(v) or len(obj) != 1:
        raise ValueError("cmdctr.json: expected {\"last_ctr\": <non-negative integer>}")
    return v
