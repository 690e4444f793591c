"""Ring 1: commands the operator's tool builds and signs, judged by the firmware's own code
(agent.commands, agent.config, agent.sign): what the tool accepts the device accepts, what it
refuses gets one line saying why, and a signed command verifies only for its device."""

import json

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from agent import commands, config, sign
from host_tools.fleet import build, cmdline, dispatch
from host_tools.fleet.fleetview import Device

BASE = {"streetlight": {"device": {"id": "pole-1", "role": "streetlight"},
                        "mqtt": {"host": "broker"}},
        "inlet": {"device": {"id": "bin-1", "role": "inlet"}, "mqtt": {"host": "broker"},
                  "inlet": {"branch": "a"}}}
FIELDS = ["%s.%s" % (sec, name) for sec, fields in config.CONFIG.items() for name in fields]
ARG_NAMES = sorted({a for _, specs in commands.COMMANDS.values() for a in specs})

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                    st.floats(allow_nan=True, allow_infinity=True),
                    st.text(max_size=12), st.sampled_from(["empty", "full", "eu", "log"]))
values = st.one_of(scalars, st.lists(scalars, max_size=3))
names = st.one_of(st.sampled_from(build.known_names()), st.text(max_size=10))
roles = st.sampled_from([None, "streetlight", "inlet"])


@st.composite
def requests(draw):
    name = draw(names)
    if build.canonical(name) == "set" and draw(st.booleans()):
        args = {"field": draw(st.one_of(st.sampled_from(FIELDS), st.text(max_size=20))),
                "value": draw(values)}
    else:
        keys = draw(st.lists(st.one_of(st.sampled_from(ARG_NAMES), st.text(max_size=8)),
                             max_size=3, unique=True))
        args = {k: draw(values) for k in keys}
    return name, args, draw(roles)


def _built_or_reason(name, args, role, raw=None):
    try:
        return build.build(name, args, role, raw), None
    except build.CommandError as e:
        return None, str(e)


@settings(max_examples=400, deadline=None)
@given(requests())
def test_what_the_tool_accepts_the_firmware_accepts(req):
    name, args, role = req
    body, why = _built_or_reason(name, args, role)
    if body is None:
        assert why and "\n" not in why  # one line naming the problem
        return
    cmd = dict(body, id="op1", ctr=7)
    checked, err = commands.validate(json.loads(json.dumps(cmd)), role)
    assert err is None, (cmd, err)
    if body["cmd"] == "set" and role is not None:
        # With the device's config at hand, the whole new config is the device's to judge.
        raw = BASE[role]
        body2, why2 = _built_or_reason(name, args, role, raw)
        new, errors = commands.check_set(raw, args["field"], args["value"])
        assert (body2 is None) == (new is None), (why2, errors)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(FIELDS), values, roles)
def test_a_set_value_outside_the_schema_is_refused_naming_the_field(field, value, role):
    spec = config.CONFIG[field.split(".")[0]][field.split(".")[1]]
    body, why = _built_or_reason("set", {"field": field, "value": value}, role)
    bad = config.field_error(spec, value) is not None or not config.applies(spec, role) or \
        field in commands.FIXED_FIELDS
    assume(commands.validate({"id": "x", "cmd": "set",
                              "args": {"field": field, "value": value}}, role)[1] is None)
    assert (body is None) == bad, why
    if bad:
        assert why.startswith("set %s: " % field) and "\n" not in why


def test_refusals_name_the_problem():
    cases = [(("set", {"field": "light.boost_pct", "value": 150}, "streetlight"),
              "set light.boost_pct: 150 is above the maximum 100"),
             (("set", {"field": "light.bost_pct", "value": 1}, None),
              "set light.bost_pct: unknown config field (did you mean light.boost_pct?)"),
             (("set", {"field": "device.id", "value": "x"}, None),
              "set device.id: fixed at provisioning, not settable by command"),
             (("override", {"level_pct": 50}, "inlet"),
              "cmd: override is for streetlight, this device is inlet"),
             (("override", {}, "streetlight"), "args.level_pct: required, missing"),
             (("set", {"field": "light.off_lux", "value": 5}, "streetlight"), None)]
    for (name, args, role), said in cases:
        assert _built_or_reason(name, args, role)[1] == said
    # With the config at hand the cross-field rule is the device's, said before sending.
    _, why = _built_or_reason("set", {"field": "light.off_lux", "value": 5}, "streetlight",
                              BASE["streetlight"])
    assert why.startswith("set light.off_lux: light.off_lux: 5 must be above light.on_lux")


def test_restart_is_reboot_and_usage_comes_from_the_firmware_table():
    assert build.build("restart", {})["cmd"] == "reboot"
    lines = build.usage_lines()
    assert [line.split()[0] for line in lines] == list(commands.COMMANDS)
    assert "override TARGET level_pct=0..100 [duration_s=1..86400]  (streetlight only)" in lines


KEY = bytes(range(32))


def _planned(dev_id="pole-1", kind="streetlight", body=None):
    return dispatch.Planned(Device(dev_id, kind, "main", "city"), KEY,
                            body or build.build("override", {"level_pct": 40}, kind))


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 10**6), st.integers(0, 10**9))
def test_signed_payload_verifies_with_the_device_verifier(step, last):
    p = _planned()
    payload = dispatch.signed_payload(p, "op1", last + step)
    v = sign.Verifier(KEY, True, last)
    body, err = v.check(payload, "pole-1")
    assert err is None and v.ctr == last + step
    cmd, err = commands.decode_command(body, role="streetlight")
    assert err is None
    assert (cmd["cmd"], cmd["args"]["level_pct"], cmd["id"]) == ("override", 40, "op1")
    # Not for another device, not with another key, not twice.
    assert "wrong signature" in sign.Verifier(KEY, True, last).check(payload, "pole-2")[1]
    assert "wrong signature" in sign.Verifier(b"\x01" * 32, True, last).check(
        payload, "pole-1")[1]
    assert v.accept(v.ctr)
    assert "not above the last accepted" in v.check(payload, "pole-1")[1]


def test_unsigned_payload_is_the_plain_command_and_long_ones_are_refused():
    p = _planned()
    p.key = None
    assert json.loads(dispatch.signed_payload(p, "op1", None)) == {
        "id": "op1", "cmd": "override", "args": {"level_pct": 40}}
    big = _planned(body=build.build("set", {"field": "device.name", "value": "x" * 64}))
    assert len(dispatch.signed_payload(big, "op1", 1)) <= sign.WRAPPER_MAX_BYTES
    long = _planned(body={"cmd": "set", "args": {"field": "device.name", "value": "x" * 600}})
    try:
        dispatch.signed_payload(long, "op1", 1)
    except build.CommandError as e:
        assert "the device reads at most 512" in str(e)
    else:
        raise AssertionError("a 600-character body was signed")


def test_command_lines_parse_into_requests_or_one_line():
    P = cmdline.parse
    assert P("set pole-3 light.boost_pct 90") == cmdline.Request(
        "set", "pole-3", {"field": "light.boost_pct", "value": 90})
    assert P('set pole-3 device.name "Elm street 3"').args["value"] == "Elm street 3"
    assert P("restart group:north") == cmdline.Request("restart", "group:north", {})
    assert P("override kind:streetlight level_pct=80 duration_s=60").args == {
        "level_pct": 80, "duration_s": 60}
    assert P("calibrate bin-1 what=empty").args == {"what": "empty"}
    assert P("  ") is None
    assert P("help") == cmdline.Help() and P("help set") == cmdline.Help("set")
    assert P("quit") == cmdline.Quit()
    for line, said in (("pign pole-1", "pign: unknown command (did you mean ping?)"),
                       ("ping", "ping: which device?"),
                       ("ping town:x", "target town:x: use an id"),
                       ("ping kind:bench", "target kind:bench: kind is one of"),
                       ("ping a/b", "target a/b: device id 'a/b'"),
                       ("set pole-1 light.boost_pct", "set: expected set TARGET FIELD VALUE"),
                       ("override pole-1 80", "override: argument '80': expected NAME=VALUE"),
                       ('ping "pole', "cannot read the line")):
        got = P(line)
        assert isinstance(got, cmdline.LineError) and got.message.startswith(said), got


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=60), st.lists(st.text(max_size=12), max_size=5).map(" ".join)))
def test_any_typed_line_gives_an_answer_never_an_exception(line):
    got = cmdline.parse(line)
    assert got is None or isinstance(got, (cmdline.Request, cmdline.Help, cmdline.Quit,
                                           cmdline.LineError))
    if isinstance(got, cmdline.LineError):
        assert got.message and "\n" not in got.message
