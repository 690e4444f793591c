"""What an operator types (pure): `VERB TARGET [ARGS]`, the same words for `street cmd` and
the monitor's command line.

    set pole-3 light.boost_pct 90        FIELD VALUE for set
    override group:north level_pct=80    NAME=VALUE for every other command's arguments
    restart kind:inlet                   TARGET: an id, ids joined by commas, group:G,
    help | help set | quit                       kind:K, site:S or all

A VALUE is read as JSON when it is JSON (90, 0.5, true, null, "a b"), else taken as text.
parse() says what is wrong in one line; whether the command fits the schema is build's job."""

import json
import shlex
from dataclasses import dataclass, field

from agent import config

from .build import known_names, one_line

SELECTOR_KINDS = ("group", "kind", "site")
_ID_SPEC = config.CONFIG["device"]["id"]
_WORDS = ("help", "quit", "exit")


@dataclass(frozen=True)
class Request:
    verb: str  # as typed (build.canonical maps aliases)
    target: str
    args: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Help:
    topic: str = ""


@dataclass(frozen=True)
class Quit:
    pass


@dataclass(frozen=True)
class LineError:
    message: str


def parse_value(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return text


def target_error(target: str) -> str | None:
    """Why `target` is not a target, or None."""
    if target == "all":
        return None
    kind, sep, value = target.partition(":")
    if sep:
        if kind not in SELECTOR_KINDS:
            return "target %s: use an id, ids joined by commas, %s or all" % (
                target, ", ".join(k + ":NAME" for k in SELECTOR_KINDS))
        if kind == "kind" and value not in config.ROLES:
            return "target %s: kind is one of %s" % (target, ", ".join(config.ROLES))
        err = config.field_error(_ID_SPEC, value)
        return "target %s: %s" % (target, err) if err else None
    for one in target.split(","):
        err = config.field_error(_ID_SPEC, one)
        if err:
            return "target %s: device id %r %s" % (target, one, err)
    return None


def parse_words(words: list[str]):
    """Request, Help, Quit, LineError, or None for nothing typed."""
    got = _parse_words(words)
    return LineError(one_line(got.message)) if isinstance(got, LineError) else got


def _parse_words(words: list[str]):
    if not words:
        return None
    verb = words[0]
    if verb in ("quit", "exit"):
        return Quit()
    if verb in ("help", "?"):
        return Help(words[1] if len(words) > 1 else "")
    if verb not in known_names():
        hint = config._nearest(verb, known_names() + list(_WORDS)) if len(verb) <= 32 else None
        return LineError("%s: unknown command%s (help lists them)" % (
            verb, " (did you mean %s?)" % hint if hint else ""))
    if len(words) < 2:
        return LineError("%s: which device? (%s TARGET ...)" % (verb, verb))
    target, rest = words[1], words[2:]
    err = target_error(target)
    if err:
        return LineError(err)
    if verb == "set":
        if len(rest) != 2:
            return LineError("set: expected set TARGET FIELD VALUE (quote a VALUE with spaces)")
        return Request(verb, target, {"field": rest[0], "value": parse_value(rest[1])})
    args = {}
    for word in rest:
        name, sep, value = word.partition("=")
        if not sep or not name:
            return LineError("%s: argument %r: expected NAME=VALUE" % (verb, word))
        if name in args:
            return LineError("%s: argument %s given twice" % (verb, name))
        args[name] = parse_value(value)
    return Request(verb, target, args)


def parse(line: str):
    """A typed line: as parse_words, after shell-like splitting (quotes group words)."""
    try:
        words = shlex.split(line)
    except ValueError as e:
        return LineError("cannot read the line: %s" % e)
    return parse_words(words)
