"""`street`: the command line for the people around the devices.

    street board check boards/*.json     validate board pin maps against the chip's rules
    street check DEVICE_DIR              validate a device's board.json, config.json, secrets.json,
                                         and that its role fits the board's heap
    street config schema                 every config field: kind, default, range, roles
    street broker init OUT_DIR ...       a broker's passwords, ACL, CA and TLS config
    street station run --host H ...      the reference vacuum station coordinator
    street vboard DIR [--image I]        a virtual ESP32 on a serial port, DIR its flash
    street new-device OUT_DIR --role R ...  a device folder from the schema, a fresh command key
    street deploy PORT DEVICE_DIR        put the firmware and a device folder on a board (mpremote)
    street cmd VERB TARGET [ARGS] | street monitor   signed commands, acks; the live fleet table
    street demo [--speed X --poles N ...]  a simulated street through a night and a day, live
"""

import argparse
import importlib
import json
import sys
from pathlib import Path

from agent import board as boards
from agent import config, files
from host_tools import chipfit


def _board_check(paths: list[str]) -> int:
    bad = 0
    for p in paths:
        try:
            obj = json.loads(Path(p).read_text())
        except (OSError, ValueError) as e:
            print(f"{p}: cannot read: {e}")
            bad += 1
            continue
        errors, warnings = boards.validate(obj)
        for w in warnings:
            print(f"{p}: warning: {w}")
        for e in errors:
            print(f"{p}: error: {e}")
        if errors:
            bad += 1
        else:
            print(f"{p}: ok ({obj.get('chip')}, roles: {', '.join(obj.get('roles', []))})")
    return 1 if bad else 0


def _device_check(folder: str, deploy: str) -> int:
    root = str(Path(folder)) + "/"
    loaded = files.load_all(root)
    for name, key in (("board", "board"), ("config", "config"), ("secrets", "secrets")):
        print(f"{name:8}: {'ok' if loaded[key] else 'NOT USABLE'}")
    if loaded["config_source"] and not loaded["config_source"].endswith("/config.json"):
        print(f"config in use: {loaded['config_source']}")
    for p in loaded["problems"]:
        print(f"problem: {p}")
    board, cfg = loaded["board"], loaded["config"]
    if board and cfg:
        warning = chipfit.fit_warning(board, cfg["device"]["role"], deploy)
        if warning:
            print(f"warning: {warning}")
    return 1 if loaded["problems"] else 0


def _schema() -> int:
    for title, schema in (("config.json", config.CONFIG), ("secrets.json", config.SECRETS)):
        print(f"# {title}")
        for sec, fields in schema.items():
            for name, (kind, default, lo, hi, roles) in fields.items():
                kind_s = "|".join(kind) if isinstance(kind, tuple) else kind
                default_s = "REQUIRED" if default is config.REQUIRED else json.dumps(default)
                rng = "" if lo is None and hi is None else f"{lo}..{hi}"
                who = ",".join(roles) if roles else "all"
                field = f"{sec}.{name}"
                print(f"{field:26} {kind_s:20} {default_s:10} {rng:14} {who}")
    return 0


def _station_parser(sub) -> None:
    st = sub.add_parser("station", help="the reference vacuum station coordinator")
    st.add_argument("action", choices=["run"])
    st.add_argument("--host", required=True, help="broker host")
    st.add_argument("--port", type=int, default=None, help="broker port (1883, 8883 with --ca)")
    st.add_argument("--prefix", default="city", help="topic prefix (default city)")
    st.add_argument("--site", default="main", help="site (default main)")
    st.add_argument("--user", default=None, help="broker user (e.g. station)")
    st.add_argument("--password-file", default=None, metavar="F",
                    help="file holding the password (not on the command line: ps shows it)")
    st.add_argument("--ca", default=None, metavar="F", help="CA certificate (PEM): use TLS")


def _station_run(args) -> int:
    # Imported here: paho and the station are not needed by the other subcommands.
    import time

    from host_tools.security.creds import SecretFileError, read_secret
    from host_tools.station.service import StationService, format_record

    password = None
    if args.password_file:
        try:
            password = read_secret(args.password_file, "--password-file")
        except SecretFileError as e:
            print(f"error: {e}")
            return 1
    port = args.port or (8883 if args.ca else 1883)

    def show(kind, now_ms, data):
        line = format_record(kind, now_ms, data)
        if line:
            print(time.strftime("%H:%M:%S"), line, flush=True)

    try:
        svc = StationService(args.host, port, args.prefix, args.site, user=args.user,
                             password=password, ca=args.ca, on_record=show)
    except ValueError as e:
        print(f"error: {e}")
        return 1
    print(f"station {args.prefix}/{args.site} on {args.host}:{port}; Ctrl-C stops", flush=True)
    try:
        svc.run_forever()
    except (OSError, RuntimeError) as e:
        print(f"error: {e}")
        return 1
    print("station stopped", flush=True)
    return 0


# Subcommands that live in modules of their own: each has `add_parser(sub)` (light imports
# only: every `street` call builds all parsers) and `run(args) -> int`.
MODULES = (
    "host_tools.security.cli",
    "host_tools.vboard.cli",
    "host_tools.newdevice",
    "host_tools.deploy.cli",
    "host_tools.fleet.cli",
    "host_tools.street.cli",
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="street", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("board", help="board pin maps")
    b.add_argument("action", choices=["check"])
    b.add_argument("paths", nargs="+")
    c = sub.add_parser("check", help="validate a device folder before deploying it")
    c.add_argument("folder")
    c.add_argument("--deploy", choices=chipfit.DEPLOYS, default="mpy",
                   help="how the agent reaches the board: mpy (.mpy files on a stock image, the "
                        "default) or frozen (a custom image): checks that the role fits its heap")
    s = sub.add_parser("config", help="the config schema")
    s.add_argument("action", choices=["schema"])
    _station_parser(sub)
    owners = {}
    for name in MODULES:
        mod = importlib.import_module(name)
        before = set(sub.choices)
        mod.add_parser(sub)
        owners.update({cmd: mod for cmd in set(sub.choices) - before})
    args = ap.parse_args(argv)
    if args.cmd in owners:
        return owners[args.cmd].run(args)
    if args.cmd == "station":
        return _station_run(args)
    if args.cmd == "board":
        return _board_check(args.paths)
    if args.cmd == "check":
        return _device_check(args.folder, args.deploy)
    return _schema()


if __name__ == "__main__":
    sys.exit(main())
