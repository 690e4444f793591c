"""Where the command keys are: the device folders an installer deploys (config.json and
secrets.json side by side), or the folder `street broker init` writes (devices/<id>/
secrets.json). A device folder also says where the device's topics are and its group, so a
command can reach a device that has not published yet, and a `set` is checked against the
device's whole config as the device will check it."""

import json
from dataclasses import dataclass
from pathlib import Path

from agent import config, sign


@dataclass
class KnownDevice:
    id: str
    key: bytes | None  # None: no command key (unsigned lab device)
    source: str  # the folder it came from, for messages
    raw_config: dict | None = None  # config.json as written, when the folder has one

    def place(self) -> tuple[str, str, str, str] | None:
        """(prefix, site, kind, group) from the config, or None without one."""
        cfg = self.raw_config
        if cfg is None:
            return None
        try:
            c = config.load(cfg)
        except ValueError:
            return None
        group = c["mqtt"]["group"] or c.get("inlet", {}).get("branch", "")
        return c["mqtt"]["prefix"], c["device"]["site"], c["device"]["role"], group


class KeysError(ValueError):
    pass


def _read(path: Path, what: str):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise KeysError("%s: cannot read %s: %s" % (path, what, e)) from e


def _device(folder: Path) -> KnownDevice:
    secrets_obj = _read(folder / "secrets.json", "the device's secrets")
    try:
        secrets = config.load_secrets(secrets_obj, str(folder / "secrets.json"))
    except ValueError as e:
        raise KeysError(str(e).replace("\n", " ")) from e
    raw = _read(folder / "config.json", "the config") if (folder / "config.json").exists() \
        else None
    dev_id = folder.name
    if isinstance(raw, dict) and isinstance(raw.get("device"), dict) and \
            isinstance(raw["device"].get("id"), str):
        dev_id = raw["device"]["id"]
    return KnownDevice(dev_id, sign.key_from_hex(secrets["cmd"]["key"]), str(folder),
                       raw if isinstance(raw, dict) else None)


def _folders(path: Path) -> list[Path]:
    if (path / "secrets.json").exists():
        return [path]  # one device folder
    if (path / "devices").is_dir():
        path = path / "devices"  # a `street broker init` folder
    if not path.is_dir():
        raise KeysError("%s: not a folder" % path)
    found = sorted(p for p in path.iterdir() if (p / "secrets.json").exists())
    if not found:
        raise KeysError("%s: no device folder (secrets.json) in it" % path)
    return found


def load(paths: list[str]) -> dict[str, KnownDevice]:
    """Every device under `paths` (device folders, folders of them, broker init folders).
    A device found twice takes the later path's files, merged: a broker folder's key with an
    install folder's config."""
    out: dict[str, KnownDevice] = {}
    for p in paths:
        for folder in _folders(Path(p)):
            d = _device(folder)
            old = out.get(d.id)
            if old is not None and d.raw_config is None:
                d.raw_config = old.raw_config
            out[d.id] = d
    return out
