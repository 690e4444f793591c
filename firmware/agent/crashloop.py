# Crash-loop decisions (pure): which crashes count, when the device puts itself in safe mode,
# and what forgives. The record lives in the ESP32's RTC memory (agent.files.load_crash):
# it survives the reset after a crash, the watchdog and Ctrl-D, costs no flash write, and
# works when the filesystem itself is what fails; a power cut clears it (a fresh start).
#
# A record is a small dict:
#   count  crashes in a row that came soon after boot (within window_s of uptime)
#   safe   the count reached the limit: the next boots run in safe mode until a technician
#          clears it (tech.crashes(clear=True)), an operator restarts it, or power is cut
#   new    the last crash is not yet published over the link
#   up_s   uptime at the last crash; where: "build" (making the agent), "run", "safe"
#   line   the last crash in one line ("ZeroDivisionError: boom"); the traceback is in
#          crash.txt on the flash
import json

from micropython import const

LIMIT = const(3)  # config crash.limit: early crashes in a row before safe mode; 0 never
WINDOW_S = const(600)  # config crash.window_s: a crash this soon after boot counts
STABLE_S = const(3600)  # config crash.stable_s: this long without a crash clears the count
LINE_MAX = const(120)
_MAGIC = b"crash1:"
WHERE = ("build", "run", "safe")


def empty():
    return {"count": 0, "safe": False, "new": False, "up_s": 0, "where": "", "line": ""}


def limits(cfg):
    """(limit, window_s, stable_s) from a loaded config, or the defaults without one."""
    c = cfg.get("crash") if cfg else None
    if not c:
        return LIMIT, WINDOW_S, STABLE_S
    return c["limit"], c["window_s"], c["stable_s"]


def crash_line(kind, text):
    """One line for an exception of class `kind` with message `text`, at most LINE_MAX."""
    line = "%s: %s" % (kind, text) if text else kind
    line = line.replace("\n", " ").replace("\r", " ")
    return line if len(line) <= LINE_MAX else line[:LINE_MAX - 3] + "..."


def after_crash(rec, up_s, where, line, limit, window_s):
    """The record after a crash `up_s` seconds after boot. Only early crashes count; a late
    one (a rare fault, not a loop) leaves the count as it was and is still reported."""
    out = dict(rec)
    if up_s < window_s:
        out["count"] = rec["count"] + 1
    if limit and out["count"] >= limit:
        out["safe"] = True
    out["new"] = True
    out["up_s"] = up_s if up_s >= 0 else 0
    out["where"] = where if where in WHERE else "run"
    out["line"] = line[:LINE_MAX]
    return out


def forgive(rec):
    """A stable run: the count starts again. Safe mode stays (it waits for a person)."""
    if rec["count"] == 0 or rec["safe"]:
        return rec
    out = dict(rec)
    out["count"] = 0
    return out


def clear(rec):
    """The technician clears it: no count, no safe mode. The last crash stays, as evidence."""
    out = dict(rec)
    out["count"] = 0
    out["safe"] = False
    return out


def retry(rec, limit):
    """The operator restarts a device in safe mode (reboot, or a config change): one more
    try in normal mode; one more early crash puts it back in safe mode."""
    if not rec["safe"]:
        return rec
    out = dict(rec)
    out["safe"] = False
    out["count"] = limit - 1 if limit > 0 else 0
    return out


def reported(rec):
    out = dict(rec)
    out["new"] = False
    return out


def why(rec, limit, window_s):
    """Why the device is in safe mode, one short line."""
    return "%d crashes in a row, each within %d s of boot" % (rec["count"], window_s) \
        if rec["count"] >= limit > 0 else "set by its crash record"


def event(rec):
    """The fields of the one `crash` event a boot after a crash publishes."""
    return {"event": "crash", "line": rec["line"], "where": rec["where"],
            "up_s": rec["up_s"], "count": rec["count"], "safe_mode": rec["safe"]}


def encode(rec):
    return _MAGIC + json.dumps(rec).encode()


def decode(raw):
    """The record in RTC memory; anything else (power-on garbage, another layout) is an empty
    record, never an exception."""
    rec = empty()
    if not raw or bytes(raw[:len(_MAGIC)]) != _MAGIC:
        return rec
    try:
        got = json.loads(bytes(raw[len(_MAGIC):]))
    except (ValueError, UnicodeError):
        return rec
    if not isinstance(got, dict):
        return rec
    for k, v in rec.items():
        x = got.get(k)
        if type(x) is type(v) and (type(x) is not int or x >= 0):
            rec[k] = x
    if rec["where"] not in WHERE:
        rec["where"] = ""
    if len(rec["line"]) > LINE_MAX:
        rec["line"] = rec["line"][:LINE_MAX]
    return rec
