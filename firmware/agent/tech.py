# Technician helpers for the serial REPL at the pole (shell):
#   >>> import agent.tech as tech
#   >>> tech.help()
# Every change is validated against the same schema as the host tools and saved atomically.
# Every line printed fits 80 columns (a small terminal at the pole); a refusal is one line
# naming the problem, never a traceback.
import json

from micropython import const

from agent import config, crashloop, files, hal, sign, store

ROOT = ""
WIDTH = const(80)
_INDENT = const(9)  # under the value of a "label  : value" line

HELP = """tech.status()            board, role, config file, problems, crash, safe mode
tech.show()              the config in force, one field a line (no secrets)
tech.set('sec.field', v) change one config field (validated, saved atomically)
tech.crashes()           crashes in a row, the last crash, safe mode and why
tech.crashes(clear=True) clear the count: no crash-loop safe mode next boot
tech.safe_mode(True)     next boot stops before the agent (REPL stays free)
tech.safe_mode(False)    undo it; also ends a crash loop's safe mode
tech.clock()             the wall clock, and whether it was synced (SNTP)
tech.link()              the stopped agent's MQTT link: state, last error
tech.counter()           the last signed command's counter (next must be above)
tech.counter(0)          reset it: after a new cmd.key or a lost operator count
tech.lamp(80)            streetlight: lamp at 80 % directly (agent stopped)
tech.override(80, 10)    streetlight: 80 % for 10 min, then automatic (runs)
tech.ranger()            inlet: one ranging burst: distance, quality, fill level
tech.calibrate('empty')  inlet: bin empty now: measure, save inlet.empty_m
tech.calibrate('full')   inlet: waste at the full mark: save inlet.full_m
tech.inlet()             inlet: level, request, discharge phase, valve, status
Ctrl-C stops a helper that runs the agent; Ctrl-D restarts the agent."""


def _say(text, indent=_INDENT):
    """Print text in lines of at most WIDTH columns; the rest indented under the value."""
    while len(text) > WIDTH:
        cut = text.rfind(" ", indent + 1, WIDTH + 1)
        if cut <= indent:
            cut = WIDTH
        print(text[:cut])
        text = " " * indent + text[cut:].lstrip()
    print(text)


def help():
    for line in HELP.split("\n"):
        _say(line, 25)


def status():
    loaded = files.load_all(ROOT)
    board, cfg = loaded["board"], loaded["config"]
    _say("board  : %s" % (board["name"] if board else "NONE"))  # first: the virtual board's
    _say("role   : %s" % (cfg["device"]["role"] if cfg else "?"))  # session looks for it
    _say("id     : %s" % (cfg["device"]["id"] if cfg else "?"))
    _say("config : %s" % (loaded["config_source"] or "NONE"))
    _say("secrets: %s" % ("ok" if loaded["secrets"] else "NONE"))
    _say("reset  : %s" % hal.reset_cause())
    rec = files.load_crash()
    _safe_line(rec, cfg)
    _crash_line(rec)
    for p in loaded["problems"]:
        _say("PROBLEM: " + p)
    if not loaded["problems"]:
        _say("no problems found")


def _safe_line(rec, cfg):
    limit, window_s, _ = crashloop.limits(cfg)
    if files.safe_mode(ROOT):
        _say("safe   : ON (file %s): tech.safe_mode(False) ends it" % files.SAFE_MODE_FILE)
    elif rec["safe"]:
        _say("safe   : ON by itself: %s; tech.crashes(clear=True) ends it"
             % crashloop.why(rec, limit, window_s))
    elif limit:
        _say("safe   : off (early crashes in a row: %d; safe mode at %d)" % (rec["count"],
                                                                           limit))
    else:
        _say("safe   : off (never by itself: crash.limit is 0)")


def _crash_line(rec):
    line = rec["line"]
    text = files.crash_text(ROOT)
    if not line and text:  # the record went with a power cut; crash.txt stays
        lines = [x for x in text.split("\n") if x.strip()]
        line = lines[-1].strip() if lines else ""
    if not line:
        _say("crash  : none recorded")
        return
    _say("crash  : " + line)
    where = "%s, %d s after boot; " % (rec["where"], rec["up_s"]) if rec["line"] else ""
    _say(" " * _INDENT + "%sfull text: %s" % (
        where, files.CRASH_FILE if text is not None else "(file gone)"))


def show():
    cfg = files.load_all(ROOT)["config"]
    if not cfg:
        _say("no usable config")
        return
    for sec in sorted(cfg):  # one field a line, as tech.set names it
        for name in sorted(cfg[sec]):
            _say("%s.%s = %s" % (sec, name, json.dumps(cfg[sec][name])), 4)


def _refused(field, errors):
    """One line, whatever the problem: the error about this field first."""
    mine = [e for e in errors if e.startswith(field + ":")] or errors
    line = "not saved: " + mine[0]
    if len(errors) > 1:
        line += " (and %d more: tech.status())" % (len(errors) - 1)
    print(line if len(line) <= WIDTH else line[:WIDTH - 3] + "...")


def set(field, value):
    """Set one field in config.json; refuses (one line, nothing written) if the result is
    invalid."""
    path = ROOT + files.CONFIG_FILE
    if type(field) is not str or field.count(".") != 1:
        _refused(str(field), ["%r: name a field 'section.field', e.g. 'loop.heartbeat_s'"
                              % (field,)])
        return
    try:
        raw, _, _ = store.load_json(path)
        if not isinstance(raw, dict):
            raise config.ConfigError(path, ["%s does not hold a JSON object" % path])
        store.save_json(path, config.with_value(raw, field, value), config.load)
    except ValueError as e:  # ConfigError, StoreError
        lines = str(e).split("\n")  # a StoreError: the first file's problem says enough
        errors = getattr(e, "errors", None) or [" ".join(x.strip() for x in lines[:2])]
        _refused(field, errors)
        return
    except OSError as e:
        _say("not saved: %s: %s" % (path, e), 2)
        return
    _say("saved %s = %r; Ctrl-D to restart with it" % (field, value), 2)


def safe_mode(on=True):
    path = ROOT + files.SAFE_MODE_FILE
    if on:
        with open(path, "w") as f:
            f.write("the agent does not start while this file exists\n")
        _say("safe mode on from the next boot (tech.safe_mode(False) undoes it)", 2)
        return
    store.Fs().remove(path)
    rec = files.load_crash()
    if rec["safe"]:
        files.save_crash(crashloop.clear(rec))
    _say("safe mode off from the next boot; Ctrl-D to start the agent", 2)


def crashes(clear=False):
    """The crash record: early crashes in a row, the last crash, safe mode and why.
    clear=True: count back to 0 and no crash-loop safe mode from the next boot."""
    rec = files.load_crash()
    if clear:
        files.save_crash(crashloop.clear(rec))
        _say("crash count cleared, safe mode off from the next boot; Ctrl-D to start", 2)
        return
    cfg = files.load_all(ROOT)["config"]
    limit, window_s, stable_s = crashloop.limits(cfg)
    _say("crashes: %d in a row, each within %d s of boot (safe mode at %s)"
         % (rec["count"], window_s, limit or "never"))
    _say("forgive: after %d s without a crash; a power cut also clears it" % stable_s)
    _crash_line(rec)
    _safe_line(rec, cfg)
    if rec["new"]:
        _say("publish: not yet sent (it goes out once the link is up)")


def clock():
    """The wall clock, and whether the agent synced it (SNTP, when the agent has it)."""
    from agent.civil import civil_from_days, split_utc
    from agent.clock import wall_s

    t = wall_s()
    if t is None:
        _say("clock  : not set (nothing has set it since power-on)")
    else:
        day, s = split_utc(t)
        y, mo, d = civil_from_days(day)
        _say("clock  : %04d-%02d-%02d %02d:%02d:%02d UTC" % (y, mo, d, s // 3600,
                                                              s // 60 % 60, s % 60))
    a = _agent_quiet()
    if a is None:
        _say("sync   : no agent has run since boot (Ctrl-D starts it, Ctrl-C stops it)")
        return
    sync = getattr(a.comms, "clock", None) if a.comms is not None else None
    st = sync.status() if sync is not None and hasattr(sync, "status") else None
    if st is None:
        _say("sync   : not synced (this agent does not sync its clock)")
        return
    server, err = st.get("server") or "?", st.get("last_error") or "none"
    if st.get("synced"):
        age, off = st.get("age_s"), st.get("offset_ms")
        _say("sync   : synced with %s, %s s ago, offset %s ms" % (
            server, "?" if age is None else age, "?" if off is None else off))
    else:
        _say("sync   : not synced: %s tries with %s, last error: %s" % (
            st.get("tries", 0), server, err))


def _agent_quiet():
    from agent import app

    return app.current


def _agent():
    a = _agent_quiet()
    if a is None:
        _say("no agent has run since boot: Ctrl-D to start it, then Ctrl-C", 2)
    return a


def _no_role(a, what):
    if a is not None:
        _say("safe mode: no role runs (tech.crashes() says why)" if a.safe else
             "not %s agent" % what, 2)


def link():
    a = _agent()
    if a is None or a.comms is None:
        return
    from agent.link import STATE_NAMES

    lk = a.comms.link
    _say("link   : %s to %s:%d%s" % (STATE_NAMES[lk.state], lk.host, lk.port,
                                     " (tls)" if lk.tls else ""))
    _say("error  : %s" % (lk.last_error or "none"))
    _say("session: %d opened, %d lost; %d events queued, %d dropped"
         % (lk.connects, lk.reconnects, len(lk.outbox), lk.outbox.dropped))


def counter(reset_to=None):
    """Show the signed-command counter, or set it (saved atomically; the stopped agent
    takes it too). Lowering it lets old recorded commands be replayed: do it together with
    a new cmd.key, or when the operator's tool lost its count."""
    if reset_to is None:
        _say("last accepted command counter: %d" % files.load_counter(ROOT), 2)
        return
    if type(reset_to) is not int or reset_to < 0:
        _say("counter(N): N must be a whole number, 0 or more", 2)
        return
    files.save_counter(ROOT, reset_to)
    a = _agent_quiet()
    if a is not None and a.comms is not None:
        a.comms.verifier.last_ctr = reset_to
    _say("command counter set to %d; the next signed command needs ctr %d..%d" % (
        reset_to, reset_to + 1, reset_to + sign.CTR_WINDOW), 2)


def _number(x, lo, hi, what):
    if type(x) not in (int, float) or not lo <= x <= hi:
        _say("%s must be a number %d..%d, got %r" % (what, lo, hi, x), 2)
        return False
    return True


def lamp(level_pct):
    """Set the lamp's output directly (the agent is stopped), e.g. to check the driver."""
    a = _agent()
    pwm = getattr(a.role_impl, "pwm", None) if a is not None else None
    if a is None or pwm is None:
        _no_role(a, "a streetlight")
        return
    if not _number(level_pct, 0, 100, "the level (%)"):
        return
    from agent import output

    light = a.cfg["light"]
    pwm.duty_u16(output.duty_u16(level_pct, light["curve"], light["invert_output"]))
    _say("lamp at %s %%; Ctrl-D restarts the agent" % level_pct, 2)


def _run_until_ctrl_c(a, what):
    """Run the agent's loop until Ctrl-C, then leave the outputs safe: an inlet's valve
    closes; a lamp keeps its last level (it is never switched off by a stop)."""
    try:
        a.run()
    except KeyboardInterrupt:
        stop = getattr(a.role_impl, "stop", None)
        if stop is not None:
            stop()
        _say("%s stopped by Ctrl-C; outputs left safe. Ctrl-D restarts the agent" % what, 2)


def override(level_pct, minutes):
    """Hold the lamp at level_pct for `minutes`, then automatic again; runs the agent."""
    a = _agent()
    if a is None or a.role_impl is None or a.role != "streetlight":
        _no_role(a, "a streetlight")
        return
    if not _number(level_pct, 0, 100, "the level (%)") or \
            not _number(minutes, 0, 24 * 60, "the minutes"):
        return
    if minutes <= 0:
        _say("the minutes must be above 0 (tech.lamp(N) sets a level until Ctrl-D)", 2)
        return
    import time

    from agent.pole import Pole

    pole = a.role_impl
    if not isinstance(pole, Pole):
        return
    granted = pole.core.override(level_pct, int(minutes * 60), time.ticks_ms())
    _say("override %s %% for %d s; the agent runs again (Ctrl-C to stop)" % (level_pct,
                                                                             granted), 2)
    _run_until_ctrl_c(a, "override")


def _inlet():
    a = _agent()
    if a is None or a.role != "inlet" or a.role_impl is None:
        _no_role(a, "an inlet")
        return None
    from agent.chute import Chute

    chute = a.role_impl
    return chute if isinstance(chute, Chute) else None


def ranger():
    """One full ranging burst now (the agent is stopped): (distance m or None, quality)."""
    chute = _inlet()
    if chute is None:
        return None
    import time

    r = chute.ranger
    r.start()
    reading = None
    try:
        while reading is None:
            now = time.ticks_ms()
            temp = chute.thermo.read(now) if chute.thermo is not None else None
            wait, reading = r.step(now, temp if temp is not None else
                                   chute.inlet_cfg["temp_c"])
            if reading is None:
                time.sleep_ms(max(1, wait))
    except KeyboardInterrupt:
        chute.stop()
        _say("ranging stopped by Ctrl-C; the valve stays closed", 2)
        return None
    d, q = reading[0], reading[1]
    lv = chute.core.level_cal.filling(d) if d is not None else None
    _say("distance %s m, %s, %d of %d pings valid, fill %s" % (
        "-" if d is None else "%.3f" % d, q, reading[2], chute.inlet_cfg["pings"],
        "-" if lv is None else "%.0f %%" % (lv * 100)), 2)
    return d, q


def calibrate(what):
    """'empty' (bin just emptied) or 'full' (waste at the full mark): measure, then save
    inlet.empty_m / inlet.full_m in config.json (validated; Ctrl-D to restart with it)."""
    if what not in ("empty", "full"):
        _say("calibrate('empty') or calibrate('full')", 2)
        return
    got = ranger()
    if got is None:
        return
    d, q = got
    if d is None:
        _say("no good reading (%s): check the sensor and the beam, then try again" % q, 2)
        return
    set("inlet.%s_m" % what, round(d, 3))


def inlet():
    chute = _inlet()
    if chute is not None:
        for k, v in sorted(chute.state().items()):
            _say("%-13s %s" % (k, v), 14)
