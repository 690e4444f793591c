# Technician helpers for the serial REPL at the pole (shell):
#   >>> import agent.tech as tech
#   >>> tech.help()
# Every change is validated against the same schema as the host tools and saved atomically.
import json

from agent import config, files, hal, sign, store

ROOT = ""


def help():
    print("""tech.status()            board, role, which config file is in use, problems
tech.show()              the config in force (secrets hidden)
tech.set('sec.field', v) change one config field (validated, saved atomically)
tech.safe_mode(True)     next boot stops before the agent (REPL stays free); False undoes
tech.link()              the MQTT link of the agent stopped by Ctrl-C: state, last error
tech.counter()           the last signed command's counter (the next must be above it)
tech.counter(0)          reset it, e.g. after a new cmd.key or a lost operator count
tech.lamp(80)            streetlight: drive the lamp directly (agent stopped), to test it
tech.override(80, 10)    streetlight: 80 % for 10 minutes, then automatic; resumes the agent
tech.ranger()            inlet: one ranging burst now: distance, quality, fill level
tech.calibrate('empty')  inlet: the bin is empty now: measure and save inlet.empty_m
tech.calibrate('full')   inlet: waste at the full mark: measure and save inlet.full_m
tech.inlet()             inlet: level, request, discharge phase, valve, status
Ctrl-D soft-reboots and restarts the agent.""")


def status():
    loaded = files.load_all(ROOT)
    board, cfg = loaded["board"], loaded["config"]
    print("board  :", board["name"] if board else "NONE")
    print("role   :", cfg["device"]["role"] if cfg else "?")
    print("id     :", cfg["device"]["id"] if cfg else "?")
    print("config :", loaded["config_source"] or "NONE")
    print("secrets:", "ok" if loaded["secrets"] else "NONE")
    print("reset  :", hal.reset_cause())
    for p in loaded["problems"]:
        print("PROBLEM:", p)
    if not loaded["problems"]:
        print("no problems found")


def show():
    cfg = files.load_all(ROOT)["config"]
    print(json.dumps(cfg) if cfg else "no usable config")


def set(field, value):
    """Set one field in config.json; refuses (and changes nothing) if the result is invalid."""
    path = ROOT + files.CONFIG_FILE
    raw, _, _ = store.load_json(path)
    new = config.with_value(raw, field, value)
    store.save_json(path, new, config.load)
    print("saved %s = %r; Ctrl-D to restart with it" % (field, value))


def safe_mode(on=True):
    path = ROOT + files.SAFE_MODE_FILE
    if on:
        with open(path, "w") as f:
            f.write("the agent does not start while this file exists\n")
    else:
        store.Fs().remove(path)
    print("safe mode", "on" if on else "off", "from the next boot")


def _agent_quiet():
    from agent import app

    return app.current


def _agent():
    a = _agent_quiet()
    if a is None:
        print("no agent has run since boot: Ctrl-D to start it, then Ctrl-C")
    return a


def link():
    a = _agent()
    if a is None or a.comms is None:
        return
    from agent.link import STATE_NAMES

    lk = a.comms.link
    print("link   :", STATE_NAMES[lk.state], "to %s:%d" % (lk.host, lk.port),
          "(tls)" if lk.tls else "")
    print("error  :", lk.last_error or "none")
    print("session: %d opened, %d lost; %d events queued, %d dropped"
          % (lk.connects, lk.reconnects, len(lk.outbox), lk.outbox.dropped))


def counter(reset_to=None):
    """Show the signed-command counter, or set it (saved atomically; the stopped agent
    takes it too). Lowering it lets old recorded commands be replayed: do it together with
    a new cmd.key, or when the operator's tool lost its count."""
    if reset_to is None:
        print("last accepted command counter:", files.load_counter(ROOT))
        return
    if type(reset_to) is not int or reset_to < 0:
        print("counter(N): N must be a whole number, 0 or more")
        return
    files.save_counter(ROOT, reset_to)
    a = _agent_quiet()
    if a is not None and a.comms is not None:
        a.comms.verifier.last_ctr = reset_to
    print("command counter set to %d; the next signed command needs ctr %d..%d" % (
        reset_to, reset_to + 1, reset_to + sign.CTR_WINDOW))


def lamp(level_pct):
    """Set the lamp's output directly (the agent is stopped), e.g. to check the driver."""
    a = _agent()
    pwm = getattr(a.role_impl, "pwm", None) if a is not None else None
    if a is None or pwm is None:
        print("not a streetlight agent")
        return
    from agent import output

    light = a.cfg["light"]
    pwm.duty_u16(output.duty_u16(level_pct, light["curve"], light["invert_output"]))
    print("lamp at %s %%; Ctrl-D restarts the agent" % level_pct)


def override(level_pct, minutes):
    """Hold the lamp at level_pct for `minutes`, then automatic again; runs the agent."""
    a = _agent()
    if a is None or a.role != "streetlight" or a.role_impl is None:
        print("not a streetlight agent")
        return
    import time

    from agent.pole import Pole

    pole = a.role_impl
    if not isinstance(pole, Pole):
        return
    granted = pole.core.override(level_pct, int(minutes * 60), time.ticks_ms())
    print("override %s %% for %s s; the agent runs again (Ctrl-C to stop)" % (level_pct,
                                                                             granted))
    a.run()


def _inlet():
    a = _agent()
    if a is None or a.role != "inlet" or a.role_impl is None:
        print("not an inlet agent")
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
    while reading is None:
        now = time.ticks_ms()
        temp = chute.thermo.read(now) if chute.thermo is not None else None
        wait, reading = r.step(now, temp if temp is not None else chute.inlet_cfg["temp_c"])
        if reading is None:
            time.sleep_ms(max(1, wait))
    d, q = reading[0], reading[1]
    lv = chute.core.level_cal.filling(d) if d is not None else None
    print("distance %s m, %s, %d of %d pings valid, fill %s" % (
        "-" if d is None else "%.3f" % d, q, reading[2], chute.inlet_cfg["pings"],
        "-" if lv is None else "%.0f %%" % (lv * 100)))
    return d, q


def calibrate(what):
    """'empty' (bin just emptied) or 'full' (waste at the full mark): measure, then save
    inlet.empty_m / inlet.full_m in config.json (validated; Ctrl-D to restart with it)."""
    if what not in ("empty", "full"):
        print("calibrate('empty') or calibrate('full')")
        return
    got = ranger()
    if got is None:
        return
    d, q = got
    if d is None:
        print("no good reading (%s): check the sensor and the beam, then try again" % q)
        return
    set("inlet.%s_m" % what, round(d, 3))


def inlet():
    chute = _inlet()
    if chute is not None:
        for k, v in sorted(chute.state().items()):
            print("%-13s %s" % (k, v))
