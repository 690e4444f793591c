"""Device folders for the simulated street: one folder per pole and inlet, as a technician
would flash them (board.json, config.json, secrets.json), each checked with the firmware's
own loader (agent.files.load_all) before anything is written.

`write(scenario, out_dir, broker_host, broker_port) -> {device_id: folder}`
"""

import json
import secrets as _secrets
import shutil
from pathlib import Path

from agent import config, files

from . import scenario as scn

ROOT = Path(__file__).resolve().parents[2]
BOARD = "esp32-devkitc"
WIFI = {"ssid": "street", "password": "street-pw"}


class DeviceError(ValueError):
    """A device folder the firmware would refuse (one line)."""


def _merge(base, extra):
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in base.items()}
    for sec, fields in extra.items():
        out.setdefault(sec, {}).update(fields)
    return out


def street_group(s):
    """The light-ahead group of the street's poles (an id: the scenario file's name)."""
    ok = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-."
    name = "".join(c if c in ok else "-" for c in Path(s["source"]).stem)[:32].strip("-")
    return name or "street"


def config_for(s, device_id, broker_host, broker_port, telemetry_s=None):
    """The raw config.json object of one device of the street. telemetry_s: the telemetry
    period (the firmware's default, hourly, when None; the demo's live view wants minutes)."""
    place, lamp = s["place"], s["lamp"]
    poles = dict(scn.pole_ids(s))
    inlets = dict(scn.inlet_ids(s))
    mqtt = {"host": broker_host, "port": broker_port, "keepalive_s": 30,
            "signed_cmds": True, "connect_timeout_s": 5, "backoff_max_s": 30}
    # The simulation runs many times faster than real time: a host stall of 10 ms is
    # seconds on the board, which a real watchdog would take for a stuck loop.
    loop = {"wdt_ms": 0, "heartbeat_s": 3600}
    if telemetry_s is not None:
        loop["telemetry_s"] = telemetry_s
    # The scenario sets every board's wall clock: no SNTP (nor DNS lookups) in a simulation.
    clock = {"servers": ""}
    dc = s["device_config"]
    if device_id in poles:
        cfg = {"device": {"id": device_id, "role": "streetlight", "site": s["site"]},
               "mqtt": dict(mqtt, group=street_group(s)), "loop": loop, "clock": clock,
               "light": {"lat": place["lat"], "lon": place["lon"],
                         "tz_offset_min": place["tz_offset_min"], "dst": place["dst"],
                         "position_m": poles[device_id],
                         "ahead_reach_m": s["poles"]["ahead_reach_m"],
                         # Linear: the PWM duty is the level, so the pin's history reads
                         # back as levels and the power is linear in them (docs/street.md).
                         "curve": "linear", "invert_output": False,
                         "power_curve": [[0, lamp["standby_w"]],
                                         [100, lamp["standby_w"] + lamp["watts"]]]}}
        return _merge(cfg, {k: v for k, v in dc.items() if k in ("light", "loop", "mqtt")})
    if device_id in inlets:
        cfg = {"device": {"id": device_id, "role": "inlet", "site": s["site"]},
               "mqtt": mqtt, "loop": loop, "clock": clock,
               "inlet": {"branch": inlets[device_id], "tz_offset_min": place["tz_offset_min"],
                         "dst": place["dst"]}}
        return _merge(cfg, {k: v for k, v in dc.items() if k in ("inlet", "loop", "mqtt")})
    raise DeviceError(f"{device_id}: not a device of this street")


def write(s, out_dir, broker_host, broker_port, key_hex=None, telemetry_s=None):
    """One folder per device under out_dir (out_dir/<device id>/): board.json, config.json,
    secrets.json with a command key (key_hex, or a new random one shared by the street's
    devices: the runner reads it back from any secrets.json to sign commands). Every folder
    is checked as the device would load it; nothing is written if one would fail."""
    out_dir = Path(out_dir)
    key = key_hex or _secrets.token_hex(32)
    sec = {"wifi": dict(WIFI), "cmd": {"key": key}}
    config.load_secrets(sec)
    ids = [d for d, _ in scn.pole_ids(s)] + [d for d, _ in scn.inlet_ids(s)]
    cfgs = {d: config_for(s, d, broker_host, broker_port, telemetry_s) for d in ids}
    for d, cfg in cfgs.items():  # all checked before any is written
        _, errors = config.check(config.CONFIG, cfg)
        if errors:
            raise DeviceError(f"{d}: config.json: {errors[0]}")
    board = ROOT / "boards" / f"{BOARD}.json"
    out = {}
    for d, cfg in cfgs.items():
        folder = out_dir / d
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(board, folder / "board.json")
        (folder / "config.json").write_text(json.dumps(cfg, indent=1) + "\n")
        (folder / "secrets.json").write_text(json.dumps(sec, indent=1) + "\n")
        loaded = files.load_all(str(folder) + "/")
        if loaded["problems"]:
            raise DeviceError(f"{d}: {loaded['problems'][0]}")
        out[d] = folder
    return out
