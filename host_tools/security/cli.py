"""`street broker ...`: the command line of the broker's security folder."""

import argparse
import getpass
import os
import sys
from pathlib import Path

from . import creds
from .build import ROTATABLE, check_inputs, init_broker_dir
from .conf import MAX_PACKET_BYTES_DEFAULT, ListenerOptions
from .fleet import NO_DEVICES, FleetError, load_fleet_file, parse_device_arg

WIFI_PASSWORD_ENV = "STREET_WIFI_PASSWORD"
# Every process on the machine can read a command line (ps): no password goes there.
NO_PASSWORD_ARG = ("--wifi-password is refused: a command line is visible to everyone on the "
                   f"machine (ps); use --wifi-password-file F, ${WIFI_PASSWORD_ENV}, or type it "
                   "at the prompt")

LAYOUT = """files made in OUT_DIR:
  mosquitto.conf   the broker config (TLS listener, no anonymous, password file, ACL,
                   client id = user name, largest packet)
  passwd           hashed passwords (mosquitto_passwd)        acl   per-user topic rights
  ca.crt ca.key    the private CA (keep ca.key offline)       ca.der  the CA for devices
  server.crt server.key   the broker's certificate for --host names
  accounts.json    operator, monitor and station logins
  devices/ID/secrets.json, devices/ID/ca.der   what each device needs on its flash
A re-run keeps the CA, certificates, passwords and keys unless --rotate says otherwise."""


def add_parser(sub) -> None:
    b = sub.add_parser("broker", help="the broker's passwords, ACL, CA and TLS config")
    actions = b.add_subparsers(dest="broker_cmd", required=True)
    i = actions.add_parser("init", help="make or refresh a broker's security folder",
                           epilog=LAYOUT, formatter_class=argparse.RawDescriptionHelpFormatter)
    i.add_argument("out_dir", metavar="OUT_DIR")
    i.add_argument("--site", default="main", help="site of --device devices (default main)")
    i.add_argument("--prefix", default="city", help="topic prefix (default city)")
    i.add_argument("--host", action="append", default=[], metavar="NAME",
                   help="DNS name or IP address devices connect to (repeatable)")
    i.add_argument("--device", action="append", default=[], metavar="ID:ROLE[:GROUP]",
                   help="a device; ROLE is streetlight or inlet (repeatable)")
    i.add_argument("--fleet", metavar="FILE", help="JSON file listing devices (see docs)")
    i.add_argument("--wifi-ssid", help="Wi-Fi network written into each secrets.json")
    i.add_argument("--wifi-password-file", metavar="F",
                   help=f"file holding its password (else ${WIFI_PASSWORD_ENV}, else a prompt "
                        "when run from a terminal, else none: an open network)")
    # Kept only to refuse it with a clear message (and so that argparse does not take it as
    # an abbreviation of --wifi-password-file).
    i.add_argument("--wifi-password", nargs="?", const="", default=None, help=argparse.SUPPRESS)
    i.add_argument("--port", type=int, default=8883, help="TLS listener port (default 8883)")
    i.add_argument("--bind", default="", help="address the TLS listener binds (default all)")
    i.add_argument("--local-port", type=int, default=None,
                   help="also a plain listener on 127.0.0.1 for tools on the broker machine")
    i.add_argument("--conf-dir", default=None,
                   help="where these files will live on the broker machine (default OUT_DIR)")
    i.add_argument("--group", default=None,
                   help="group the broker runs as (e.g. mosquitto): may read key, passwd, acl")
    i.add_argument("--max-packet-bytes", type=int, default=MAX_PACKET_BYTES_DEFAULT,
                   metavar="N", help="largest MQTT packet the broker takes in; a client "
                   f"sending more is dropped (default {MAX_PACKET_BYTES_DEFAULT})")
    i.add_argument("--rotate", action="append", nargs="?", const="all", default=[],
                   metavar="WHAT", help=f"make new: {', '.join(ROTATABLE)} or all (no value)")


def _devices(args) -> tuple[list, dict | None, list[str]]:
    """(labelled devices, wifi, errors) from --fleet and --device."""
    labelled, wifi, errors = [], None, []
    if args.fleet:
        try:
            labelled, wifi = load_fleet_file(args.fleet, args.site, args.prefix)
        except FleetError as e:
            errors += e.errors
    for arg in args.device:
        try:
            labelled.append((f"--device {arg!r}", parse_device_arg(arg, args.site, args.prefix)))
        except FleetError as e:
            errors += e.errors
    return labelled, wifi, errors


def _read_password_file(path: str) -> str:
    try:
        return creds.read_secret(path, "--wifi-password-file")
    except creds.SecretFileError as e:
        raise FleetError([str(e)]) from e


def _prompt_password(ssid: str) -> str:
    try:
        first = getpass.getpass(f"Wi-Fi password for {ssid!r} (empty: an open network): ")
        if first and getpass.getpass("the same again: ") != first:
            raise FleetError(["the two Wi-Fi passwords typed differ"])
    except (EOFError, KeyboardInterrupt) as e:
        raise FleetError(["no Wi-Fi password typed"]) from e
    return first


def _given_password(args) -> tuple[str | None, str]:
    """The Wi-Fi password from --wifi-password-file or $STREET_WIFI_PASSWORD, and where it
    came from; (None, "") when neither is given. FleetError if the file is unusable."""
    if args.wifi_password_file:
        if not args.wifi_ssid:
            raise FleetError(["--wifi-password-file: give --wifi-ssid too (the network the "
                              "password is for)"])
        return _read_password_file(args.wifi_password_file), "from the file"
    env = os.environ.get(WIFI_PASSWORD_ENV)
    if env is not None:
        return env, f"from ${WIFI_PASSWORD_ENV}"
    return None, ""


def _wifi(args, from_fleet: dict | None, given: tuple[str | None, str]
          ) -> tuple[dict | None, str]:
    """(Wi-Fi for secrets.json, a report line saying where its password came from).
    --wifi-ssid replaces the fleet file's Wi-Fi; without a password given, one is asked for
    at a terminal (asked last, once every other input is known to be good)."""
    if not args.wifi_ssid:
        return from_fleet, ""
    password, source = given
    if password is None:
        if sys.stdin is not None and sys.stdin.isatty():
            password, source = _prompt_password(args.wifi_ssid), "typed"
        else:
            password = ""  # a script with nothing given: an open network, said in the report
    what = source if password else "none (an open network)"
    return {"ssid": args.wifi_ssid, "password": password}, f"Wi-Fi password: {what}"


def _check(args, labelled, errors, rotate, listener):
    """Every problem with the command line at once, or the devices."""
    conf_dir = args.conf_dir or str(Path(args.out_dir).absolute())
    try:
        devices = check_inputs(labelled, args.host, rotate, conf_dir, listener)
    except FleetError as e:
        devices = []
        errors += [m for m in e.errors if not (errors and m == NO_DEVICES)]
    if errors:
        raise FleetError(errors)
    return devices


def run(args) -> int:
    if args.wifi_password is not None:
        print(f"error: {NO_PASSWORD_ARG}")
        return 2
    try:
        labelled, wifi, errors = _devices(args)
        try:
            given = _given_password(args)
        except FleetError as e:
            errors += e.errors
            given = (None, "")
        rotate = set(ROTATABLE) if "all" in args.rotate else set(args.rotate)
        listener = ListenerOptions(tls_port=args.port, tls_bind=args.bind,
                                   plain_port=args.local_port,
                                   max_packet_bytes=args.max_packet_bytes)
        devices = _check(args, labelled, errors, rotate, listener)
        wifi, wifi_said = _wifi(args, wifi, given)
        report = init_broker_dir(args.out_dir, devices, args.host, wifi=wifi, rotate=rotate,
                                 listener=listener, conf_dir=args.conf_dir, group=args.group)
    except FleetError as e:
        for err in e.errors:
            print(f"error: {err}")
        print("nothing was written")
        return 2
    except (ValueError, RuntimeError) as e:  # raised before anything is moved into place
        print(f"error: {e}")
        print("nothing was written")
        return 2
    except OSError as e:
        print(f"error: {e}")
        return 2
    print(f"wrote {report.out_dir}")
    for line in report.lines() + ([wifi_said] if wifi_said else []):
        print(f"  {line}")
    return 0
