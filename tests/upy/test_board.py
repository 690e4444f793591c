# Ring 2: the board validator under the MicroPython unix port (run with cwd = repo root).
import json
import os

from agent import board as B


def _board_dir():
    # Run with cwd = repo root; fall back on this file's place in the tree.
    here = globals().get("__file__", "")
    i = here.rfind("tests/upy/")
    for d in ("boards", (here[:i] + "boards") if i >= 0 else "boards"):
        try:
            os.stat(d)
            return d
        except OSError:
            pass
    return "boards"


BOARD_DIR = _board_dir()


def _board_files():
    names = sorted(n for n in os.listdir(BOARD_DIR) if n.endswith(".json"))
    assert names, "no board maps in boards/"
    return names


def _read(name):
    with open(BOARD_DIR + "/" + name) as f:
        return f.read()


def _esp32(**pins):
    p = {"lamp_pwm": 25, "light_adc": 34, "motion": 35}
    for k in pins:
        p[k] = pins[k]
    return {"name": "t", "chip": "esp32", "roles": ["streetlight"], "pins": p,
            "memory": {"psram": False, "gc_heap_kb": 112}}


def test_shipped_boards_validate_clean():
    for name in _board_files():
        text = _read(name)
        errors, warnings = B.validate(json.loads(text))
        assert errors == [], (name, errors)
        assert warnings == [], (name, warnings)
        board = B.load_board(text)
        assert board["name"] + ".json" == name, name
        assert "streetlight" in board["roles"] and "inlet" in board["roles"], name
        assert B.pin_of(board, "lamp_pwm") is not None, name


def test_three_boards():
    names = _board_files()
    for want in ("esp32-devkitc.json", "esp32-c3-devkitm-1.json", "esp32-s3-devkitc-1.json"):
        assert want in names, want


def test_output_on_input_only_refused():
    errors, _ = B.validate(_esp32(lamp_pwm=35, motion=32))
    assert errors == ["lamp_pwm on GPIO35: GPIO35 is input-only on esp32, an output cannot use it"]


def test_adc2_refused_with_wifi():
    errors, _ = B.validate(_esp32(light_adc=4))
    assert len(errors) == 1 and "GPIO4" in errors[0] and "ADC2" in errors[0], errors
    assert B.validate(_esp32(light_adc=4), False) == ([], [])


def test_flash_console_and_duplicate_refused():
    errors, _ = B.validate(_esp32(valve=6, status_led=1, motion=25))
    assert len(errors) == 3, errors
    assert "motion on GPIO25: GPIO25 is already used by lamp_pwm" in errors[0]
    assert "status_led on GPIO1" in errors[1] and "UART0" in errors[1]
    assert "valve on GPIO6" in errors[2] and "SPI flash" in errors[2]


def test_unknown_function_suggestion():
    errors, _ = B.validate(_esp32(lamp_pwn=4))
    assert errors == ["lamp_pwn: not a known function, did you mean lamp_pwm?"], errors


def test_strapping_is_a_warning():
    errors, warnings = B.validate(_esp32(status_led=2))
    assert errors == []
    assert len(warnings) == 1 and "GPIO2" in warnings[0] and "strapping" in warnings[0]


def test_wrong_shapes_give_errors():
    for thing in (None, 3, "x", [], b"{}"):
        errors, _ = B.validate(thing)
        assert len(errors) == 1, (thing, errors)
    m = _esp32(us_trig=True, valve="5")
    m["roles"] = "streetlight"
    m["active_low"] = "status_led"
    errors, _ = B.validate(m)
    assert len(errors) == 4, errors


def test_load_board_raises_board_error():
    try:
        B.load_board(_esp32(lamp_pwm=35, motion=6))
    except B.BoardError as e:
        assert isinstance(e, ValueError)
        assert len(e.errors) == 2
        assert str(e) == "\n".join(e.errors)
    else:
        raise AssertionError("load_board accepted a bad map")
    try:
        B.load_board("{not json")
    except B.BoardError as e:
        assert "not valid JSON" in str(e)
    else:
        raise AssertionError("load_board accepted bad JSON")
