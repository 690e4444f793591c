"""`street new-device OUT_DIR`: a device folder (board.json, config.json, secrets.json) made from
the firmware's own schema (agent.config CONFIG/SECRETS): every field the role uses, at its
default, with the few required ones filled from the command line, and a fresh command key.

The folder is written whole or not at all (files made in a temporary folder beside it, checked
with the firmware's own loader, agent.files.load_all, then moved in) and never over an existing
device's files."""

import argparse
import json
import os
import shutil
import tempfile
from pathlib import Path

from agent import config, files
from host_tools import chipfit
from host_tools.security.cli import NO_PASSWORD_ARG, WIFI_PASSWORD_ENV, _given_password, _wifi
from host_tools.security.creds import new_cmd_key
from host_tools.security.fleet import FleetError
from host_tools.upy import ROOT

BOARDS = ROOT / "boards"
DEVICE_FILES = (files.BOARD_FILE, files.CONFIG_FILE, files.SECRETS_FILE)
SECTION = {"streetlight": "light", "inlet": "inlet"}  # the config section of each role's place


class NewDeviceError(ValueError):
    pass


def board_names() -> list[str]:
    return sorted(p.stem for p in BOARDS.glob("*.json"))


def parse_broker(text: str) -> tuple[str, int | None]:
    """HOST or HOST:PORT (an IPv6 address in brackets: [::1]:1883)."""
    host, port = text, None
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise NewDeviceError(f"--broker {text!r}: expected [ADDRESS]:PORT")
            port = rest[1:]
    elif text.count(":") == 1:
        host, port = text.split(":")
    if port is not None:
        if not port.isdigit() or not 1 <= int(port) <= 65535:
            raise NewDeviceError(f"--broker {text!r}: the port must be a number 1..65535")
        port = int(port)
    if not host:
        raise NewDeviceError(f"--broker {text!r}: no host")
    return host, port


def defaults_for(role: str) -> dict:
    """Every config field the role uses, at its schema default (REQUIRED ones left out)."""
    out = {}
    for sec, fields in config.CONFIG.items():
        vals = {name: spec[config.DEFAULT] for name, spec in fields.items()
                if spec[config.DEFAULT] is not config.REQUIRED and config.applies(spec, role)}
        if vals:
            out[sec] = vals
    return out


def make_config(role: str, device_id: str, board: str, site: str, host: str,
                port: int | None, place: dict) -> dict:
    """The device's config.json: the schema's defaults plus what identifies this device."""
    cfg = defaults_for(role)
    cfg["device"].update({"id": device_id, "role": role, "site": site, "board": board})
    cfg["mqtt"]["host"] = host
    if port is not None:
        cfg["mqtt"]["port"] = port
    cfg.setdefault(SECTION[role], {}).update(place)
    # Schema order within each section (the required fields went in last above).
    ordered = {sec: {k: cfg[sec][k] for k in fields if k in cfg[sec]}
               for sec, fields in config.CONFIG.items() if sec in cfg}
    config.load(ordered)  # the firmware's schema is the judge
    return ordered


def make_secrets(wifi: dict, key: str) -> dict:
    out = {"wifi": {"ssid": wifi["ssid"], "password": wifi.get("password", "")},
           "mqtt": {"user": "", "password": ""},
           "cmd": {"key": key}}
    config.load_secrets(out)
    return out


def _dump(obj: dict) -> str:
    return json.dumps(obj, indent=2) + "\n"


def refuse_existing(out_dir: Path) -> None:
    taken = [n for n in DEVICE_FILES if (out_dir / n).exists()]
    if taken:
        raise NewDeviceError(f"{out_dir / taken[0]} exists: new-device never overwrites a "
                             "device folder (pick a new OUT_DIR, or edit the files there)")


def write_device(out_dir: Path, board_text: str, cfg: dict, secrets: dict) -> None:
    """Write the three files into out_dir, all or none; never over an existing file."""
    refuse_existing(out_dir)
    parent = out_dir.absolute().parent
    parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=parent))
    try:
        (stage / files.BOARD_FILE).write_text(board_text)
        (stage / files.CONFIG_FILE).write_text(_dump(cfg))
        fd = os.open(stage / files.SECRETS_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(_dump(secrets))
        loaded = files.load_all(str(stage) + "/")  # as the device itself would load them
        if loaded["problems"]:
            raise NewDeviceError("the folder made does not pass the firmware's checks: "
                                 + "; ".join(p.replace("\n", " ") for p in loaded["problems"]))
        if not out_dir.exists():
            stage.rename(out_dir)  # one step: the whole folder appears at once
            return
        moved = []
        try:
            for name in DEVICE_FILES:
                os.link(stage / name, out_dir / name)  # fails if the name appeared meanwhile
                moved.append(name)
        except OSError as e:
            for name in moved:
                (out_dir / name).unlink()
            raise NewDeviceError(f"cannot write into {out_dir}: {e}") from e
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def add_parser(sub) -> None:
    p = sub.add_parser("new-device", help="make a device folder from the config schema",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("out_dir", metavar="OUT_DIR")
    p.add_argument("--role", required=True, choices=config.ROLES)
    p.add_argument("--board", required=True, metavar="NAME",
                   help="a board map in boards/ (" + ", ".join(board_names()) + ")")
    p.add_argument("--id", required=True, dest="device_id", help="device id (in its topics)")
    p.add_argument("--site", default="main", help="site (default main)")
    p.add_argument("--broker", default="127.0.0.1", metavar="HOST[:PORT]",
                   help="the MQTT broker the device connects to (default 127.0.0.1:1883)")
    p.add_argument("--wifi-ssid", required=True, help="Wi-Fi network the device joins")
    p.add_argument("--wifi-password-file", metavar="F",
                   help=f"file holding its password (else ${WIFI_PASSWORD_ENV}, else a prompt "
                        "when run from a terminal, else none: an open network)")
    p.add_argument("--wifi-password", nargs="?", const="", default=None, help=argparse.SUPPRESS)
    p.add_argument("--lat", type=float, help="streetlight: latitude, for the sun clock")
    p.add_argument("--lon", type=float, help="streetlight: longitude, for the sun clock")
    p.add_argument("--branch", help="inlet: its pipe branch (required for an inlet)")


def _place(args) -> dict:
    if args.role == "inlet":
        if args.lat is not None or args.lon is not None:
            raise NewDeviceError("--lat/--lon are for a streetlight (its sun clock)")
        if not args.branch:
            raise NewDeviceError("--branch is required for an inlet: the pipe branch whose "
                                 "vacuum station grants its valve")
        return {"branch": args.branch}
    if args.branch:
        raise NewDeviceError("--branch is for an inlet (its pipe branch)")
    if (args.lat is None) != (args.lon is None):
        raise NewDeviceError("give both --lat and --lon, or neither")
    return {} if args.lat is None else {"lat": args.lat, "lon": args.lon}


def _board(name: str, role: str) -> tuple[str, dict]:
    path = BOARDS / f"{name}.json"
    if not path.is_file():
        raise NewDeviceError(f"no board map {name!r}: known are {', '.join(board_names())}")
    text = path.read_text()
    board = json.loads(text)
    if role not in board["roles"]:
        raise NewDeviceError(f"board {name} has no pins for the {role} role "
                             f"(it serves {', '.join(board['roles'])})")
    return text, board


def run(args) -> int:
    if args.wifi_password is not None:
        print(f"error: {NO_PASSWORD_ARG}")
        return 2
    out = Path(args.out_dir)
    try:
        board_text, board = _board(args.board, args.role)
        host, port = parse_broker(args.broker)
        cfg = make_config(args.role, args.device_id, args.board, args.site, host, port,
                          _place(args))
        refuse_existing(out)  # before a password prompt, not after
        wifi, wifi_said = _wifi(args, None, _given_password(args))
        assert wifi is not None  # --wifi-ssid is required
        write_device(out, board_text, cfg, make_secrets(wifi, new_cmd_key()))
    except config.ConfigError as e:
        print("error: " + "; ".join(e.errors))
        print("nothing was written")
        return 2
    except (NewDeviceError, FleetError, OSError) as e:
        msgs = e.errors if isinstance(e, FleetError) else [str(e)]
        for m in msgs:
            print(f"error: {m}")
        print("nothing was written")
        return 2
    print(f"wrote {out}/: board.json ({args.board}), config.json ({args.role} "
          f"{args.device_id} at {args.site}, broker {host}:{cfg['mqtt']['port']}), "
          "secrets.json (a fresh command key)")
    print(f"  {wifi_said}")
    if args.role == "streetlight" and args.lat is None:
        print("  note: light.lat/lon unset: no sun clock until they are set in config.json")
    for deploy in chipfit.DEPLOYS:
        warning = chipfit.fit_warning(board, args.role, deploy)
        if warning:
            print(f"  note ({deploy}): {warning}")
    print("next:")
    print(f"  street check {out}")
    print(f"  street deploy PORT {out} --watch      (docs/deploy.md)")
    return 0
