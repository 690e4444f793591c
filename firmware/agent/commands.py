# Command validation (pure). A command arrives on <root>/cmd as
#   {"id": "<1..32 id chars, echoed in the ack>", "cmd": "<name>", "args": {...}, "ctr": N}
# and is checked field by field before anything acts on it: a bad command gets an error ack
# and changes nothing. Arguments use the config schema's field specs
# (kind, default, lo, hi, roles), plus the kind "scalar" (any JSON scalar).
from agent import config
from agent.config import DEFAULT, FOR_ROLES, HI, KIND, REQUIRED
from agent.message import safe_loads

_ALL = None
# name: (roles that accept it or None for all, {arg: spec}). Adding a command is one line.
COMMANDS = {
    "ping": (_ALL, {}),
    "get_config": (_ALL, {}),
    # The new value is checked against the whole config schema by check_set.
    "set": (_ALL, {"field": ("str", REQUIRED, 3, 65, _ALL),
                   "value": ("scalar", REQUIRED, 0, 253, _ALL)}),
    "reboot": (_ALL, {"delay_s": ("int", 0, 0, 60, _ALL)}),
    # A technician's level for a bounded time (capped by light.override_max_s), then auto.
    "override": (("streetlight",), {"level_pct": ("num", REQUIRED, 0, 100, _ALL),
                                    "duration_s": ("int", 3600, 1, 86400, _ALL)}),
    "auto": (("streetlight",), {}),
    # The technician's calibration: this distance (default: the last good reading) is the
    # empty bin's bottom or the full bin's surface; saved to config.json, then a restart.
    "calibrate": (("inlet",), {"what": (("empty", "full"), REQUIRED, None, None, _ALL),
                               "distance_m": ("num", None, 0.02, 10, _ALL)}),
    # After the cause of a suspected jam is cleared on site.
    "clear_jam": (("inlet",), {}),
}

# Changing these moves the device off its own topics and broker ACL: provisioning only.
FIXED_FIELDS = ("device.id", "device.role", "device.site", "mqtt.prefix")

_ID_SPEC = ("id", REQUIRED, 1, 32, _ALL)
_CTR_MAX = (1 << 53) - 1  # what every JSON tool reads exactly
_TOP = ("id", "cmd", "args", "ctr")


def _arg_error(spec, v):
    if spec[KIND] == "scalar":
        if v is None or type(v) in (bool, int, float):
            return None
        if isinstance(v, str):
            return None if len(v) <= spec[HI] else "must be at most %d characters" % spec[HI]
        return "must be a JSON scalar (number, string, true/false or null)"
    return config.field_error(spec, v)


def validate(obj, role=None):
    """(command dict with defaults filled, None) or (None, why) for a parsed JSON value."""
    if not isinstance(obj, dict):
        return None, "a command must be a JSON object"
    for k in obj:
        if k not in _TOP:
            return None, "%s: unknown field (a command holds id, cmd, args, ctr)" % k
    if "id" not in obj:
        return None, "id: required, missing"
    err = config.field_error(_ID_SPEC, obj["id"])
    if err:
        return None, "id: " + err
    name = obj.get("cmd")
    if not isinstance(name, str):
        return None, "cmd: required, must be a command name"
    entry = COMMANDS.get(name)
    if entry is None:
        # Typo hint for names of a sensible length only (edit distance is quadratic).
        hint = config._nearest(name, COMMANDS) if len(name) <= 32 else None
        return None, "cmd: unknown command %r%s" % (name, " (did you mean %r?)" % hint
                                                    if hint else "")
    roles, specs = entry
    if roles is not None and role is not None and role not in roles:
        return None, "cmd: %s is for %s, this device is %s" % (name, " or ".join(roles), role)
    ctr = obj.get("ctr")
    if "ctr" in obj and (type(ctr) is not int or not 0 <= ctr <= _CTR_MAX):
        return None, "ctr: must be a non-negative integer, got %r" % (ctr,)
    given = obj.get("args", {})
    if not isinstance(given, dict):
        return None, "args: must be an object"
    for k in given:
        if k not in specs:
            return None, "args.%s: unknown argument of %s" % (k, name)
    args = {}
    for k, spec in specs.items():
        if k in given:
            err = _arg_error(spec, given[k])
            if err is None and not config.applies(spec, role):
                err = "only for %s" % " or ".join(spec[FOR_ROLES])
            if err:
                return None, "args.%s: %s" % (k, err)
            args[k] = given[k]
        elif spec[DEFAULT] is REQUIRED:
            return None, "args.%s: required, missing" % k
        else:
            args[k] = spec[DEFAULT]
    out = {"id": obj["id"], "cmd": name, "args": args}
    if "ctr" in obj:
        out["ctr"] = ctr
    return out, None


def decode_command(payload, max_bytes=512, max_depth=4, role=None):
    """(command dict, None) or (None, why) for untrusted bytes. Never raises.

    role: the device's role, to refuse commands meant for the other kind of device.
    """
    try:
        obj, err = safe_loads(payload, max_bytes, max_depth)
        if err:
            return None, err
        return validate(obj, role)
    except Exception as e:  # belt and braces: a bad command must never stop the agent
        return None, "unreadable command (%s)" % type(e).__name__


def command_id(payload, max_bytes=512, max_depth=4):
    """The id of a command that failed validation, if one can be read, for its error ack."""
    try:
        obj, _ = safe_loads(payload, max_bytes * 2, max_depth)
        if isinstance(obj, dict) and isinstance(obj.get("body"), str):
            # A signed wrapper: the id inside is unverified, but echoing it lets the sender
            # match the refusal to what it sent.
            obj, _ = safe_loads(obj["body"], max_bytes, max_depth)
        if isinstance(obj, dict) and config.field_error(_ID_SPEC, obj.get("id")) is None:
            return obj["id"]
    except Exception:
        pass
    return None


def ack(cmd_id, ok, error=None, state=None):
    """The fields of a cmd/ack message (then stamped by message.Encoder)."""
    out = {"id": cmd_id, "ok": bool(ok)}
    if error is not None:
        out["error"] = error
    if state is not None:
        out["state"] = state
    return out


def check_set(raw_config, field, value):
    """Apply a `set` to the raw config: (new raw config, []) or (None, errors)."""
    if field in FIXED_FIELDS:
        return None, ["%s: fixed at provisioning, not settable by command" % field]
    try:
        new = config.with_value(raw_config, field, value)
    except ValueError as e:
        return None, list(getattr(e, "errors", [str(e)]))
    cfg, errors = config.check(config.CONFIG, new)
    if cfg is None:
        return None, errors
    return new, []
