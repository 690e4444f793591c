# Protocol-core cases shared by the CPython ring (tests/core/test_protocol.py) and the
# MicroPython ring (tests/upy/test_protocol.py): the same pure code on both interpreters.
import binascii
import json

from agent import commands, message, sign, topics
from agent.backoff import Backoff, uniform_from_bits
from agent.outbox import Outbox

KEY = binascii.unhexlify("00112233445566778899aabbccddeeff" * 2)
RAW = {"device": {"id": "pole-7", "role": "streetlight"}, "mqtt": {"host": "broker.lan"}}

# RFC 4231 test cases 1, 2, 6 and 7: (key, data, HMAC-SHA256 in hex)
RFC4231 = [
    (b"\x0b" * 20, b"Hi There",
     "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
    (b"Jefe", b"what do ya want for nothing?",
     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
    (b"\xaa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First",
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
    (b"\xaa" * 131,
     b"This is a test using a larger than block-size key and a larger than block-size data."
     b" The key needs to be hashed before being used by the HMAC algorithm.",
     "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
]

# (payload, a phrase the refusal must contain)
BAD_COMMANDS = [
    (b"\xff\xfe{}", "UTF-8"),
    (b"not json", "JSON"),
    (b"", "JSON"),
    (b"[1, 2]", "object"),
    (b'"ping"', "object"),
    (b"x" * 513, "too large"),
    (b'{"id":"a","cmd":"ping","args":{"x":[[[[1]]]]}}', "nested"),
    (b"[" * 500, "nested"),
    (b"]]]", "nested"),
    (b'{"cmd":"ping"}', "id"),
    (b'{"id":"","cmd":"ping"}', "id"),
    (b'{"id":"a/b","cmd":"ping"}', "id"),
    (b'{"id":"' + b"a" * 33 + b'","cmd":"ping"}', "id"),
    (b'{"id":7,"cmd":"ping"}', "id"),
    (b'{"id":"a"}', "cmd"),
    (b'{"id":"a","cmd":"pong"}', "unknown command"),
    (b'{"id":"a","cmd":"ping","extra":1}', "extra"),
    (b'{"id":"a","cmd":"ping","args":[]}', "args"),
    (b'{"id":"a","cmd":"ping","args":{"x":1}}', "args.x"),
    (b'{"id":"a","cmd":"reboot","args":{"delay_s":61}}', "args.delay_s"),
    (b'{"id":"a","cmd":"reboot","args":{"delay_s":1.5}}', "args.delay_s"),
    (b'{"id":"a","cmd":"reboot","args":{"delay_s":true}}', "args.delay_s"),
    (b'{"id":"a","cmd":"set","args":{"field":"loop.heartbeat_s"}}', "args.value"),
    (b'{"id":"a","cmd":"set","args":{"field":"loop.heartbeat_s","value":[1]}}', "args.value"),
    (b'{"id":"a","cmd":"ping","ctr":-1}', "ctr"),
    (b'{"id":"a","cmd":"ping","ctr":"5"}', "ctr"),
]


def test_hmac_rfc4231_vectors():
    for key, data, want in RFC4231:
        got = binascii.hexlify(sign.hmac_sha256(key, data)).decode()
        assert got == want, (key[:4], got)


def test_equal_compares_whole_strings():
    assert sign.equal(b"abc", b"abc")
    assert not sign.equal(b"abc", b"abd")
    assert not sign.equal(b"abc", b"ab")
    assert sign.equal(b"", b"")


def test_topics_build_and_parse():
    t = topics.Topics("city", "north", "streetlight", "pole-7", "elm")
    assert t.status == b"city/north/streetlight/pole-7/status"
    assert t.cmd_ack == b"city/north/streetlight/pole-7/cmd/ack"
    assert t.group_cmd == b"city/north/streetlight/group/elm/cmd"
    assert t.group_peer == b"city/north/streetlight/group/elm/peer"
    assert t.subscriptions() == [t.cmd, t.group_cmd, t.group_peer]
    for name in ("status", "state", "telemetry", "event", "diag", "cmd"):
        assert topics.parse(getattr(t, name)) == (
            "city", "north", "streetlight", "pole-7", None, name)
    assert topics.parse(t.cmd_ack) == ("city", "north", "streetlight", "pole-7", None, "cmd/ack")
    assert topics.parse(t.group_peer) == ("city", "north", "streetlight", None, "elm", "peer")
    assert topics.parse("city/north/streetlight/group/elm/cmd")[4] == "elm"
    lone = topics.Topics("city", "north", "inlet", "bin-1")
    assert lone.group_cmd is None and lone.group_peer is None
    assert lone.subscriptions() == [b"city/north/inlet/bin-1/cmd"]


def test_topics_refuse_what_does_not_fit():
    for bad in ("", "/", "city/north/streetlight/pole-7", "city/north/streetlight/pole-7/x",
                "city/north/lamp/pole-7/state", "city/north/streetlight/+/state",
                "city/north/streetlight/#", "city//streetlight/pole-7/state",
                "city/north/streetlight/group/state", "city/north/streetlight/group/g/state",
                "city/north/streetlight/pole-7/cmd/ack/x", "city/north/streetlight/pole-7/state/",
                b"\xff/\xfe", None, 42, [b"a"]):
        assert topics.parse(bad) is None, bad
    for args in (("city", "north", "streetlight", "group"), ("ci/ty", "n", "inlet", "a"),
                 ("city", "north", "lamp", "a"), ("city", "north", "inlet", "a+"),
                 ("city", "", "inlet", "a")):
        try:
            topics.Topics(*args)
        except ValueError:
            continue
        raise AssertionError("accepted %r" % (args,))
    assert "group" in topics.RESERVED_IDS


def test_acl_lists():
    w = topics.acl_write("city", "n", "streetlight", "p1", "elm")
    assert "city/n/streetlight/p1/status" in w and "city/n/streetlight/p1/cmd/ack" in w
    assert "city/n/streetlight/p1/cmd" not in w  # only operators command a device
    assert "city/n/streetlight/group/elm/peer" in w
    assert "city/n/streetlight/group/elm/cmd" not in w
    r = topics.acl_read("city", "n", "streetlight", "p1", "elm")
    assert r == ["city/n/streetlight/p1/cmd", "city/n/streetlight/group/elm/cmd",
                 "city/n/streetlight/group/elm/peer"]
    # An inlet hears its branch's grants but cannot publish one.
    assert "city/n/inlet/group/b2/peer" not in topics.acl_write("city", "n", "inlet", "i1", "b2")
    assert "city/n/inlet/group/b2/peer" in topics.acl_read("city", "n", "inlet", "i1", "b2")
    for pattern in w + r:
        assert "+" not in pattern and "#" not in pattern
        assert topics.parse(pattern) is not None
    assert topics.device_filter("city", "n", "inlet", "i1") == "city/n/inlet/i1/#"


def test_envelope_encoding():
    enc = message.Encoder()
    a = json.loads(enc.encode({"lux": 12.5, "on": True}, 1700000000, 5000))
    assert a == {"v": 1, "seq": 0, "ts": 1700000000, "lux": 12.5, "on": True}, a
    b = enc.encode({}, None, 1234)
    assert b == b'{"v":1,"seq":1,"ts":null,"up":1234}', b
    assert message.decode(b)[0]["up"] == 1234
    enc.seq = message.SEQ_WRAP - 1
    assert json.loads(enc.encode({}, 1, 0))["seq"] == message.SEQ_WRAP - 1
    assert json.loads(enc.encode({}, 1, 0))["seq"] == 0
    try:
        enc.encode({"seq": 3}, 1, 0)
        raise AssertionError("envelope field accepted")
    except ValueError:
        pass
    for bad in (b'{"v":2,"seq":0,"ts":1}', b'{"v":1,"seq":-1,"ts":1}', b'{"v":1,"seq":0}',
                b'{"v":1,"seq":0,"ts":null}', b'{"v":1,"seq":0,"ts":"now"}', b"[]", b"\xff"):
        obj, err = message.decode(bad)
        assert obj is None and err, bad


def test_reporter_deadband_and_heartbeat():
    r = message.Reporter({"lux": 2, "level": 0}, 60000)
    v = {"lux": 10.0, "level": 50, "mode": "auto"}
    assert r.due(v, 0)  # nothing reported yet
    r.sent(v, 0)
    assert not r.due({"lux": 11.5, "level": 50, "mode": "auto"}, 1000)
    assert r.due({"lux": 12.5, "level": 50, "mode": "auto"}, 1000)  # past the deadband
    assert r.due({"lux": 10.0, "level": 51, "mode": "auto"}, 1000)  # 0: any change
    assert r.due({"lux": 10.0, "level": 50, "mode": "manual"}, 1000)  # by equality
    assert r.due({"lux": 10.0, "level": 50}, 1000)  # a field went away
    assert not r.due(v, 59999)
    assert r.due(v, 60000)  # heartbeat
    v["lux"] = 99.0  # the reporter kept its own copy
    r2 = message.Reporter({}, 1000)
    r2.sent({"x": 1}, (1 << 30) - 500)  # across the ticks wrap
    assert not r2.due({"x": 1}, 100)
    assert r2.due({"x": 1}, 500)


def test_reporter_settles_numbers_counts_down_and_ignores_none():
    # The last SENT value is the reference: creeping 0.001 a sample never adds up to a report
    # until it is past the deadband; a number past it must stay there settle_ms.
    r = message.Reporter({"fill": 0.02, "ttf_s": 1800, "up": None}, 0, 60000, ("ttf_s",))
    v = {"fill": 0.5, "ttf_s": 36000, "up": 5, "valve": "closed"}
    r.sent(v, 0)
    for i in range(1, 20):
        assert not r.due({"fill": 0.5 + i * 0.001, "ttf_s": 36000 - i * 60, "up": 5 + i,
                          "valve": "closed"}, i * 60000)
    # 19 min later: fill 0.519 (< 0.02 from 0.5), ttf as counted down: nothing due
    assert r.due({"fill": 0.53, "ttf_s": 34860, "up": 0, "valve": "closed"}, 1200000) is False
    assert r.due({"fill": 0.53, "ttf_s": 34860, "up": 0, "valve": "closed"}, 1260000)
    # a boost that is gone again before settling is never reported
    r.sent(v, 0)
    assert not r.due(dict(v, fill=0.9), 1000)
    assert not r.due(v, 30000)
    assert not r.due(dict(v, fill=0.9), 31000)  # moved again: settles from here
    assert r.due(dict(v, fill=0.9), 91000)
    # the forecast itself changed (not the countdown): due once settled
    r.sent(v, 0)
    assert not r.due(dict(v, ttf_s=36000 - 600 - 1801), 600000)
    assert r.due(dict(v, ttf_s=36000 - 660 - 1801), 660000)
    # strings (a valve, a request) at once; None-banded numbers never
    assert r.due(dict(v, valve="open"), 1)
    assert not r.due(dict(v, up=10 ** 6, ttf_s=26000), 10 ** 7)


def test_diag_fields():
    d = message.diag_fields(10, -60, 50000, 30000, "power-on", 1500, 2, 0)
    assert d["rssi"] == -60 and d["reset_cause"] == "power-on" and len(d) == 8


def test_valid_commands_decode():
    cmd, err = commands.decode_command(b'{"id":"c1","cmd":"ping"}')
    assert err is None and cmd == {"id": "c1", "cmd": "ping", "args": {}}, (cmd, err)
    cmd, err = commands.decode_command(b'{"id":"c2","cmd":"reboot","args":{},"ctr":9}')
    assert cmd == {"id": "c2", "cmd": "reboot", "args": {"delay_s": 0}, "ctr": 9}, err
    cmd, err = commands.decode_command(
        b'{"id":"c3","cmd":"set","args":{"field":"loop.heartbeat_s","value":60}}')
    assert cmd is not None and cmd["args"]["value"] == 60, err
    # Brackets inside strings do not count as nesting.
    cmd, err = commands.decode_command(
        b'{"id":"c4","cmd":"set","args":{"field":"device.name","value":"[[[[[{{{{\\"]"}}')
    assert cmd is not None and cmd["args"]["value"] == '[[[[[{{{{"]', err


def test_bad_commands_refused():
    for payload, phrase in BAD_COMMANDS:
        cmd, err = commands.decode_command(payload)
        assert cmd is None and isinstance(err, str), payload
        assert phrase in err, (payload, err)
    cmd, err = commands.decode_command(b"[" * 2000, max_bytes=3000)
    assert cmd is None and "nested" in err


def test_role_mismatch_refused():
    commands.COMMANDS["flush"] = (("inlet",), {})
    try:
        cmd, err = commands.decode_command(b'{"id":"a","cmd":"flush"}', role="streetlight")
        assert cmd is None and "inlet" in err, err
        cmd, err = commands.decode_command(b'{"id":"a","cmd":"flush"}', role="inlet")
        assert cmd is not None, err
    finally:
        del commands.COMMANDS["flush"]


def test_command_id_for_error_acks():
    assert commands.command_id(b'{"id":"c9","cmd":"nope"}') == "c9"
    assert commands.command_id(b'{"id":"a/b"}') is None
    assert commands.command_id(b"\xff") is None
    a = commands.ack("c9", False, "cmd: unknown command")
    assert a == {"id": "c9", "ok": False, "error": "cmd: unknown command"}
    assert commands.ack("c1", True, state={"level": 5}) == {
        "id": "c1", "ok": True, "state": {"level": 5}}


def test_set_validates_against_the_config_schema():
    new, errors = commands.check_set(RAW, "loop.heartbeat_s", 60)
    assert errors == [] and new["loop"]["heartbeat_s"] == 60
    assert "loop" not in RAW  # the caller's raw config is untouched
    for field, value, phrase in (("loop.heartbeat_s", 1, "loop.heartbeat_s"),
                                 ("loop.nope", 1, "loop.nope"),
                                 ("nope", 1, "section.field"),
                                 ("inlet.may_go", 0.5, "inlet"),
                                 ("device.id", "pole-8", "provisioning")):
        new, errors = commands.check_set(RAW, field, value)
        assert new is None and errors and phrase in errors[0], (field, errors)


def test_signed_command_roundtrip():
    v = sign.Verifier(KEY, True, 5)
    body = '{"id":"s1","cmd":"ping","ctr":6}'
    payload = sign.sign_command(KEY, "pole-7", body)
    got, err = v.check(payload, "pole-7")
    assert err is None and got == body.encode(), err
    assert v.ctr == 6
    cmd, err = commands.decode_command(got)
    assert cmd is not None and cmd["ctr"] == 6, err
    assert v.accept(v.ctr) and v.last_ctr == 6
    # The same payload again is a replay.
    got, err = v.check(payload, "pole-7")
    assert got is None and "replay" in err, err


def test_signed_command_refusals():
    v = sign.Verifier(KEY, True, 5)
    body = '{"id":"s1","cmd":"ping","ctr":6}'
    good = json.loads(sign.sign_command(KEY, "pole-7", body))
    other_key = bytes(32)
    cases = [
        (sign.sign_command(KEY, "pole-8", body), "sig"),  # signed for another pole
        (sign.sign_command(other_key, "pole-7", body), "sig"),
        (json.dumps({"body": body.replace("ping", "pong"), "sig": good["sig"]}), "sig"),
        (json.dumps({"body": body, "sig": "zz" * 32}), "hex"),
        (json.dumps({"body": body, "sig": good["sig"][:-2]}), "hex"),
        (json.dumps({"body": body, "sig": good["sig"], "x": 1}), "body"),
        (json.dumps({"body": 5, "sig": good["sig"]}), "body"),
        (sign.sign_command(KEY, "pole-7", '{"id":"s1","cmd":"ping"}'), "ctr"),
        (sign.sign_command(KEY, "pole-7", '{"id":"s1","cmd":"ping","ctr":"7"}'), "ctr"),
        (sign.sign_command(KEY, "pole-7", '{"id":"s1","cmd":"ping","ctr":5}'), "replay"),
        (sign.sign_command(KEY, "pole-7", "[[[[[[1]]]]]]"), "nested"),
        (b'{"id":"s1","cmd":"ping","ctr":99}', "only signed"),
        (b"\xff\x00", "UTF-8"),
        (b"x" * 2000, "too large"),
    ]
    for payload, phrase in cases:
        if isinstance(payload, str):
            payload = payload.encode()
        got, err = v.check(payload, "pole-7")
        assert got is None and phrase in err, (payload, err)
        assert v.ctr is None
    assert v.last_ctr == 5


def test_unsigned_allowed_when_not_required():
    v = sign.Verifier(KEY, False, 0)
    raw = b'{"id":"u1","cmd":"ping","ctr":1000000000}'
    got, err = v.check(raw, "pole-7")
    assert got == raw and err is None
    # An unsigned counter is never trusted: it cannot push the replay window forward.
    assert v.ctr is None and not v.accept(v.ctr) and v.last_ctr == 0
    got, err = sign.Verifier(None, False, 0).check(sign.sign_command(KEY, "p", '{"ctr":1}'), "p")
    assert got is None and "no command key" in err
    got, err = sign.Verifier(None, True, 0).check(b'{"id":"a","cmd":"ping"}', "p")
    assert got is None


def test_counter_document():
    assert sign.counter_from_doc(sign.counter_doc(42)) == 42
    for bad in ({}, {"last_ctr": -1}, {"last_ctr": "3"}, {"last_ctr": True}, [], None,
                {"last_ctr": 1, "x": 2}):
        try:
            sign.counter_from_doc(bad)
        except ValueError:
            continue
        raise AssertionError("accepted %r" % (bad,))
    assert sign.key_from_hex("") is None and sign.key_from_hex("ab" * 32) == b"\xab" * 32


def test_outbox_fifo_and_drop_oldest():
    ob = Outbox(3)
    assert len(ob) == 0 and ob.peek() is None
    ob.pop()  # popping nothing is harmless
    for i in range(5):
        ob.put(b"t", b"e%d" % i)
    assert len(ob) == 3 and ob.dropped == 2
    out = []
    while len(ob):
        out.append(ob.peek()[1])
        ob.pop()
    assert out == [b"e2", b"e3", b"e4"], out
    ob.put(b"t", b"x")
    assert ob.peek() == (b"t", b"x") and ob.dropped == 2


def test_backoff_bounds_and_reset():
    seed = [12345]

    def bits(k):  # a small LCG standing in for random.getrandbits
        seed[0] = (seed[0] * 1103515245 + 12345) & 0x7FFFFFFF
        return seed[0] >> (31 - k)

    b = Backoff(500, 8000, 30000, uniform_from_bits(bits))
    ceilings = []
    for _ in range(8):
        ceilings.append(b.ceiling())
        d = b.next_delay()
        assert 0 <= d <= ceilings[-1] <= 8000
    assert ceilings == [500, 1000, 2000, 4000, 8000, 8000, 8000, 8000], ceilings
    b.connected(1000)
    assert not b.maybe_reset(1000 + 29999)
    b.failed()  # dropped before it was stable: keep backing off
    assert not b.maybe_reset(1000 + 40000) and b.ceiling() == 8000
    b.connected((1 << 30) - 10)  # across the ticks wrap
    assert b.maybe_reset(29990) and b.ceiling() == 500
    assert Backoff().next_delay() <= 500  # works without injected randomness
