# Technician helpers for the serial REPL at the pole:
#   >>> import agent.tech as tech
#   >>> tech.help()
# Every change is validated against the same schema as the host tools and saved atomically.
import json

from agent import config, files, hal, store

ROOT = ""


def help():
    print("""tech.status()            board, role, which config file is in use, problems
tech.show()              the config in force (secrets hidden)
tech.set('sec.field', v) change one config field (validated, saved atomically)
tech.safe_mode(True)     next boot stops before the agent (REPL stays free); False undoes
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
