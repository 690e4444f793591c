"""Commands built from the firmware's own schema (pure): agent.commands says which commands
and arguments exist, agent.config what a `set` may write. A command the device would refuse
for its shape or values is refused here instead, with one line naming the problem, before
anything is signed or sent."""

from agent import commands, config
from agent.config import DEFAULT, FOR_ROLES, HI, KIND, LO, REQUIRED

# Words an operator types for a command of another name.
ALIASES = {"restart": "reboot"}


class CommandError(ValueError):
    """One line saying what is wrong with a command (what was typed is quoted in it, so a
    control character in it is shown escaped)."""

    def __init__(self, text: str):
        super().__init__(one_line(text))


def one_line(text: str) -> str:
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def canonical(name: str) -> str:
    return ALIASES.get(name, name)


def known_names() -> list[str]:
    return sorted(list(commands.COMMANDS) + list(ALIASES))


def _settable() -> list[str]:
    return ["%s.%s" % (sec, name) for sec, fields in config.CONFIG.items() for name in fields
            if "%s.%s" % (sec, name) not in commands.FIXED_FIELDS]


def check_set(field: str, value, role: str | None, raw_config: dict | None = None) -> None:
    """Raise CommandError if `set field value` cannot apply to a device of `role` (None: not
    known). With the device's raw config.json at hand, the whole new config is checked, as
    the device will check it (cross-field rules included)."""
    if field in commands.FIXED_FIELDS:
        raise CommandError("set %s: fixed at provisioning, not settable by command" % field)
    sec, _, name = field.partition(".")
    spec = config.CONFIG.get(sec, {}).get(name) if name else None
    if spec is None:
        hint = config._nearest(field, _settable()) if len(field) <= 65 else None
        raise CommandError("set %s: unknown config field%s" % (
            field, " (did you mean %s?)" % hint if hint else ""))
    err = config.field_error(spec, value)
    if err:
        raise CommandError("set %s: %s" % (field, err))
    if not config.applies(spec, role):
        raise CommandError("set %s: only used by %s, this device is %s" % (
            field, " or ".join(spec[FOR_ROLES]), role))
    if raw_config is not None:
        new, errors = commands.check_set(raw_config, field, value)
        if new is None:
            raise CommandError("set %s: %s" % (field, "; ".join(errors)))


def build(name: str, args: dict, role: str | None = None,
          raw_config: dict | None = None) -> dict:
    """{"cmd": name, "args": {...}} for a command the firmware's validator accepts for a
    device of `role` (None when not known); CommandError otherwise. The caller adds id and
    ctr, then signs."""
    name = canonical(name)
    _, err = commands.validate({"id": "x", "cmd": name, "args": args, "ctr": 0}, role)
    if err:
        raise CommandError(err)
    if name == "set":
        check_set(args["field"], args["value"], role, raw_config)
    return {"cmd": name, "args": dict(args)}


def _spec_text(arg: str, spec) -> str:
    kind, lo, hi = spec[KIND], spec[LO], spec[HI]
    if isinstance(kind, tuple):
        what = "|".join(kind)
    elif kind in ("int", "num") and lo is not None:
        what = "%s..%s" % (lo, hi)
    else:
        what = kind
    text = "%s=%s" % (arg, what)
    return text if spec[DEFAULT] is REQUIRED else "[%s]" % text


def usage_lines() -> list[str]:
    """One line per command, from the firmware's table (for `help`)."""
    out = []
    for name, (roles, specs) in commands.COMMANDS.items():
        if name == "set":
            words = "FIELD VALUE"
        else:
            words = " ".join(_spec_text(a, s) for a, s in specs.items())
        alias = [a for a, n in ALIASES.items() if n == name]
        line = "%s TARGET %s" % (name, words)
        extra = ([" or ".join(roles) + " only"] if roles else []) + \
            (["also: " + ", ".join(alias)] if alias else [])
        out.append(line.rstrip() + ("  (%s)" % "; ".join(extra) if extra else ""))
    return out
