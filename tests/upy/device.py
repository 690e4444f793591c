# A simulated device for ring-2 tests: a folder holding board.json, config.json and
# secrets.json, booted through the real boot.py and main.py on the simulated board.
import json
import os

import simclock

ROOT = os.getcwd()  # the bridge runs MicroPython from the repo root
FIRMWARE = ROOT + "/firmware/"

STREETLIGHT = {"device": {"id": "pole-1", "role": "streetlight", "board": "esp32-devkitc"},
               "mqtt": {"host": "127.0.0.1"}}
# As `street broker init` provisions it: commands are signed by default (mqtt.signed_cmds).
SECRETS = {"wifi": {"ssid": "street", "password": "secret"}, "cmd": {"key": "5a" * 32}}


class PowerOff(BaseException):
    """The test pulls the plug: ends a boot that would otherwise run forever."""


def scratch(name):
    d = (os.getenv("UPY_TMP") or "/tmp") + "/" + name
    try:
        os.mkdir(d)
    except OSError:
        pass
    for f in os.listdir(d):
        os.remove(d + "/" + f)
    return d + "/"


def write(path, obj):
    with open(path, "w") as f:
        f.write(obj if isinstance(obj, str) else json.dumps(obj))


def make(name, board="esp32-devkitc", config=STREETLIGHT, secrets=SECRETS):
    d = scratch(name)
    with open(ROOT + "/boards/" + board + ".json") as f:
        write(d + "board.json", f.read())
    if config is not None:
        write(d + "config.json", config)
    if secrets is not None:
        write(d + "secrets.json", secrets)
    return d


def power_on(device_dir, off_at_ms):
    """Boot like the chip: boot.py then main.py, with the device folder as the filesystem.
    Returns the BoardReset if the board reset itself, or None at power-off."""
    if off_at_ms is not None:
        simclock.at_ms(off_at_ms, _pull_plug)
    here = os.getcwd()
    os.chdir(device_dir)
    try:
        for f in ("boot.py", "main.py"):
            with open(FIRMWARE + f) as src:
                exec(src.read(), {"__name__": "__main__"})
    except PowerOff:
        return None
    except simclock.BoardReset as e:
        return e
    finally:
        os.chdir(here)
    raise AssertionError("main.py returned before power-off")


def _pull_plug():
    raise PowerOff()
