"""`street broker ...`: the command line of the broker's security folder."""

import argparse
from pathlib import Path

from .build import ROTATABLE, check_inputs, init_broker_dir
from .conf import ListenerOptions
from .fleet import NO_DEVICES, FleetError, load_fleet_file, parse_device_arg

LAYOUT = """files made in OUT_DIR:
  mosquitto.conf   the broker config (TLS listener, no anonymous, password file, ACL)
  passwd           hashed passwords (mosquitto_passwd)        acl   per-user topic rights
  ca.crt ca.key    the private CA (keep ca.key offline)       ca.der  the CA for devices
  server.crt server.key   the broker's certificate for --host names
  accounts.json    operator and station logins
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
    i.add_argument("--wifi-password", default="", help="its password")
    i.add_argument("--port", type=int, default=8883, help="TLS listener port (default 8883)")
    i.add_argument("--bind", default="", help="address the TLS listener binds (default all)")
    i.add_argument("--local-port", type=int, default=None,
                   help="also a plain listener on 127.0.0.1 for tools on the broker machine")
    i.add_argument("--conf-dir", default=None,
                   help="where these files will live on the broker machine (default OUT_DIR)")
    i.add_argument("--group", default=None,
                   help="group the broker runs as (e.g. mosquitto): may read key, passwd, acl")
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
    try:
        labelled, wifi, errors = _devices(args)
        if args.wifi_ssid:
            wifi = {"ssid": args.wifi_ssid, "password": args.wifi_password}
        rotate = set(ROTATABLE) if "all" in args.rotate else set(args.rotate)
        listener = ListenerOptions(tls_port=args.port, tls_bind=args.bind,
                                   plain_port=args.local_port)
        devices = _check(args, labelled, errors, rotate, listener)
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
    for line in report.lines():
        print(f"  {line}")
    return 0
