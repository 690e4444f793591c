"""Commands through the agent's comms layer (CPython, hypothesis): whatever arrives on the
command topic, nothing escapes, an invalid command changes nothing, and every command gets
exactly one ack. The network is replaced by a recorder; the files are real."""

import json
import sys
import types

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent import config, sign, store


@pytest.fixture(scope="module")
def comms_mod():
    # agent.comms imports the link, which imports umqtt.simple (MicroPython-only) and uses
    # the ticks functions of MicroPython's time: the simulated board provides both roles.
    fake = types.ModuleType("umqtt.simple")
    fake.MQTTClient = object
    saved = {k: sys.modules.get(k) for k in ("umqtt", "umqtt.simple")}
    sys.modules["umqtt"] = types.ModuleType("umqtt")
    sys.modules["umqtt.simple"] = fake
    import simclock
    import simtime

    from agent import comms, link

    comms.time = link.time = simtime
    simclock.reset()
    yield comms
    for k, v in saved.items():
        if v is None:
            sys.modules.pop(k, None)
        else:
            sys.modules[k] = v


KEY = bytes(range(32))
RAW = {"device": {"id": "pole-3", "role": "streetlight"}, "mqtt": {"host": "b"}}


class Recorder:
    def __init__(self):
        self.events, self.published, self.inbox = [], [], []
        self.up = True
        self.reconnects = 0
        self.last_error = ""
        self.inbox_dropped = 0

    def send_event(self, topic, payload):
        self.events.append((topic, json.loads(payload)))

    def publish(self, topic, payload, retain=False):
        self.published.append((topic, payload))
        return True


class FakeAgent:
    def __init__(self, root, signed):
        raw = json.loads(json.dumps(RAW))
        raw["mqtt"]["signed_cmds"] = signed
        store.save_json(root + "config.json", raw, config.load)
        self.root = root
        self.cfg = config.load(raw)
        self.secrets = config.load_secrets({"wifi": {"ssid": "s"}, "cmd": {"key": KEY.hex()}})
        self.restarts = []

    def state(self):
        return {"mode": "ok"}

    def state_deadbands(self):
        return {}

    def restart_in(self, ms):
        self.restarts.append(ms)

    def role_command(self, cmd, now_ms):
        return False, "not here", None

    def peer_message(self, payload, now_ms):
        pass


def make(comms_mod, tmp_path, signed):
    agent = FakeAgent(str(tmp_path) + "/", signed)
    c = comms_mod.Comms(agent, 0)
    c.link = Recorder()
    return agent, c


def snapshot(root):
    return {n: open(root + n, "rb").read() if _exists(root + n) else None
            for n in ("config.json", "config.json.bak", "cmdctr.json")}


def _exists(p):
    try:
        open(p).close()
        return True
    except OSError:
        return False


json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_docs = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                         | st.dictionaries(st.text(max_size=8), inner, max_size=5), max_leaves=20)
hostile = st.one_of(
    st.binary(max_size=600),
    json_docs.map(lambda d: json.dumps(d).encode()),
    st.fixed_dictionaries({"id": st.text(max_size=40), "cmd": st.sampled_from(
        ["set", "ping", "reboot", "get_config", "override", "x"]),
        "args": json_docs}).map(lambda d: json.dumps(d).encode()),
    st.integers(1, 64).map(lambda n: b"[" * n + b"]" * n),
)
settings_ = settings(max_examples=150, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])


@settings_
@given(payload=hostile)
def test_hostile_payloads_get_one_error_ack_and_change_nothing(comms_mod, tmp_path, payload):
    agent, c = make(comms_mod, tmp_path, signed=True)
    before = snapshot(agent.root)
    c._handle(c.topics.cmd, payload, 1000)
    acks = [e for t, e in c.link.events if t == c.topics.cmd_ack]
    assert len(acks) == 1 and acks[0]["ok"] is False and acks[0]["error"]
    assert snapshot(agent.root) == before and agent.restarts == []


@settings_
@given(payload=hostile)
def test_unsigned_mode_still_refuses_invalid_commands(comms_mod, tmp_path, payload):
    agent, c = make(comms_mod, tmp_path, signed=False)
    before = snapshot(agent.root)
    c._handle(c.topics.cmd, payload, 1000)
    acks = [e for t, e in c.link.events if t == c.topics.cmd_ack]
    assert len(acks) == 1
    if not acks[0]["ok"]:
        assert snapshot(agent.root) == before and agent.restarts == []


@settings_
@given(field=st.sampled_from(["loop.heartbeat_s", "light.on_lux", "mqtt.port", "device.id",
                              "nope.x", "loop"]), value=json_scalars)
def test_set_applies_only_a_valid_change(comms_mod, tmp_path, field, value):
    agent, c = make(comms_mod, tmp_path, signed=False)
    before = snapshot(agent.root)
    cmd = json.dumps({"id": "s1", "cmd": "set", "args": {"field": field, "value": value}})
    c._handle(c.topics.cmd, cmd.encode(), 1000)
    (ack,) = [e for t, e in c.link.events if t == c.topics.cmd_ack]
    if ack["ok"]:
        saved = store.load_json(agent.root + "config.json", config.load)[0]
        assert config.get(saved, field) == value
        # A new value restarts the agent; the value already in force touches nothing.
        assert bool(agent.restarts) != bool(ack["state"].get("unchanged"))
        if not agent.restarts:
            assert snapshot(agent.root) == before
    else:
        assert snapshot(agent.root) == before and not agent.restarts


def test_a_set_to_the_value_in_force_writes_nothing_and_restarts_nothing(comms_mod, tmp_path):
    agent, c = make(comms_mod, tmp_path, signed=False)
    before = snapshot(agent.root)
    in_force = agent.cfg["loop"]["heartbeat_s"]
    for i, value in enumerate((in_force, in_force + 1)):
        cmd = json.dumps({"id": "s%d" % i, "cmd": "set",
                          "args": {"field": "loop.heartbeat_s", "value": value}})
        c._handle(c.topics.cmd, cmd.encode(), 1000)
    same, new = [e for t, e in c.link.events if t == c.topics.cmd_ack]
    assert same["ok"] and same["state"]["unchanged"] is True
    assert new["ok"] and "unchanged" not in new["state"]
    assert agent.restarts == [comms_mod.RESTART_GRACE_MS]  # the new value only
    assert snapshot(agent.root) != before


@pytest.mark.parametrize("signed", [False, True])
def test_a_retained_command_never_runs_and_is_refused_once(comms_mod, tmp_path, signed):
    agent, c = make(comms_mod, tmp_path, signed=signed)
    before = snapshot(agent.root)
    body = json.dumps({"id": "r1", "cmd": "reboot", "ctr": 3})
    payload = sign.sign_command(KEY, "pole-3", body) if signed else body.encode()
    for reconnect in range(3):  # the broker hands it to every new session
        c._handle(c.topics.cmd, payload, 1000 + reconnect, retained=True)
    acks = [e for t, e in c.link.events if t == c.topics.cmd_ack]
    assert len(acks) == 1 and not acks[0]["ok"] and "retained" in acks[0]["error"]
    assert acks[0]["id"] == "r1"
    assert agent.restarts == [] and snapshot(agent.root) == before
    assert c.verifier.last_ctr == 0  # a retained copy does not use up its counter
    # The same command sent live runs.
    c._handle(c.topics.cmd, payload, 2000)
    assert agent.restarts and [e for t, e in c.link.events if t == c.topics.cmd_ack][-1]["ok"]


def test_signed_set_is_applied_and_its_counter_persisted(comms_mod, tmp_path):
    agent, c = make(comms_mod, tmp_path, signed=True)
    body = json.dumps({"id": "a1", "cmd": "set", "ctr": 7,
                       "args": {"field": "loop.heartbeat_s", "value": 60}})
    c._handle(c.topics.cmd, sign.sign_command(KEY, "pole-3", body), 1000)
    (ack,) = [e for t, e in c.link.events if t == c.topics.cmd_ack]
    assert ack["ok"] and ack["id"] == "a1"
    assert store.load_json(agent.root + "cmdctr.json")[0] == {"last_ctr": 7}
    # A fresh comms (after the reboot the set asked for) refuses the same bytes.
    c2 = comms_mod.Comms(agent, 0)
    c2.link = Recorder()
    c2._handle(c2.topics.cmd, sign.sign_command(KEY, "pole-3", body), 2000)
    (ack2,) = [e for t, e in c2.link.events if t == c2.topics.cmd_ack]
    assert not ack2["ok"] and "replay" in ack2["error"]


@settings_
@given(topic=st.binary(max_size=80) | st.sampled_from([b"city/main/streetlight/group/g/peer",
                                                      b"city/main/streetlight/pole-3/cmd"]),
       payload=hostile)
def test_any_topic_and_payload_never_escape(comms_mod, tmp_path, topic, payload):
    agent, c = make(comms_mod, tmp_path, signed=True)
    c._handle(topic, payload, 1000)  # must not raise
    assert all(t == c.topics.cmd_ack for t, _ in c.link.events)


def test_state_goes_once_after_every_reconnect_and_not_between(comms_mod, tmp_path):
    """The broker retains state, but one restarted without persistence has lost it: after
    each (re)connect the state goes once, so a dashboard is never left empty; between
    reconnects an unchanged state is not sent again."""
    agent, c = make(comms_mod, tmp_path, signed=True)
    agent.diag_numbers = lambda: {"uptime_s": 1, "heap_free": 1, "heap_max_block": 1,
                                  "reset_cause": 1, "loop_us_max": 1}
    c.link.rssi = lambda: -60
    c.link.outbox = types.SimpleNamespace(dropped=0)
    c.link.oversize = 0

    def states():
        return [t for t, _ in c.link.published if t == c.topics.state]

    for n, now in enumerate((1000, 90_000, 400_000), start=1):
        c._on_up(now)
        assert len(states()) == n
        c.publish_state(now + 70_000)  # nothing changed since: nothing more
        assert len(states()) == n
