"""What `street cmd` and `street monitor` share: the broker options (as `street station run`
takes them, plus --broker-dir for a `street broker init` folder), the keys, the counters,
and the opened session."""

import json
from dataclasses import dataclass
from pathlib import Path

from host_tools.security.creds import SecretFileError, read_secret

from . import keys as keys_mod
from .counters import CounterStore
from .fleetview import FleetView
from .session import FleetSession


class SetupError(ValueError):
    """One line: a broker option, a key folder or a password file that cannot be used."""


def add_broker_options(p) -> None:
    g = p.add_argument_group("broker")
    g.add_argument("--host", default=None, help="broker host (default: localhost)")
    g.add_argument("--port", type=int, default=None, help="broker port (1883, 8883 with --ca)")
    g.add_argument("--ca", default=None, metavar="F", help="CA certificate (PEM): use TLS")
    g.add_argument("--user", default=None, help="broker login (operator to send commands, "
                                                "monitor to watch)")
    g.add_argument("--password-file", default=None, metavar="F",
                   help="file holding the password (not on the command line: ps shows it)")
    g.add_argument("--broker-dir", default=None, metavar="DIR",
                   help="a `street broker init` folder: its ca.crt, the login's password from "
                        "accounts.json, and the devices' command keys")
    g.add_argument("--prefix", default="city", help="topic prefix (default city)")
    g.add_argument("--site", default="+", help="only this site (default: every site)")
    k = p.add_argument_group("keys and counters")
    k.add_argument("--keys", action="append", default=[], metavar="DIR",
                   help="device folder(s) with secrets.json (and config.json), a folder of "
                        "them, or a `street broker init` folder (repeatable)")
    k.add_argument("--state-dir", default=None, metavar="DIR",
                   help="where the command counters are kept (default $STREET_STATE_DIR/"
                        "counters or ~/.local/state/street/counters)")
    k.add_argument("--unsigned", action="store_true",
                   help="send unsigned commands (a lab device with signed_cmds false)")
    k.add_argument("--timeout", type=float, default=10.0, metavar="S",
                   help="how long to wait for acks (default 10 s)")


@dataclass
class Settings:
    host: str
    port: int
    user: str | None
    password: str | None
    ca: str | None
    prefix: str
    site: str
    known: dict
    store: CounterStore
    unsigned: bool
    timeout: float


def _read_password(path: str) -> str:
    try:
        return read_secret(path, "--password-file")
    except SecretFileError as e:
        raise SetupError(str(e)) from e


def settings(args, login: str) -> Settings:
    """The options resolved; `login` is the account --broker-dir logs in as by default."""
    ca, user, password = args.ca, args.user, None
    key_paths = list(args.keys)
    if args.broker_dir:
        d = Path(args.broker_dir)
        if not (d / "accounts.json").exists():
            raise SetupError("--broker-dir %s: no accounts.json (not a `street broker init` "
                             "folder)" % d)
        ca = ca or str(d / "ca.crt")
        user = user or login
        if not args.password_file:
            try:
                accounts = json.loads((d / "accounts.json").read_text())
            except (OSError, ValueError) as e:
                raise SetupError("%s: cannot read: %s" % (d / "accounts.json", e)) from e
            entry = accounts.get(user)
            if not isinstance(entry, dict):
                raise SetupError("--user %s: not an account in %s (give --password-file)"
                                 % (user, d / "accounts.json"))
            password = entry.get("password")
        if (d / "devices").is_dir():
            key_paths.insert(0, str(d))
    if args.password_file:
        password = _read_password(args.password_file)
    try:
        known = keys_mod.load(key_paths)
    except keys_mod.KeysError as e:
        raise SetupError(str(e)) from e
    if args.timeout <= 0:
        raise SetupError("--timeout %g: must be above 0" % args.timeout)
    return Settings(args.host or "localhost", args.port or (8883 if ca else 1883), user,
                    password, ca, args.prefix, args.site, known, CounterStore(args.state_dir),
                    args.unsigned, args.timeout)


def open_session(s: Settings, wait_s: float = 10.0) -> tuple[FleetView, FleetSession]:
    """The view (devices known from their folders first) and a started session. Raises
    OSError, RuntimeError or station.service.BrokerRefused when the broker is not usable."""
    view = FleetView(s.prefix, s.site)
    for kd in s.known.values():
        place = kd.place()
        if place is not None and place[0] == s.prefix and s.site in ("+", place[1]):
            view.know(kd.id, place[0], place[1], place[2], place[3])
    session = FleetSession(view, s.host, s.port, s.user, s.password, s.ca)
    return view, session.start(wait_s)
