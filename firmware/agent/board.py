# Board pin maps (pure): what each function needs from its pin, and the validator that checks a map
# against the chip's rules (agent.chips). Pure: no machine, no files, no clocks. The device
# checks its map at boot and the host tools check maps before deploying; same code.
import json

from agent.chips import CHIPS

# pin_of and is_active_low live in agent.pins (what the running agent keeps); named here too.
from agent.pins import ANALOG, FUNCTIONS, IN, IO, OUT, is_active_low, is_int, pin_of  # noqa: F401

# Each role needs every group; a group is met by any one of its alternatives, and an
# alternative is met when all of its functions have a pin.
ROLES = {
    "streetlight": (
        (("lamp_pwm",),),
        (("motion",),),
        (("light_adc",), ("i2c_sda", "i2c_scl")),
    ),
    "inlet": (
        (("us_trig",),),
        (("us_echo",),),
        (("valve",),),
        (("valve_pos",),),
        (("vacuum_ready",),),
    ),
}

KEYS = ("name", "title", "chip", "roles", "pins", "active_low", "memory", "notes")
# "memory": what MicroPython's GC heap can hold on this board with Wi-Fi and TLS up, and
# whether it has PSRAM (then the heap is megabytes). Host tools compare it with what a role
# needs as deployed (frozen into the image, or .mpy files on a stock image).
MEMORY_KEYS = ("psram", "gc_heap_kb")


class BoardError(ValueError):
    """A board map that must not be used; `errors` holds one message per problem."""

    def __init__(self, errors):
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))


def _typename(v):
    if v is None:
        return "null"
    return type(v).__name__


def _distance(a, b):
    # Levenshtein distance, two rows.
    prev = list(range(len(b) + 1))
    for i in range(len(a)):
        cur = [i + 1]
        for j in range(len(b)):
            cost = 0 if a[i] == b[j] else 1
            cur.append(min(prev[j + 1] + 1, cur[j] + 1, prev[j] + cost))
        prev = cur
    return prev[-1]


def _nearest(word, names):
    best = None
    best_d = 0
    for n in sorted(names):
        d = _distance(word, n)
        if best is None or d < best_d:
            best, best_d = n, d
    return best


def _span(pins):
    # (32, 33, 34, 36) -> "GPIO32-34, GPIO36"
    out = []
    start = prev = None
    for p in sorted(pins) + [None]:
        if p is not None and prev is not None and p == prev + 1:
            prev = p
            continue
        if start is not None:
            out.append("GPIO%d" % start if start == prev else "GPIO%d-%d" % (start, prev))
        start = prev = p
    return ", ".join(out)


def _check_pin(fn, pin, chip, rules, wifi, errs, warns):
    at = "%s on GPIO%d: GPIO%d" % (fn, pin, pin)
    kind = FUNCTIONS[fn]
    if pin not in rules["gpio"]:
        errs.append("%s does not exist on %s" % (at, chip))
        return
    if pin in rules["flash"]:
        errs.append("%s is wired to the SPI flash on %s, it cannot be used" % (at, chip))
        return
    if pin in rules["console"]:
        errs.append(
            "%s is UART0 (the serial REPL console) on %s, keep it free for the technician"
            % (at, chip)
        )
        return
    if kind in (OUT, IO) and pin in rules["input_only"]:
        what = "an output" if kind == OUT else "a bidirectional function"
        errs.append("%s is input-only on %s, %s cannot use it" % (at, chip, what))
    if kind == ANALOG and pin not in rules["adc1"]:
        adc1 = _span(rules["adc1"])
        if pin in rules["adc2"]:
            if wifi:
                errs.append(
                    "%s is an ADC2 pin on %s, ADC2 cannot be read while Wi-Fi is on;"
                    " use an ADC1 pin (%s)" % (at, chip, adc1)
                )
        else:
            errs.append(
                "%s has no ADC on %s, an analog function needs an ADC1 pin (%s)" % (at, chip, adc1)
            )
    if pin in rules["strapping"]:
        warns.append(
            "%s is a strapping pin on %s, a circuit that pulls it at reset can stop the"
            " board from booting" % (at, chip)
        )
    if pin in rules["usb"]:
        warns.append(
            "%s is a USB Serial/JTAG pin on %s, using it gives up USB flashing and console"
            % (at, chip)
        )
    for pins, reason in rules["caution"]:
        if pin in pins:
            warns.append("%s %s (%s)" % (at, reason, chip))


def _by_function(pairs):
    # Sort (function, message) pairs by function, keeping each function's own order
    # (MicroPython's sort is not stable, so the position is part of the key).
    keyed = [(pairs[i][0], i, pairs[i][1]) for i in range(len(pairs))]
    keyed.sort()
    return [t[2] for t in keyed]


def validate(board, wifi=True):
    """Check a board map. Returns (errors, warnings), two lists of str; never raises."""
    errors = []
    warnings = []
    if not isinstance(board, dict):
        errors.append("board map must be an object (dict), got %s" % _typename(board))
        return errors, warnings

    # Board-level fields.
    for key in sorted(board, key=str):
        if key not in KEYS:
            warnings.append("unknown key %r ignored (known: %s)" % (key, ", ".join(KEYS)))
    name = board.get("name")
    if not isinstance(name, str) or not name:
        errors.append("name must be a non-empty string, got %s" % _typename(name))
    title = board.get("title")
    if title is not None and not isinstance(title, str):
        errors.append("title must be a string, got %s" % _typename(title))
    notes = board.get("notes")
    if notes is not None and not isinstance(notes, (str, list, dict)):
        errors.append("notes must be a string, list or object, got %s" % _typename(notes))
    _check_memory(board.get("memory"), errors, warnings)

    chip = board.get("chip")
    rules = None
    if not isinstance(chip, str):
        errors.append("chip must be a string, got %s" % _typename(chip))
    elif chip not in CHIPS:
        errors.append("unknown chip %r: known chips are %s" % (chip, ", ".join(sorted(CHIPS))))
    else:
        rules = CHIPS[chip]

    roles = board.get("roles")
    good_roles = []
    if not isinstance(roles, (list, tuple)):
        errors.append("roles must be a list of role names, got %s" % _typename(roles))
    elif not roles:
        errors.append(
            "roles is empty: a board map serves at least one of %s" % ", ".join(sorted(ROLES))
        )
    else:
        for r in roles:
            if isinstance(r, str) and r in ROLES:
                if r not in good_roles:
                    good_roles.append(r)
            else:
                errors.append("unknown role %r: known roles are %s" % (r, ", ".join(sorted(ROLES))))

    # Per-function checks. Their messages are gathered, then put in function-name order.
    pins = board.get("pins")
    used = {}  # function -> int pin
    named = []  # known functions given a (possibly bad) pin, for the role and I2C checks
    fn_errs = []  # (function, message)
    fn_warns = []
    if not isinstance(pins, dict):
        errors.append("pins must be an object of function -> GPIO number, got %s" % _typename(pins))
        pins = {}
    for fn in sorted(pins, key=str):
        pin = pins[fn]
        if not isinstance(fn, str):
            msg = "pins key %r is not a function name (names are strings)" % (fn,)
            fn_errs.append((str(fn), msg))
            continue
        if fn not in FUNCTIONS:
            msg = "%s: not a known function, did you mean %s?" % (fn, _nearest(fn, FUNCTIONS))
            fn_errs.append((fn, msg))
            continue
        if pin is None:
            continue
        named.append(fn)
        if not is_int(pin):
            msg = "%s: pin must be an integer GPIO number or null, got %s %r" % (
                fn,
                _typename(pin),
                pin,
            )
            fn_errs.append((fn, msg))
            continue
        used[fn] = pin
        if rules is not None:
            e, w = [], []
            _check_pin(fn, pin, chip, rules, wifi, e, w)
            fn_errs.extend((fn, m) for m in e)
            fn_warns.extend((fn, m) for m in w)

    owner = {}  # pin -> first function (in name order) using it
    for fn in sorted(used):
        pin = used[fn]
        if pin in owner:
            msg = "%s on GPIO%d: GPIO%d is already used by %s, one pin serves one function" % (
                fn,
                pin,
                pin,
                owner[pin],
            )
            fn_errs.append((fn, msg))
        else:
            owner[pin] = fn

    if ("i2c_sda" in named) != ("i2c_scl" in named):
        have, lack = ("i2c_sda", "i2c_scl") if "i2c_sda" in named else ("i2c_scl", "i2c_sda")
        fn_errs.append((have, "%s: I2C needs both lines, %s has no pin" % (have, lack)))

    errors.extend(_by_function(fn_errs))
    warnings.extend(_by_function(fn_warns))

    # Role needs.
    for role in sorted(good_roles):
        for group in ROLES[role]:
            met = False
            for alt in group:
                if all(fn in named for fn in alt):
                    met = True
                    break
            if not met:
                want = ", or ".join(" and ".join(alt) for alt in group)
                errors.append("%s role needs %s: no pin given" % (role, want))

    # active_low.
    active_low = board.get("active_low")
    if active_low is not None:
        if not isinstance(active_low, (list, tuple)):
            errors.append(
                "active_low must be a list of function names, got %s" % _typename(active_low)
            )
        else:
            for fn in active_low:
                if not isinstance(fn, str):
                    errors.append("active_low entry %r is not a function name" % (fn,))
                elif fn not in used:
                    errors.append("active_low names %s, which has no pin in pins" % fn)
                elif FUNCTIONS[fn] == ANALOG:
                    warnings.append(
                        "%s on GPIO%d: active_low has no meaning for an analog function"
                        % (fn, used[fn])
                    )
    return errors, warnings


def _check_memory(mem, errors, warnings):
    if mem is None:
        warnings.append("memory not stated: say {\"psram\": true|false, \"gc_heap_kb\": N}"
                        " so the host tools can tell whether a role fits")
        return
    if not isinstance(mem, dict):
        errors.append("memory must be an object, got %s" % _typename(mem))
        return
    for key in sorted(mem, key=str):
        if key not in MEMORY_KEYS:
            errors.append("memory.%s: unknown (known: %s)" % (key, ", ".join(MEMORY_KEYS)))
    if type(mem.get("psram")) is not bool:
        errors.append("memory.psram must be true or false, got %s" % _typename(mem.get("psram")))
    kb = mem.get("gc_heap_kb")
    if not (isinstance(kb, int) and is_int(kb) and 16 <= kb <= 16384):
        errors.append("memory.gc_heap_kb must be a whole number of KB, 16..16384, got %r"
                      % (kb,))


def load_board(obj, wifi=True):
    """Accept a board map (dict, or JSON text) and return a clean copy, or raise BoardError.

    The copy has "pins" holding only functions with a pin, "roles" and "active_low" as lists
    and "title" defaulting to the name. Warnings do not stop loading; get them from validate().
    """
    if isinstance(obj, (bytes, bytearray)):
        try:
            obj = obj.decode()
        except Exception:
            raise BoardError(["board map is not UTF-8 text"]) from None
    if isinstance(obj, str):
        try:
            obj = json.loads(obj)
        except Exception as e:
            raise BoardError(["board map is not valid JSON: %s" % e]) from None
    errors, _ = validate(obj, wifi)
    if errors:
        raise BoardError(errors)
    board = dict(obj)
    board["pins"] = {fn: p for fn, p in obj["pins"].items() if p is not None}
    board["roles"] = list(obj["roles"])
    board["active_low"] = list(obj.get("active_low") or ())
    if not board.get("title"):
        board["title"] = board["name"]
    return board
