"""Which devices the broker knows: parsed from `id:role[:group]` arguments or a fleet JSON file
and checked with the firmware's own config schema, every problem reported at once."""

import json
from dataclasses import dataclass
from pathlib import Path

from agent import config

# Broker accounts that are not devices; a device may not take one of these user names.
OPERATOR = "operator"  # commands: reads the fleet, writes device and group cmd topics
MONITOR = "monitor"  # dashboards and loggers: reads what the operator reads, writes nothing
STATION = "station"  # the vacuum station coordinator
ACCOUNT_NAMES = (OPERATOR, MONITOR, STATION)


NO_DEVICES = "no devices: give --device id:role[:group] or --fleet FILE"


class FleetError(ValueError):
    def __init__(self, errors: list[str]):
        self.errors = errors
        super().__init__("bad fleet:\n  " + "\n  ".join(errors))


@dataclass(frozen=True)
class Device:
    id: str
    role: str  # the topic "kind"
    site: str
    prefix: str
    group: str = ""


def _spec(section: str, name: str):
    return config.CONFIG[section][name]


def device_problems(d: Device) -> list[str]:
    """What is wrong with one device, each message naming the field (empty when fine)."""
    out = []
    for field, section, name, value in (
        ("id", "device", "id", d.id),
        ("role", "device", "role", d.role),
        ("site", "device", "site", d.site),
        ("prefix", "mqtt", "prefix", d.prefix),
        ("group", "mqtt", "group", d.group),
    ):
        err = config.field_error(_spec(section, name), value)
        if err:
            out.append(f"{field}: {err}")
    if d.id in config.RESERVED_IDS:
        out.append(f"id: {d.id!r} is reserved for group topics")
    if d.id in ACCOUNT_NAMES:
        out.append(f"id: {d.id!r} is the broker account of the {d.id}, not a device")
    return out


def check_fleet(devices: list[tuple[str, Device]]) -> list[Device]:
    """Validate (label, device) pairs; the label says where the device came from, for errors.
    Raises FleetError listing every bad item; returns the devices in order."""
    errors = []
    seen: dict[str, str] = {}
    for label, d in devices:
        for problem in device_problems(d):
            errors.append(f"{label}: {problem}")
        if d.id in seen:
            # The device id is its MQTT user name, so it must be unique across sites too.
            errors.append(f"{label}: duplicate device id {d.id!r} (also {seen[d.id]})")
        else:
            seen[d.id] = label
    if not devices:
        errors.append(NO_DEVICES)
    if errors:
        raise FleetError(errors)
    return [d for _, d in devices]


def parse_device_arg(arg: str, site: str, prefix: str) -> Device:
    """`id:role[:group]` as typed on the command line (validated later by check_fleet)."""
    parts = arg.split(":")
    if len(parts) not in (2, 3):
        raise FleetError([f"--device {arg!r}: expected id:role or id:role:group"])
    return Device(parts[0], parts[1], site, prefix, parts[2] if len(parts) == 3 else "")


def load_fleet_file(path: str | Path, site: str, prefix: str) -> tuple[list[tuple[str, Device]],
                                                                      dict | None]:
    """A fleet file: {"site", "prefix", "wifi": {"ssid", "password"}, "devices": [{"id",
    "role", "group", "site", "prefix"}, ...]}. Top-level site/prefix override the command
    line defaults; a device's own site/prefix override both. Returns (labelled devices, wifi)."""
    try:
        obj = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise FleetError([f"{path}: cannot read: {e}"]) from e
    if not isinstance(obj, dict) or not isinstance(obj.get("devices"), list):
        raise FleetError([f"{path}: must be a JSON object with a \"devices\" list"])
    site = obj.get("site", site)
    prefix = obj.get("prefix", prefix)
    known = {"id", "role", "group", "site", "prefix"}
    out, errors = [], []
    for i, item in enumerate(obj["devices"]):
        label = f"{path}: devices[{i}]"
        if not isinstance(item, dict):
            errors.append(f"{label}: must be an object, got {item!r}")
            continue
        label += f" {item.get('id')!r}"
        for k in item:
            if k not in known:
                errors.append(f"{label}: unknown field {k!r} (known: {', '.join(sorted(known))})")
        out.append((label, Device(item.get("id"), item.get("role"), item.get("site", site),
                                  item.get("prefix", prefix), item.get("group", ""))))
    if errors:
        raise FleetError(errors)
    wifi = obj.get("wifi")
    if wifi is not None and not isinstance(wifi, dict):
        raise FleetError([f"{path}: wifi must be an object with ssid and password"])
    return out, wifi
