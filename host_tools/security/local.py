"""A locked-down Mosquitto for tests: the production files from init_broker_dir, served on two
free loopback ports (plain and TLS), stopped by PID. What a test needs to log in as anyone is
returned with it."""

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from host_tools.broker import Broker, free_port

from .build import init_broker_dir
from .conf import ListenerOptions, render_conf
from .fleet import Device

TEST_HOSTS = ("localhost", "127.0.0.1")


@dataclass
class SecureBroker:
    broker: Broker
    dir: Path  # the generated files (mosquitto.conf, passwd, acl, ca.*, server.*, devices/)
    port: int  # plain MQTT on 127.0.0.1, same passwords and ACL
    tls_port: int  # TLS on 127.0.0.1, server certificate for the hosts given
    secrets: dict[str, dict]  # device id -> its secrets.json object
    accounts: dict[str, dict]  # "operator"/"monitor"/"station" -> {"user", "password"}
    _tmp: tempfile.TemporaryDirectory

    @property
    def ca_crt(self) -> Path:
        return self.dir / "ca.crt"

    @property
    def ca_der(self) -> bytes:
        return (self.dir / "ca.der").read_bytes()

    def login(self, name: str) -> tuple[str, str]:
        """(user, password) of a device id, "operator", "monitor" or "station"."""
        entry = self.accounts.get(name) or self.secrets[name]["mqtt"]
        return entry["user"], entry["password"]

    def close(self) -> None:
        self.broker.close()
        self._tmp.cleanup()

    def __enter__(self) -> "SecureBroker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def start_secure_broker(devices: list[Device], hosts=TEST_HOSTS,
                        wifi_ssid: str = "street-test") -> SecureBroker:
    tmp = tempfile.TemporaryDirectory(prefix="street-broker-")
    try:
        folder = Path(tmp.name) / "broker"
        init_broker_dir(folder, devices, list(hosts), wifi={"ssid": wifi_ssid})
        port, tls_port = free_port(), free_port()
        conf = render_conf(folder, ListenerOptions(tls_port=tls_port, tls_bind="127.0.0.1",
                                                   plain_port=port, persistence=False))
        broker = Broker(port=port, conf=conf, tls_port=tls_port).start()
    except BaseException:
        tmp.cleanup()
        raise
    secrets = {d.id: json.loads((folder / "devices" / d.id / "secrets.json").read_text())
               for d in devices}
    accounts = json.loads((folder / "accounts.json").read_text())
    return SecureBroker(broker, folder, port, tls_port, secrets, accounts, tmp)
