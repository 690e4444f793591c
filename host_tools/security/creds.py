"""Per-device and per-account secrets, and the Mosquitto password file made from them.

Passwords are only ever stored in plain text where their owner needs them (a device's
secrets.json, accounts.json): the broker's password file holds salted PBKDF2 hashes made by
Mosquitto's own `mosquitto_passwd`, so the hash format always matches the broker."""

import os
import secrets
import shutil
import subprocess
from pathlib import Path

from agent import config

from .fleet import Device


class SecretFileError(ValueError):
    """One line: a file meant to hold a password that cannot be read."""


def read_secret(path: str, option: str) -> str:
    """A password from a file (so it never stands on a command line, where ps shows it). The
    final newline an editor or `echo` leaves is not part of it."""
    try:
        return Path(path).read_text().rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as e:
        raise SecretFileError(f"{option} {path}: cannot read: {e}") from e


PASSWORD_BYTES = 24  # token_urlsafe(24) gives 32 characters
KEY_BYTES = 32  # HMAC-SHA256 command key


def new_password() -> str:
    return secrets.token_urlsafe(PASSWORD_BYTES)


def new_cmd_key() -> str:
    return secrets.token_hex(KEY_BYTES)


def device_secrets(d: Device, existing: dict | None, wifi: dict | None,
                   rotate_passwords: bool = False, rotate_keys: bool = False) -> dict:
    """A device's secrets.json object. An existing (already validated) one keeps its Wi-Fi,
    password and command key unless asked to rotate; `wifi` given here replaces its Wi-Fi."""
    old = existing or {}
    old_mqtt = old.get("mqtt", {})
    password = old_mqtt.get("password", "")
    if rotate_passwords or not password or old_mqtt.get("user") != d.id:
        password = new_password()
    key = old.get("cmd", {}).get("key", "")
    if rotate_keys or not key:
        key = new_cmd_key()
    w = wifi if wifi and wifi.get("ssid") else old.get("wifi")
    if not w or not w.get("ssid"):
        raise ValueError(f"device {d.id!r}: no Wi-Fi SSID: pass --wifi-ssid (or \"wifi\" in "
                         "the fleet file)")
    out = {
        "wifi": {"ssid": w["ssid"], "password": w.get("password", "")},
        "mqtt": {"user": d.id, "password": password},
        "cmd": {"key": key},
    }
    config.load_secrets(out, f"secrets.json of {d.id}")  # the device's own schema is the judge
    return out


def account(name: str, existing: dict | None, rotate: bool = False) -> dict:
    """An operator/station account {"user", "password"}, keeping an existing password."""
    password = (existing or {}).get("password", "")
    if rotate or not isinstance(password, str) or len(password) < 16:
        password = new_password()
    return {"user": name, "password": password}


def mosquitto_passwd_exe() -> str:
    path = os.environ.get("PATH", "") + os.pathsep + "/usr/sbin:/usr/local/sbin"
    exe = shutil.which("mosquitto_passwd", path=path)
    if not exe:
        raise RuntimeError("mosquitto_passwd not found: install the mosquitto package")
    return exe


def write_password_file(path: Path, users: dict[str, str]) -> None:
    """Write Mosquitto's password file for {user: password} at `path`, hashed.

    The plain `user:password` lines exist only briefly, in a 0600 file inside the caller's
    private (0700) build folder, and `mosquitto_passwd -U` hashes them all in one run (one
    process for the whole fleet instead of one per device)."""
    for user in users:
        if ":" in user or "\n" in user or not user:
            raise ValueError(f"user name {user!r} cannot go in a Mosquitto password file")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.writelines(f"{u}:{p}\n" for u, p in users.items())
    run = subprocess.run([mosquitto_passwd_exe(), "-U", str(path)], capture_output=True,
                         text=True, timeout=60)
    lines = path.read_text().splitlines()
    hashed = all(line.split(":", 1)[1].startswith("$") for line in lines if ":" in line)
    if run.returncode != 0 or len(lines) != len(users) or not hashed:
        path.unlink(missing_ok=True)  # never leave plain passwords behind
        raise RuntimeError(f"mosquitto_passwd -U failed: {run.stderr.strip() or run.stdout}")
    os.chmod(path, 0o600)
