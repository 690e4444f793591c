"""The protocol core under CPython: the cases shared with MicroPython (tests/upy), then
properties over hostile and generated input for topics, envelopes, commands and signatures."""

import hashlib
import hmac
import json
import math
import string

import protocol_cases  # the cases shared with ring 2 (tests/upy is on sys.path)
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from agent import commands, config, message, sign, topics
from tests import shared_cases


@pytest.mark.parametrize("case", shared_cases.names(protocol_cases))
def test_shared_case(case, tmp_path):
    shared_cases.run(protocol_cases, case, tmp_path)


ids = st.text(string.ascii_letters + string.digits + "_-.", min_size=1, max_size=32)
device_ids = ids.filter(lambda s: s not in topics.RESERVED_IDS)
scalars = st.none() | st.booleans() | st.integers(-(2**40), 2**40) | \
    st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8),
                                                                           inner, max_size=4),
    max_leaves=12)
hostile = st.binary(max_size=600) | st.text(max_size=300).map(str.encode) | \
    json_values.map(lambda v: json.dumps(v).encode())


# ---- HMAC ----

@given(st.binary(max_size=200), st.binary(max_size=300))
def test_hmac_matches_cpython(key, msg):
    assert sign.hmac_sha256(key, msg) == hmac.new(key, msg, hashlib.sha256).digest()


@given(st.binary(max_size=40), st.binary(max_size=40))
def test_equal_is_equality(a, b):
    assert sign.equal(a, b) == (a == b)


# ---- topics ----

@given(ids, ids, st.sampled_from(config.ROLES), device_ids, st.just("") | ids)
def test_topics_parse_what_they_build(prefix, site, kind, dev, group):
    t = topics.Topics(prefix, site, kind, dev, group)
    for ch in ("status", "state", "telemetry", "event", "diag", "cmd", "cmd_ack"):
        channel = "cmd/ack" if ch == "cmd_ack" else ch
        assert topics.parse(getattr(t, ch)) == (prefix, site, kind, dev, None, channel)
    if group:
        assert topics.parse(t.group_cmd) == (prefix, site, kind, None, group, "cmd")
        assert topics.parse(t.group_peer) == (prefix, site, kind, None, group, "peer")
    else:
        assert t.group_cmd is None and t.group_peer is None
    for pattern in topics.acl_write(prefix, site, kind, dev, group) + \
            topics.acl_read(prefix, site, kind, dev, group):
        parsed = topics.parse(pattern)
        assert parsed is not None and parsed[:3] == (prefix, site, kind)


@given(st.text(max_size=80) | st.binary(max_size=80) |
       st.lists(st.sampled_from(["city", "n", "inlet", "group", "g", "cmd", "ack", "",
                                 "+", "#", "peer", "é"]), max_size=8).map("/".join))
def test_topic_parse_never_raises_and_is_exact(topic):
    parsed = topics.parse(topic)
    if parsed is not None:
        prefix, site, kind, dev, group, channel = parsed
        who = dev if dev is not None else "group/" + group
        text = topic if isinstance(topic, str) else topic.decode()
        assert "/".join((prefix, site, kind, who, channel)) == text


# ---- envelopes ----

@given(st.dictionaries(st.text(min_size=1, max_size=8).filter(lambda k: k not in
                                                              ("v", "seq", "ts", "up")),
                       scalars, max_size=6),
       st.none() | st.integers(0, 2**32), st.integers(0, 2**31), st.integers(0, 2**30 - 1))
def test_envelope_round_trip(fields, ts, up, seq):
    enc = message.Encoder(seq)
    payload = enc.encode(fields, ts, up)
    head = {"v": 1, "seq": seq, "ts": ts} | ({"up": up} if ts is None else {})
    assert payload == json.dumps(head | fields, separators=(",", ":")).encode()  # compact
    obj, err = message.decode(payload)
    assert err is None, err
    assert obj["v"] == message.SCHEMA_VERSION and obj["seq"] == seq and obj["ts"] == ts
    assert ("up" in obj) == (ts is None)
    assert {k: v for k, v in obj.items() if k not in ("v", "seq", "ts", "up")} == fields
    assert enc.seq == (seq + 1) % message.SEQ_WRAP


def _depth(v):
    if isinstance(v, list):
        return 1 + max((_depth(x) for x in v), default=0)
    if isinstance(v, dict):
        return 1 + max((_depth(x) for x in v.values()), default=0)
    return 0


@given(json_values, st.integers(0, 6))
def test_depth_scan_agrees_with_the_parsed_depth(value, limit):
    text = json.dumps(value).encode()
    assert message.depth_ok(text, limit) == (_depth(value) <= limit)


@given(hostile)
def test_safe_loads_never_raises(payload):
    obj, err = message.safe_loads(payload, 512, 4)
    assert (err is None) or (obj is None and isinstance(err, str))


# ---- commands ----

@given(hostile)
def test_any_payload_is_a_command_or_a_reason(payload):
    cmd, err = commands.decode_command(payload)
    if err is None:
        assert cmd["cmd"] in commands.COMMANDS and set(cmd) <= {"id", "cmd", "args", "ctr"}
    else:
        assert cmd is None and isinstance(err, str) and err


@given(st.dictionaries(st.sampled_from(["id", "cmd", "args", "ctr", "x"]),
                       json_values | ids | st.sampled_from(sorted(commands.COMMANDS)),
                       max_size=5),
       st.sampled_from((None,) + config.ROLES))
def test_command_shaped_objects_never_crash(obj, role):
    cmd, err = commands.decode_command(json.dumps(obj).encode(), role=role)
    assert (cmd is None) != (err is None)


def _valid_arg(spec):
    kind, default, lo, hi, _ = spec
    if kind == "int":
        return st.integers(lo, hi)
    if kind == "num":
        return st.floats(lo, hi, allow_nan=False) | st.integers(math.ceil(lo), math.floor(hi))
    if isinstance(kind, tuple):
        return st.sampled_from(kind)
    if kind == "scalar":
        return scalars
    if kind == "str":
        return st.text(min_size=lo, max_size=hi)
    raise AssertionError(kind)


@st.composite
def valid_commands(draw):
    name = draw(st.sampled_from(sorted(commands.COMMANDS)))
    _, specs = commands.COMMANDS[name]
    args = {}
    for arg, spec in specs.items():
        if spec[config.DEFAULT] is config.REQUIRED or draw(st.booleans()):
            args[arg] = draw(_valid_arg(spec))
    obj = {"id": draw(ids), "cmd": name, "args": args}
    if draw(st.booleans()):
        obj["ctr"] = draw(st.integers(0, 2**53 - 1))
    return obj


@given(valid_commands())
def test_valid_commands_round_trip(obj):
    payload = json.dumps(obj, separators=(",", ":")).encode()
    assume(len(payload) <= 512)
    cmd, err = commands.decode_command(payload)
    assert err is None, err
    assert cmd["id"] == obj["id"] and cmd["cmd"] == obj["cmd"] and cmd.get("ctr") == \
        obj.get("ctr")
    for k, v in obj["args"].items():
        assert cmd["args"][k] == v
    assert set(cmd["args"]) == set(commands.COMMANDS[obj["cmd"]][1])


@given(st.sampled_from(sorted(f"{s}.{f}" for s in config.CONFIG for f in config.CONFIG[s])) |
       st.text(max_size=12), scalars)
def test_set_gives_a_loadable_config_or_errors(field, value):
    raw = protocol_cases.RAW
    new, errors = commands.check_set(raw, field, value)
    if new is None:
        assert errors and all(isinstance(e, str) for e in errors)
    else:
        assert config.get(config.load(new), field) == value


# ---- signatures ----

KEY = protocol_cases.KEY


@given(hostile, st.booleans())
def test_any_payload_to_the_verifier_never_raises(payload, required):
    v = sign.Verifier(KEY, required, 0)
    body, err = v.check(payload, "pole-7")
    assert (body is None) != (err is None)
    if required:
        assert body is None  # nobody without the key gets a body through
    assert v.last_ctr == 0


def test_one_command_cannot_use_up_the_counter_range():
    """A genuinely signed command with the largest counter is refused, and the device still
    takes the next ordinary one (before: accepted, then every later command was refused)."""
    v = sign.Verifier(KEY, True, 41)
    top = sign.sign_command(KEY, "p", json.dumps({"id": "c", "cmd": "ping", "ctr": 2**53 - 1}))
    got, err = v.check(top, "p")
    assert got is None and "more than" in err and "41" in err
    assert not v.accept(2**53 - 1) and v.last_ctr == 41
    nxt = sign.sign_command(KEY, "p", json.dumps({"id": "c", "cmd": "ping", "ctr": 42}))
    assert v.check(nxt, "p")[1] is None and v.accept(v.ctr) and v.last_ctr == 42


@given(device_ids, st.integers(1, 2**53 - 1), st.binary(min_size=1, max_size=64))
def test_signed_commands_verify_only_for_their_device_and_key(dev, ctr, key):
    body = json.dumps({"id": "c", "cmd": "ping", "ctr": ctr})
    payload = sign.sign_command(key, dev, body)
    got, err = sign.Verifier(key, True, ctr - 1).check(payload, dev)
    assert got == body.encode() and err is None
    assert sign.Verifier(key, True, ctr).check(payload, dev)[0] is None  # replay
    assert sign.Verifier(key, True, 0).check(payload, dev + "x")[0] is None
    assert sign.Verifier(key + b"\x01", True, 0).check(payload, dev)[0] is None


@given(st.integers(0, 40), st.integers(0, 255))
def test_any_altered_body_is_refused(pos, byte):
    body = '{"id":"c1","cmd":"reboot","args":{"delay_s":5},"ctr":7}'
    pos %= len(body)
    assume(chr(byte) != body[pos])
    forged = body[:pos] + chr(byte) + body[pos + 1:]
    sig = json.loads(sign.sign_command(KEY, "pole-7", body))["sig"]
    payload = json.dumps({"body": forged, "sig": sig}).encode()
    got, err = sign.Verifier(KEY, True, 0).check(payload, "pole-7")
    assert got is None and "sig" in err


W = sign.CTR_WINDOW
near_window = st.sampled_from([0, 1, 2, 20, W - 1, W, W + 1, 2 * W, 2**53 - 1])


@given(st.lists(st.integers(0, 20) | near_window, max_size=30),
       st.lists(st.booleans(), max_size=30))
def test_counter_only_moves_for_applied_commands(ctrs, applied):
    v = sign.Verifier(KEY, True, 0)
    model = 0
    for i, ctr in enumerate(ctrs):
        body = json.dumps({"id": "c", "cmd": "ping", "ctr": ctr})
        got, err = v.check(sign.sign_command(KEY, "p", body), "p")
        assert (got is not None) == (model < ctr <= model + W), (ctr, model, err)
        if got is not None and (applied[i] if i < len(applied) else True):
            assert v.accept(v.ctr)
            model = ctr
        assert v.last_ctr == model
