"""`street deploy PORT DEVICE_DIR`: the command line (add_parser/run, listed in cli.MODULES)."""

import argparse
import time
from pathlib import Path

DESCRIPTION = """Put the firmware and one device folder on a board over its serial port.
Reads the board (MicroPython version, .mpy ABI, chip, free heap, agent frozen or not), checks
the folder against it, compiles the agent for it, copies only what differs (staged, then
renamed in one burst, config.json last), checks every file by hash, removes stale agent files
and resets the board. Nothing is written when a check fails."""

EPILOG = """examples:
  street deploy /dev/ttyUSB0 examples/streetlight --dry-run
  street deploy /dev/ttyUSB0 devices/pole-17 --watch --broker 192.168.1.10:1883
see docs/deploy.md (the virtual board: street vboard DIR)"""


def add_parser(sub) -> None:
    p = sub.add_parser("deploy", help="put the firmware and a device folder on a board",
                       description=DESCRIPTION, epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("port", metavar="PORT", help="serial port: /dev/ttyUSB0, /dev/ttyACM0, "
                   "COM3, a virtual board's /dev/pts/N, rfc2217://host:port")
    p.add_argument("device_dir", metavar="DEVICE_DIR",
                   help="board.json, config.json, secrets.json (street new-device makes one)")
    p.add_argument("--dry-run", action="store_true",
                   help="read the board and check everything, say what would be copied; "
                        "write nothing")
    p.add_argument("--force", action="store_true",
                   help="copy every file, even those whose hash on the board already matches")
    w = p.add_argument_group("--watch: wait for the device on the broker after the reset")
    w.add_argument("--watch", action="store_true",
                   help="wait for its `online` status and first state")
    w.add_argument("--broker", metavar="HOST[:PORT]",
                   help="where this machine reaches the broker (default: config.json's "
                        "mqtt.host and mqtt.port)")
    w.add_argument("--user", help="broker login for watching (e.g. monitor)")
    w.add_argument("--password-file", metavar="F", help="file holding that login's password")
    w.add_argument("--ca", metavar="F", help="CA certificate (PEM): watch over TLS")
    w.add_argument("--watch-timeout", type=float, default=90, metavar="S",
                   help="give up after S seconds (default 90)")


def run(args) -> int:
    # Imported here: every `street` call builds all parsers, and only deploy needs these.
    from host_tools.deploy.run import Options, deploy
    from host_tools.security.creds import SecretFileError, read_secret

    password = None
    if args.password_file:
        try:
            password = read_secret(args.password_file, "--password-file")
        except SecretFileError as e:
            print(f"error: {e}")
            return 2
    opts = Options(port=args.port, folder=Path(args.device_dir), dry_run=args.dry_run,
                   force=args.force, watch=args.watch, broker=args.broker, user=args.user,
                   password=password, ca=args.ca, watch_timeout_s=args.watch_timeout)
    start = time.monotonic()
    return deploy(opts, start)
