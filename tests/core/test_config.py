"""The config schema: defaults filled in, every bad field named, never a crash."""

import json
import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent import config
from agent.config import CONFIG, REQUIRED, ConfigError

MINIMAL = {"device": {"id": "pole-17", "role": "streetlight"}, "mqtt": {"host": "broker.lan"}}


def test_minimal_config_gets_every_default():
    cfg = config.load(MINIMAL)
    assert cfg["mqtt"]["port"] == 1883
    assert cfg["loop"]["wdt_ms"] == 8000
    assert cfg["light"]["on_lux"] < cfg["light"]["off_lux"]
    assert "inlet" not in cfg  # a streetlight carries no inlet settings


def test_inlet_geometry_and_valve_times_are_cross_checked():
    raw = {"device": {"id": "bin-1", "role": "inlet"}, "mqtt": {"host": "b"},
           "inlet": {"branch": "north", "open_s": 9, "max_open_s": 8, "full_m": 0.1,
                     "blind_m": 0.25, "empty_m": 5, "max_m": 4}}
    with pytest.raises(ConfigError) as e:
        config.load(raw)
    assert e.value.errors == [
        "inlet.open_s: 9 must not exceed inlet.max_open_s 8",
        "inlet.full_m: 0.1 is inside the sensor's blind zone (inlet.blind_m 0.25)",
        "inlet.empty_m: 5 is beyond the sensor's range (inlet.max_m 4)"]
    raw["inlet"].update(open_s=5, full_m=1.0, empty_m=1.05)
    with pytest.raises(ConfigError, match="full_m: 1.0 must be at least 0.1 m nearer"):
        config.load(raw)


def test_inlet_needs_its_branch():
    raw = {"device": {"id": "bin-1", "role": "inlet"}, "mqtt": {"host": "b"}}
    with pytest.raises(ConfigError) as e:
        config.load(raw)
    assert e.value.errors == ["inlet.branch: required, missing"]
    raw["inlet"] = {"branch": "north"}
    assert config.load(raw)["inlet"]["must_go"] == 0.85


def test_every_bad_field_is_named_at_once():
    raw = {
        "device": {"id": "pole 17", "role": "streetlight"},
        "mqtt": {"host": "b", "port": 70000, "prot": 1},
        "loop": {"heartbeat_s": "100"},
        "light": {"pwm_hz": 100},
    }
    with pytest.raises(ConfigError) as e:
        config.load(raw)
    msg = str(e.value)
    assert "device.id: 'pole 17' may hold only" in msg
    assert "mqtt.port: 70000 is above the maximum 65535" in msg
    assert "mqtt.prot: unknown field (did you mean 'port'?)" in msg
    assert "loop.heartbeat_s: must be an integer, got '100'" in msg
    assert "light.pwm_hz: 100 is below the minimum 3000" in msg
    assert len(e.value.errors) == 5


def test_bool_is_not_a_number_and_nan_is_refused():
    for bad in (True, float("nan"), float("inf")):
        raw = json.loads(json.dumps(MINIMAL))
        raw["light"] = {"on_lux": bad}
        with pytest.raises(ConfigError, match="light.on_lux: must be a number"):
            config.load(raw)


def test_field_of_the_other_role_is_refused():
    raw = dict(MINIMAL, inlet={"branch": "north"})
    with pytest.raises(ConfigError, match="inlet.branch: only used by role inlet"):
        config.load(raw)


def test_cross_field_rules():
    raw = dict(MINIMAL, light={"on_lux": 30, "off_lux": 20})
    with pytest.raises(ConfigError, match="light.off_lux: 20 must be above light.on_lux 30"):
        config.load(raw)


def test_reserved_device_id_is_refused():
    raw = {"device": {"id": "group", "role": "streetlight"}, "mqtt": {"host": "b"}}
    with pytest.raises(ConfigError, match="device.id: 'group' is reserved"):
        config.load(raw)


def test_secrets_schema():
    ok = config.load_secrets({"wifi": {"ssid": "street"}, "cmd": {"key": "ab" * 32}})
    assert ok["mqtt"]["password"] == ""
    with pytest.raises(ConfigError, match="cmd.key: must be 64 hex digits"):
        config.load_secrets({"wifi": {"ssid": "street"}, "cmd": {"key": "xyz"}})


def _valid_value(spec):
    kind, _, lo, hi, _ = spec
    if isinstance(kind, tuple):
        return st.sampled_from(kind)
    if kind == "bool":
        return st.booleans()
    if kind == "hhmm":
        return st.builds("{:02d}:{:02d}".format, st.integers(0, 23), st.integers(0, 59))
    if kind == "steps":
        return st.lists(st.integers(0, 1439), min_size=1, max_size=8, unique=True).flatmap(
            lambda ms: st.lists(st.integers(lo, hi), min_size=len(ms), max_size=len(ms)).map(
                lambda lv: [[f"{m // 60:02d}:{m % 60:02d}", v] for m, v in zip(ms, lv,
                                                                               strict=True)]))
    if kind == "curve":
        return st.lists(st.integers(0, 100), min_size=1, max_size=8, unique=True).map(
            lambda ps: [[p, p * 0.6] for p in sorted(ps)])
    if kind == "int":
        return st.integers(lo, hi)
    if kind == "num":
        floats = st.floats(lo, hi, allow_nan=False)
        if math.ceil(lo) > math.floor(hi):
            return floats  # no whole number in range (e.g. 0.01..0.9)
        return floats | st.integers(math.ceil(lo), math.floor(hi))
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-_." if kind in ("id", "str") else "0123abcdef"
    if kind == "hex":
        return st.sampled_from(["", "0f" * 32])
    return st.text(alphabet, min_size=max(lo or 0, 1), max_size=hi)


@st.composite
def valid_configs(draw):
    role = draw(st.sampled_from(config.ROLES))
    raw = {}
    for sec, fields in CONFIG.items():
        for name, spec in fields.items():
            applies = spec[config.FOR_ROLES] is None or role in spec[config.FOR_ROLES]
            if not applies or name == "role":
                continue
            if spec[config.DEFAULT] is REQUIRED or draw(st.booleans()):
                raw.setdefault(sec, {})[name] = draw(_valid_value(spec))
    raw["device"]["role"] = role
    if raw["device"]["id"] in config.RESERVED_IDS:
        raw["device"]["id"] += "-1"
    if role == "streetlight":
        light = raw.setdefault("light", {})
        on = draw(st.integers(0, 500))
        light["on_lux"], light["off_lux"] = on, on + draw(st.integers(1, 500))
    else:
        inlet = raw["inlet"]
        inlet["may_go"], inlet["must_go"] = 0.5, 0.9
        inlet["open_s"], inlet["max_open_s"], inlet["valve_travel_ms"] = 5, 8, 1500
        inlet["blind_m"], inlet["full_m"], inlet["empty_m"], inlet["max_m"] = 0.2, 0.3, 1.2, 4
    return raw


@given(valid_configs())
def test_valid_configs_load_and_survive_a_json_round_trip(raw):
    cfg = config.load(raw)
    assert config.load(json.loads(json.dumps(cfg))) == cfg
    for sec, fields in raw.items():
        for name, value in fields.items():
            assert cfg[sec][name] == value


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12,
)


@given(valid_configs(), st.data(), json_values)
def test_any_change_loads_or_is_refused_with_a_named_field(raw, data, value):
    sec = data.draw(st.sampled_from(sorted(CONFIG)))
    field = data.draw(st.sampled_from(sorted(CONFIG[sec])) | st.text("abc_xyz é", max_size=10))
    mutated = config.with_value(raw, f"{sec}.{field}", value)
    cfg, errors = config.check(CONFIG, mutated)
    if errors:
        assert cfg is None
        # Every message starts with the field it is about.
        assert all(re.match(r"^[a-z_]+\.[^:]*: ", e) for e in errors), errors
        if field not in CONFIG[sec] or config.field_error(CONFIG[sec][field], value):
            assert any(e.startswith(f"{sec}.{field}: ") for e in errors), errors
    else:
        assert cfg[sec][field] == value


@given(json_values)
def test_anything_at_all_never_crashes(obj):
    cfg, errors = config.check(CONFIG, obj)
    assert (cfg is None) == bool(errors)
