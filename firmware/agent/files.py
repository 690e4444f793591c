# The device's own files (shell: the flash): board.json, config.json, secrets.json, flags.
# Loading them touches only the filesystem, so the host tools use this module as it is.
from agent import sign, store

BOARD_FILE = "board.json"
CONFIG_FILE = "config.json"
SECRETS_FILE = "secrets.json"
SAFE_MODE_FILE = "safemode"  # present: main.py leaves the REPL to the technician
CRASH_FILE = "crash.txt"  # the last crash's traceback (its count is in RTC memory)
COUNTER_FILE = "cmdctr.json"  # the last signed command's counter (agent.sign)


def _load(root, name, validate):
    """(value or None, source file or None, problems)."""
    try:
        return store.load_json(root + name, validate)
    except (store.StoreError, OSError) as e:
        return None, None, [str(e)]


def load_all(root=""):
    """Board, config and secrets as the device would load them, with every problem found."""
    from agent import board as boards  # the validators: boot only (agent.app.BOOT_ONLY)
    from agent import config

    board, _, p_board = _load(root, BOARD_FILE, boards.load_board)
    cfg, cfg_src, p_cfg = _load(root, CONFIG_FILE, config.load)
    secrets, _, p_sec = _load(root, SECRETS_FILE, config.load_secrets)
    problems = p_board + p_cfg + p_sec
    if board is not None and cfg is not None:
        problems += fit_problems(board, cfg)
    if cfg is not None:
        problems += mqtt_problems(root, cfg, secrets)
    return {"board": board, "config": cfg, "config_source": cfg_src, "secrets": secrets,
            "problems": problems}


def mqtt_problems(root, cfg, secrets):
    """What the link would stumble on: TLS without the CA file, signing without a key."""
    out = []
    m = cfg["mqtt"]
    if m["tls"] and not _exists(root + m["ca_file"]):
        out.append("config.json: mqtt.tls is on but %s is missing: the broker cannot be"
                   " checked, so the device will not connect" % m["ca_file"])
    if secrets is not None and m["signed_cmds"] and not secrets["cmd"]["key"]:
        out.append("config.json: mqtt.signed_cmds is on but secrets.json has no cmd.key:"
                   " every command would be refused")
    return out


def _exists(path):
    try:
        open(path).close()
        return True
    except OSError:
        return False


def fit_problems(board, cfg):
    """Does this config belong on this board?"""
    out = []
    want = cfg["device"]["board"]
    if want and want != board["name"]:
        out.append("config.json: device.board is %r but board.json is %r" % (want, board["name"]))
    role = cfg["device"]["role"]
    if role not in board["roles"]:
        out.append("config.json: device.role %r is not a role of board %r (it has: %s)"
                   % (role, board["name"], ", ".join(board["roles"])))
    return out


def load_counter(root="") -> int:
    """The last accepted signed-command counter; 0 before the first one."""
    try:
        return store.load_json(root + COUNTER_FILE, sign.counter_from_doc)[0] or 0
    except (store.StoreError, OSError):
        return 0


def save_counter(root, n):
    store.save_json(root + COUNTER_FILE, sign.counter_doc(n), sign.counter_from_doc)


def safe_mode(root=""):
    return _exists(root + SAFE_MODE_FILE)


def _rtc():
    try:
        import machine  # the chip's (or the simulated board's); none under CPython

        return machine.RTC()
    except (ImportError, AttributeError):
        return None


def load_crash():
    """The crash record (agent.crashloop) from RTC memory: kept through resets, not through
    a power cut. An empty record where there is no RTC memory."""
    from agent import crashloop

    rtc = _rtc()
    return crashloop.decode(rtc.memory() if rtc is not None else b"")


def save_crash(rec):
    from agent import crashloop

    rtc = _rtc()
    if rtc is not None:
        rtc.memory(crashloop.encode(rec))


def update_crash(change, *args):
    """Apply agent.crashloop's `change` ("reported", "forgive", "retry", "clear") to the
    record in RTC memory; the new record."""
    from agent import crashloop

    rec = getattr(crashloop, change)(load_crash(), *args)
    save_crash(rec)
    return rec


def record_crash(root, exc, where, up_s, limits=None):
    """A crash: the traceback to crash.txt (only the last: flash is small), the count to RTC
    memory, judged by `limits` (agent.crashloop.limits; None: the defaults)."""
    import sys

    from agent import crashloop

    try:
        with open(root + CRASH_FILE, "w") as f:
            sys.print_exception(exc, f)
    except OSError:
        pass
    limit, window_s, _ = limits or crashloop.limits(None)
    line = crashloop.crash_line(type(exc).__name__, str(exc))
    rec = crashloop.after_crash(load_crash(), up_s, where, line, limit, window_s)
    save_crash(rec)
    return rec


def failsafe_lamp(board, cfg):
    """Safe mode on a streetlight (agent.app): the lamp steady at light.failure_level_pct, the
    last rung of the fail-safe ladder (no normal control, so never dark); the PWM, or None
    off a streetlight. Here, not in agent.app: loaded only at boot, not resident. Without a
    usable config, the schema's defaults (full output, a non-inverted driver)."""
    pin = board["pins"].get("lamp_pwm") if board else None
    if pin is None or (cfg is not None and cfg["device"]["role"] != "streetlight"):
        return None
    import machine

    from agent import output

    light = cfg["light"] if cfg else {"failure_level_pct": 100, "curve": "log",
                                      "invert_output": False, "pwm_hz": 5000}
    return machine.PWM(machine.Pin(pin), freq=light["pwm_hz"], duty_u16=output.duty_u16(
        light["failure_level_pct"], light["curve"], light["invert_output"]))


def crash_text(root=""):
    """The last crash's traceback from the flash, or None."""
    try:
        with open(root + CRASH_FILE) as f:
            return f.read()
    except OSError:
        return None
