"""`street broker init`: build a broker's whole security folder in one go.

Everything is made in a private temporary folder beside OUT_DIR and moved into place only when
all of it succeeded, so bad input or a failing tool never leaves a half-written folder. A
re-run keeps the CA, the server certificate (while it still fits the hosts), and every
password and command key, unless asked to rotate them; devices dropped from the fleet lose
their broker account."""

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from agent import config

from . import acl, creds, tls
from .conf import ListenerOptions, conf_problems, render_conf
from .fleet import ACCOUNT_NAMES, Device, FleetError, check_fleet

ROTATABLE = ("passwords", "cmd-keys", "tls")
# Files for the broker machine, in the order they are moved into place (the config last).
BROKER_FILES = ("ca.key", "ca.crt", "ca.der", "server.key", "server.crt", "passwd", "acl",
                "accounts.json", "mosquitto.conf")
SECRET_FILES = ("ca.key", "server.key", "passwd", "accounts.json")  # 0600
# What the broker itself reads; with `group`, these become group-readable (0640) for it.
BROKER_READS = ("server.key", "passwd", "acl")
# Said by every report: the keys init writes are there to be used.
SIGNED_COMMANDS = ("commands: devices run only commands signed with their cmd.key (in "
                   "secrets.json); unsigned commands only where a device's config.json says "
                   "\"signed_cmds\": false, a lab choice")


@dataclass
class InitReport:
    out_dir: Path
    ca: str = ""  # "new" or "kept"
    server_cert: str = ""  # "kept" or why it was (re)issued
    new_devices: list[str] = field(default_factory=list)
    kept_devices: list[str] = field(default_factory=list)
    removed_devices: list[str] = field(default_factory=list)
    rotated: list[str] = field(default_factory=list)
    max_packet_bytes: int = 0
    warnings: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"CA: {self.ca}", f"server certificate: {self.server_cert}"]
        for title, items in (("new devices", self.new_devices),
                             ("kept devices", self.kept_devices),
                             ("removed devices (broker account gone)", self.removed_devices),
                             ("rotated", self.rotated)):
            if items:
                out.append(f"{title}: {', '.join(items)}")
        out.append(f"largest MQTT packet: {self.max_packet_bytes} bytes (--max-packet-bytes)")
        out.append(SIGNED_COMMANDS)
        out += [f"warning: {w}" for w in self.warnings]
        return out


def _station_sites_warning(devices: list[Device]) -> list[str]:
    """The one station login serves one running station (client id = user name), and a
    station serves one site: inlets on several sites cannot all be served at once."""
    sites = sorted({f"{d.prefix}/{d.site}" for d in devices if d.role == "inlet"})
    if len(sites) < 2:
        return []
    return [f"inlets on {len(sites)} sites ({', '.join(sites)}) share the one station login, "
            "and only one station can be connected with it at a time"]


def _write(path: Path, data: str | bytes, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
    os.chmod(path, mode)  # also when the file already existed with another mode


def _read_json(path: Path, validate=None):
    if not path.exists():
        return None
    try:
        obj = json.loads(path.read_text())
        return validate(obj, str(path)) if validate else obj
    except ValueError as e:  # ConfigError is a ValueError
        raise ValueError(f"{path}: existing file is not usable (fix or delete it): {e}") from e


def check_inputs(labelled: list[tuple[str, Device]], hosts: list[str], rotate: set[str],
                 conf_dir: str, listener: ListenerOptions) -> list[Device]:
    """The devices, if they and every other input are good; else FleetError naming each
    bad item (`labelled` pairs each device with where it came from, for the messages)."""
    errors = []
    devices = []
    try:
        devices = check_fleet(labelled)
    except FleetError as e:
        errors += e.errors
    errors += [e for e in (tls.check_host(h) for h in hosts) if e]
    if not hosts:
        errors.append("no host: give --host NAME (the name or address devices connect to)")
    errors += [f"--rotate {r!r}: must be one of {', '.join(ROTATABLE)}"
               for r in sorted(rotate) if r not in ROTATABLE]
    errors += conf_problems(conf_dir, listener)
    if errors:
        raise FleetError(errors)
    return devices


def _tls(out: Path, tmp: Path, hosts: list[str], rotate: bool, report: InitReport) -> None:
    have = [n for n in ("ca.key", "ca.crt") if (out / n).exists()]
    if have and len(have) < 2 and not rotate:
        raise ValueError(f"{out}: has {have[0]} but not its pair; restore it, or pass "
                         "--rotate tls to make a new CA (every device then needs the new ca.der)")
    if len(have) == 2 and not rotate:
        for n in ("ca.key", "ca.crt", "server.key", "server.crt"):
            if (out / n).exists():
                shutil.copy2(out / n, tmp / n)
        report.ca = "kept"
    else:
        tls.make_ca(tmp)
        report.ca = "new"
    why = tls.server_cert_problem(tmp, hosts)
    if why:
        tls.make_server_cert(tmp, hosts)
        report.server_cert = f"new ({why})"
    else:
        report.server_cert = "kept"
    tls.write_der(tmp / "ca.crt", tmp / "ca.der")


def _build(out: Path, tmp: Path, devices: list[Device], hosts: list[str], wifi: dict | None,
           rotate: set[str], listener: ListenerOptions, conf_dir: str,
           report: InitReport) -> None:
    _tls(out, tmp, hosts, "tls" in rotate, report)
    ca_der = (tmp / "ca.der").read_bytes()
    passwords = {}
    for d in devices:
        old = _read_json(out / "devices" / d.id / "secrets.json", config.load_secrets)
        sec = creds.device_secrets(d, old, wifi, "passwords" in rotate, "cmd-keys" in rotate)
        (report.kept_devices if old else report.new_devices).append(d.id)
        _write(tmp / "devices" / d.id / "secrets.json", json.dumps(sec, indent=2) + "\n", 0o600)
        _write(tmp / "devices" / d.id / "ca.der", ca_der)
        passwords[d.id] = sec["mqtt"]["password"]
    old_accounts = _read_json(out / "accounts.json") or {}
    accounts = {name: creds.account(name, old_accounts.get(name), "passwords" in rotate)
                for name in ACCOUNT_NAMES}
    _write(tmp / "accounts.json", json.dumps(accounts, indent=2) + "\n", 0o600)
    passwords.update({a["user"]: a["password"] for a in accounts.values()})
    creds.write_password_file(tmp / "passwd", passwords)
    _write(tmp / "acl", acl.render_acl(acl.fleet_rules(devices)), 0o600)
    _write(tmp / "mosquitto.conf", render_conf(conf_dir, listener))
    for n in SECRET_FILES:
        os.chmod(tmp / n, 0o600)
    if (out / "devices").is_dir():
        keep = {d.id for d in devices}
        report.removed_devices = sorted(p.name for p in (out / "devices").iterdir()
                                        if p.is_dir() and p.name not in keep)
    report.rotated = sorted(rotate)
    report.max_packet_bytes = listener.max_packet_bytes
    report.warnings = _station_sites_warning(devices)


def _give_group(tmp: Path, group: str) -> None:
    import grp  # POSIX only, and only needed here

    try:
        gid = grp.getgrnam(group).gr_gid
    except KeyError as e:
        raise ValueError(f"--group {group!r}: no such group on this machine") from e
    for n in BROKER_READS:
        os.chown(tmp / n, -1, gid)
        os.chmod(tmp / n, 0o640)


def _move_into_place(tmp: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for n in BROKER_FILES:
        os.replace(tmp / n, out / n)
    if (out / "devices").exists():
        os.replace(out / "devices", tmp / "devices.old")
    os.replace(tmp / "devices", out / "devices")


def init_broker_dir(out_dir: str | Path, devices: list[Device], hosts: list[str], *,
                    wifi: dict | None = None, rotate: set[str] | frozenset = frozenset(),
                    listener: ListenerOptions | None = None,
                    conf_dir: str | Path | None = None, group: str | None = None
                    ) -> InitReport:
    """Make (or refresh) OUT_DIR for a broker serving `devices` under the names `hosts`.

    conf_dir is where the files will live on the broker machine (default: OUT_DIR itself);
    group, if given, is the group the broker runs as (e.g. mosquitto), which then may read
    the files it needs. Raises FleetError/ValueError naming every bad input, RuntimeError
    when openssl or mosquitto_passwd fail; in every failure OUT_DIR is left untouched."""
    out = Path(out_dir).absolute()
    listener = listener or ListenerOptions()
    rotate = set(rotate)
    conf_dir = str(conf_dir or out)
    devices = check_inputs([(f"device {d.id!r}", d) for d in devices], list(hosts), rotate,
                           conf_dir, listener)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.build-", dir=out.parent))  # 0700
    try:
        report = InitReport(out)
        _build(out, tmp, devices, list(hosts), wifi, rotate, listener, conf_dir, report)
        if group:
            _give_group(tmp, group)
        _move_into_place(tmp, out)
        return report
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
