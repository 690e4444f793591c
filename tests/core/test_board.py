"""Board pin maps and their validator (agent.board), under CPython."""

import copy
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent import board as B
from agent.chips import CHIPS

BOARDS = sorted((Path(__file__).resolve().parents[2] / "boards").glob("*.json"))


MEM = {"psram": False, "gc_heap_kb": 112}


def base(**pins):
    """A clean esp32 streetlight map, with pins overridden (None removes a function)."""
    p = {"lamp_pwm": 25, "light_adc": 34, "motion": 35}
    p.update(pins)
    p = {k: v for k, v in p.items() if v is not None}
    return {"name": "t", "chip": "esp32", "roles": ["streetlight"], "pins": p, "memory": MEM}


def only_error(board, *words, wifi=True):
    errors, _ = B.validate(board, wifi=wifi)
    assert len(errors) == 1, errors
    for w in words:
        assert w in errors[0], (w, errors[0])
    return errors[0]


def only_warning(board, *words):
    errors, warnings = B.validate(board)
    assert errors == []
    assert len(warnings) == 1, warnings
    for w in words:
        assert w in warnings[0], (w, warnings[0])
    return warnings[0]


# --- shipped boards ----------------------------------------------------------------------


def test_three_boards_ship():
    names = {p.stem for p in BOARDS}
    assert {"esp32-devkitc", "esp32-c3-devkitm-1", "esp32-s3-devkitc-1"} <= names


@pytest.mark.parametrize("path", BOARDS, ids=lambda p: p.stem)
def test_shipped_board_is_clean(path):
    data = json.loads(path.read_text())
    assert B.validate(data) == ([], [])
    assert data["name"] == path.stem
    assert data["chip"] in CHIPS
    loaded = B.load_board(path.read_text())
    assert None not in loaded["pins"].values()
    for role in ("streetlight", "inlet"):
        assert role in loaded["roles"]


def test_example_from_design_is_valid_with_led_warning():
    m = {
        "name": "esp32-devkitc",
        "title": "x",
        "chip": "esp32",
        "roles": ["streetlight", "inlet"],
        "pins": {
            "lamp_pwm": 25,
            "light_adc": 34,
            "i2c_sda": 21,
            "i2c_scl": 22,
            "motion": 35,
            "us_trig": 26,
            "us_echo": 36,
            "valve": 27,
            "valve_pos": 39,
            "vacuum_ready": 32,
            "temp_onewire": 4,
            "status_led": 2,
        },
        "active_low": ["status_led"],
        "memory": MEM,
    }
    only_warning(m, "status_led", "GPIO2", "strapping")


# --- one test per rule ---------------------------------------------------------------------


def test_unknown_chip():
    m = base()
    m["chip"] = "esp8266"
    only_error(m, "unknown chip", "esp8266", "esp32c3")


def test_unknown_role():
    m = base()
    m["roles"] = ["streetlight", "bench"]
    only_error(m, "unknown role", "bench")


def test_unknown_function_suggests_nearest():
    msg = only_error(base(lamp_pwn=4), "lamp_pwn", "not a known function")
    assert msg.endswith("did you mean lamp_pwm?")
    assert "did you mean vacuum_ready?" in only_error(base(vacum_ready=4))


@pytest.mark.parametrize("bad", ["25", 25.0, True, [25], {"gpio": 25}])
def test_pin_not_an_integer(bad):
    only_error(base(lamp_pwm=bad), "lamp_pwm", "must be an integer")


def test_null_pin_means_absent():
    m = base(temp_onewire=4)
    m["pins"]["status_led"] = None
    assert B.validate(m) == ([], [])
    assert B.pin_of(m, "status_led") is None
    assert B.pin_of(m, "temp_onewire") == 4


# A clean streetlight map per chip: (lamp_pwm, motion, light_adc).
CLEAN = {"esp32": (25, 35, 34), "esp32c3": (10, 4, 3), "esp32s3": (5, 6, 1)}


def chip_map(chip, **pins):
    lamp, motion, adc = CLEAN[chip]
    p = {"lamp_pwm": lamp, "motion": motion, "light_adc": adc}
    p.update(pins)
    return {"name": "t", "chip": chip, "roles": ["streetlight"], "pins": p, "memory": MEM}


@pytest.mark.parametrize("chip", sorted(CLEAN))
def test_clean_maps_per_chip(chip):
    assert B.validate(chip_map(chip)) == ([], [])


@pytest.mark.parametrize(
    "chip,pin", [("esp32", 24), ("esp32", 40), ("esp32", -1), ("esp32c3", 22), ("esp32s3", 23)]
)
def test_pin_the_chip_lacks(chip, pin):
    only_error(
        chip_map(chip, status_led=pin), "status_led on GPIO%d" % pin, "does not exist on " + chip
    )


@pytest.mark.parametrize(
    "chip,pin",
    [
        ("esp32", 6),
        ("esp32", 11),
        ("esp32c3", 12),
        ("esp32c3", 17),
        ("esp32s3", 26),
        ("esp32s3", 32),
    ],
)
def test_flash_pin(chip, pin):
    only_error(chip_map(chip, lamp_pwm=pin), "lamp_pwm on GPIO%d" % pin, "SPI flash")


@pytest.mark.parametrize(
    "chip,pin",
    [
        ("esp32", 1),
        ("esp32", 3),
        ("esp32c3", 20),
        ("esp32c3", 21),
        ("esp32s3", 43),
        ("esp32s3", 44),
    ],
)
def test_console_pin(chip, pin):
    only_error(chip_map(chip, motion=pin), "motion on GPIO%d" % pin, "UART0", "console")


def test_output_on_input_only_pin():
    msg = only_error(base(lamp_pwm=35, motion=32), "lamp_pwm on GPIO35")
    assert msg == "lamp_pwm on GPIO35: GPIO35 is input-only on esp32, an output cannot use it"


def test_bidirectional_on_input_only_pin():
    only_error(base(temp_onewire=39), "temp_onewire on GPIO39", "input-only", "bidirectional")


def test_inputs_are_fine_on_input_only_pins():
    assert B.validate(base(us_echo=36, valve_pos=39)) == ([], [])


def test_analog_on_adc2_refused_with_wifi_allowed_without():
    m = base(light_adc=4)
    only_error(m, "light_adc on GPIO4", "ADC2", "Wi-Fi", "GPIO32-39")
    assert B.validate(m, wifi=False) == ([], [])


def test_analog_without_adc():
    m = base(temp_adc=21)
    only_error(m, "temp_adc on GPIO21", "no ADC", "ADC1")
    only_error(m, "temp_adc on GPIO21", "no ADC", wifi=False)


@pytest.mark.parametrize("chip,pin", [("esp32c3", 5), ("esp32s3", 11), ("esp32s3", 20)])
def test_adc2_on_other_chips(chip, pin):
    only_error(chip_map(chip, light_adc=pin), "light_adc on GPIO%d" % pin, "ADC2", "Wi-Fi")


def test_duplicate_pin():
    msg = only_error(base(motion=25), "motion on GPIO25", "already used by lamp_pwm")
    assert "one pin serves one function" in msg


def test_missing_role_functions():
    m = base()
    m["roles"] = ["streetlight", "inlet"]
    errors, _ = B.validate(m)
    assert len(errors) == 5
    for fn in ("us_trig", "us_echo", "valve", "valve_pos", "vacuum_ready"):
        assert "inlet role needs %s: no pin given" % fn in errors


def test_streetlight_needs_light_sensor():
    m = base(light_adc=None)
    only_error(m, "streetlight role needs light_adc, or i2c_sda and i2c_scl: no pin given")
    assert B.validate(base(light_adc=None, i2c_sda=21, i2c_scl=22)) == ([], [])
    only_error(base(i2c_sda=21), "i2c_sda", "I2C needs both", "i2c_scl has no pin")


def test_active_low_must_name_a_pin():
    m = base()
    m["active_low"] = ["status_led"]
    only_error(m, "active_low", "status_led", "no pin")
    m["pins"]["status_led"] = 13
    assert B.validate(m) == ([], [])


@pytest.mark.parametrize(
    "chip,pin,word",
    [
        ("esp32", 0, "strapping"),
        ("esp32", 12, "strapping"),
        ("esp32c3", 9, "strapping"),
        ("esp32s3", 46, "strapping"),
        ("esp32c3", 18, "USB"),
        ("esp32s3", 19, "USB"),
        ("esp32s3", 35, "octal"),
        ("esp32", 16, "PSRAM"),
        ("esp32c3", 11, "VDD_SPI"),
    ],
)
def test_warnings(chip, pin, word):
    only_warning(chip_map(chip, lamp_pwm=pin), "lamp_pwm on GPIO%d" % pin, word)


def test_messages_sorted_by_function():
    m = base(valve=6, temp_onewire=39, status_led=1, lamp_pwm=35, motion=32)
    errors, _ = B.validate(m)
    fns = [e.split(" ")[0] for e in errors]
    assert fns == sorted(fns)
    assert B.validate(copy.deepcopy(m)) == B.validate(m)


# --- wrong shapes -------------------------------------------------------------------------


@pytest.mark.parametrize("thing", [None, 3, "esp32", [], ["pins"], b"{}", 2.5])
def test_non_dict_maps_give_errors(thing):
    errors, warnings = B.validate(thing)
    assert len(errors) == 1 and "object" in errors[0]
    assert warnings == []


@pytest.mark.parametrize(
    "key,value,word",
    [
        ("name", 3, "name"),
        ("name", "", "name"),
        ("chip", ["esp32"], "chip"),
        ("roles", "streetlight", "roles"),
        ("roles", [], "roles"),
        ("pins", [25, 34], "pins"),
        ("active_low", "status_led", "active_low"),
        ("title", 7, "title"),
        ("notes", 7, "notes"),
    ],
)
def test_wrong_types_give_errors(key, value, word):
    m = base()
    m[key] = value
    errors, _ = B.validate(m)
    assert errors and any(word in e for e in errors), errors


def test_non_string_keys_and_entries():
    m = base()
    m["pins"][7] = 4
    m["roles"].append(3)
    m["active_low"] = [None]
    errors, _ = B.validate(m)
    assert len(errors) == 3, errors


def test_memory_unstated_is_a_warning():
    m = base()
    del m["memory"]
    only_warning(m, "memory not stated")


@pytest.mark.parametrize("mem, word", [
    ([], "memory must be an object"),
    ({"psram": 0, "gc_heap_kb": 112}, "memory.psram must be true or false"),
    ({"psram": False, "gc_heap_kb": 8}, "memory.gc_heap_kb"),
    ({"psram": False, "gc_heap_kb": 112.5}, "memory.gc_heap_kb"),
    ({"psram": False, "gc_heap_kb": 112, "flash_kb": 4096}, "memory.flash_kb: unknown"),
])
def test_bad_memory_is_an_error(mem, word):
    m = base()
    m["memory"] = mem
    only_error(m, word)


def test_unknown_top_level_key_is_a_warning():
    m = base()
    m["colour"] = "green"
    only_warning(m, "colour")


# --- load_board, pin_of ---------------------------------------------------------------------


def test_load_board_lists_every_error():
    m = base(lamp_pwm=35, motion=6, status_led=1)
    with pytest.raises(B.BoardError) as ei:
        B.load_board(m)
    e = ei.value
    assert isinstance(e, ValueError)
    assert len(e.errors) == 3
    assert str(e).split("\n") == e.errors


def test_load_board_from_text_and_bad_json():
    text = json.dumps(base(status_led=None))
    b = B.load_board(text)
    assert b["pins"] == {"lamp_pwm": 25, "light_adc": 34, "motion": 35}
    assert b["active_low"] == [] and b["title"] == "t"
    assert B.load_board(text.encode()) == b
    with pytest.raises(B.BoardError, match="not valid JSON"):
        B.load_board("{nope")
    with pytest.raises(B.BoardError):
        B.load_board(b"\xff\xfe")


def test_load_board_does_not_change_its_input():
    m = base()
    m["pins"]["status_led"] = None
    before = copy.deepcopy(m)
    B.load_board(m)
    assert m == before


def test_pin_of():
    m = base()
    assert B.pin_of(m, "lamp_pwm") == 25
    assert B.pin_of(m, "valve") is None
    assert B.pin_of({}, "valve") is None
    assert B.pin_of(base(valve=True), "valve") is None
    with pytest.raises(ValueError):
        B.pin_of(m, "lamp")


def test_is_active_low():
    m = base(status_led=13)
    m["active_low"] = ["status_led"]
    assert B.is_active_low(m, "status_led")
    assert not B.is_active_low(m, "lamp_pwm")


def test_chip_tables_are_consistent():
    for chip, t in CHIPS.items():
        gpio = set(t["gpio"])
        for name in ("input_only", "flash", "adc1", "adc2", "strapping", "usb", "console"):
            assert set(t[name]) <= gpio, (chip, name)
        assert not set(t["adc1"]) & set(t["adc2"]), chip
        for pins, reason in t["caution"]:
            assert set(pins) <= gpio and isinstance(reason, str)


# --- properties -------------------------------------------------------------------------------

json_leaf = (
    st.none()
    | st.booleans()
    | st.integers(-5, 60)
    | st.floats(allow_nan=True)
    | st.text(max_size=12)
)
json_any = st.recursive(
    json_leaf,
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
    max_leaves=12,
)
fn_names = st.sampled_from(sorted(B.FUNCTIONS)) | st.text(max_size=14)
pin_values = st.integers(-2, 50) | st.none() | json_leaf

maps = st.fixed_dictionaries(
    {},
    optional={
        "name": st.text(max_size=8) | json_leaf,
        "title": json_leaf,
        "chip": st.sampled_from(sorted(CHIPS)) | json_any,
        "roles": st.lists(st.sampled_from(["streetlight", "inlet"]) | json_leaf, max_size=3)
        | json_any,
        "pins": st.dictionaries(fn_names, pin_values, max_size=14) | json_any,
        "active_low": st.lists(fn_names | json_leaf, max_size=3) | json_any,
        "notes": json_any,
        "extra": json_any,
    },
)


def _check_result(res):
    assert isinstance(res, tuple) and len(res) == 2
    for lst in res:
        assert isinstance(lst, list)
        assert all(isinstance(m, str) and m for m in lst)


@settings(max_examples=400)
@given(maps, st.booleans())
def test_random_maps_never_crash(m, wifi):
    res = B.validate(m, wifi)
    _check_result(res)
    assert B.validate(m, wifi) == res  # deterministic
    if res[0]:
        with pytest.raises(B.BoardError):
            B.load_board(m, wifi)
    else:
        assert isinstance(B.load_board(m, wifi), dict)


@given(json_any)
def test_anything_at_all_never_crashes(x):
    _check_result(B.validate(x))


@settings(max_examples=300)
@given(
    st.sampled_from(sorted(CHIPS)),
    st.dictionaries(
        st.sampled_from(sorted(B.FUNCTIONS)), st.integers(0, 48), min_size=1, max_size=12
    ),
    st.data(),
)
def test_a_duplicated_pin_is_refused(chip, pins, data):
    fns = sorted(B.FUNCTIONS)
    first = data.draw(st.sampled_from(sorted(pins)))
    other = data.draw(st.sampled_from([f for f in fns if f != first]))
    pins = dict(pins)
    pins[other] = pins[first]
    m = {"name": "t", "chip": chip, "roles": ["streetlight"], "pins": pins}
    errors, _ = B.validate(m)
    pin = pins[first]
    assert any("GPIO%d is already used by" % pin in e for e in errors), errors
    with pytest.raises(B.BoardError):
        B.load_board(m)
