"""The broker side of security, against a real Mosquitto running the files `street broker init`
makes: per-device passwords, the ACL from the topic scheme, and TLS with our own CA.

Negative checks use a fence instead of a sleep: after a message that must NOT arrive, the same
client sends one that must. The broker keeps one client's messages in order, so once the fence
arrives the forbidden message would already have arrived had it been let through."""

import itertools
import json
import queue
import ssl
import stat
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from agent import config, topics
from host_tools.cli import main
from host_tools.security import Device, init_broker_dir, start_secure_broker, tls
from host_tools.security.acl import station_root

P, S = "city", "main"
A = Device("pole-1", "streetlight", S, P, "elm")
B = Device("pole-2", "streetlight", S, P, "elm")
C = Device("pole-9", "streetlight", S, P, "oak")
BIN1 = Device("bin-1", "inlet", S, P, "br-a")
BIN2 = Device("bin-2", "inlet", S, P, "br-a")
FLEET = [A, B, C, BIN1, BIN2]
WAIT_S = 5
_ids = itertools.count()


def t(d: Device):
    """A device's topics as str (agent.topics builds them as bytes for umqtt)."""
    tp = topics.Topics(d.prefix, d.site, d.role, d.id, d.group)
    return {k: v.decode() for k, v in vars(tp).items() if v is not None}


@pytest.fixture(scope="module")
def sb():
    # The certificate names only "localhost", so 127.0.0.1 is a name it does not carry.
    b = start_secure_broker(FLEET, hosts=("localhost",))
    try:
        yield b
    finally:
        b.close()


def _paho(user=None, password=None, ctx=None):
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"t{next(_ids)}")
    if user is not None:
        c.username_pw_set(user, password)
    if ctx is not None:
        c.tls_set_context(ctx)
    return c


def connack(port, user, password, host="127.0.0.1", ctx=None):
    """The CONNACK reason code the broker answers a login with."""
    c = _paho(user, password, ctx)
    codes = []
    c.on_connect = lambda cl, ud, flags, rc, props: codes.append(rc)
    c.connect(host, port, keepalive=30)
    # Our own loop, not loop_start(): paho's thread would wait to reconnect after a refusal.
    deadline = time.monotonic() + WAIT_S
    while not codes and time.monotonic() < deadline:
        c.loop(timeout=0.05)
    c.disconnect()
    assert codes, "no CONNACK"
    return codes[0]


class Session:
    """A logged-in paho client with an inbox."""

    def __init__(self, sb, name, password=None, host="127.0.0.1", port=None, ctx=None):
        user, pw = sb.login(name)
        self.inbox: queue.Queue = queue.Queue()
        self.c = _paho(user, password or pw, ctx)
        self.c.on_message = lambda cl, ud, m: self.inbox.put((m.topic, m.payload.decode()))
        connected, codes = threading.Event(), []
        self.c.on_connect = lambda cl, ud, flags, rc, props: (codes.append(rc), connected.set())
        self._subacks: dict[int, list] = {}
        self._subacked = threading.Condition()
        self.c.on_subscribe = self._on_subscribe
        self.c.connect(host, port or sb.port, keepalive=30)
        self.c.loop_start()
        assert connected.wait(WAIT_S) and not codes[0].is_failure, f"{name}: {codes}"

    def _on_subscribe(self, cl, ud, mid, codes, props):
        with self._subacked:
            self._subacks[mid] = codes
            self._subacked.notify_all()

    def sub(self, *filters):
        """Subscribe (QoS 1) and wait for the SUBACK; returns its reason codes."""
        _, mid = self.c.subscribe([(f, 1) for f in filters])
        with self._subacked:
            assert self._subacked.wait_for(lambda: mid in self._subacks, WAIT_S), "no SUBACK"
            return self._subacks[mid]

    def pub(self, topic, payload, retain=False):
        self.c.publish(topic, payload, qos=1, retain=retain)

    def until(self, topic, payload):
        """Every message received up to and including (topic, payload); fails without it."""
        seen = []
        while (topic, payload) not in seen:
            try:
                seen.append(self.inbox.get(timeout=WAIT_S))
            except queue.Empty:
                pytest.fail(f"never received {payload!r} on {topic}; got {seen}")
        return seen

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


@pytest.fixture
def sessions(sb):
    opened = []

    def open_(name, **kw):
        s = Session(sb, name, **kw)
        opened.append(s)
        return s

    yield open_
    for s in opened:
        s.close()


@pytest.fixture
def monitor(sessions):
    m = sessions("operator")
    m.sub(f"{P}/#")
    return m


# ---- devices and accounts on the real broker ----------------------------------------------

def test_device_publishes_its_state_and_the_operator_receives_it(sessions, monitor):
    a = sessions(A.id)
    a.pub(t(A)["state"], "on")
    assert (t(A)["state"], "on") in monitor.until(t(A)["state"], "on")


def test_device_cannot_publish_on_topics_that_are_not_its_own(sessions, monitor):
    a = sessions(A.id)
    forged = [t(B)["state"], t(B)["status"], t(B)["cmd_ack"],
              t(A)["cmd"], t(A)["group_cmd"], t(C)["group_peer"], t(BIN1)["group_peer"]]
    for topic in forged:
        a.pub(topic, "forged")
    a.pub(t(A)["state"], "fence")
    seen = monitor.until(t(A)["state"], "fence")
    assert [m for m in seen if m[1] == "forged"] == []


def test_device_reads_nothing_of_other_devices_even_subscribing_to_everything(sessions,
                                                                              monitor):
    b, c, op = sessions(B.id), sessions(C.id), sessions("operator")
    b.pub(t(B)["state"], "b-retained", retain=True)
    c.pub(t(C)["group_peer"], "oak-motion")
    monitor.until(t(C)["group_peer"], "oak-motion")  # both are routed by now
    a = sessions(A.id)
    # Mosquitto 2.0 grants any subscription and checks `read` on each message it delivers.
    a.sub(t(B)["cmd"], "#", f"{P}/#", topics.device_filter(P, S, B.role, B.id),
          topics.fleet_filter(P))
    for topic in (t(B)["cmd"], t(C)["group_cmd"], t(BIN1)["cmd"]):
        op.pub(topic, "not-for-a")
    op.pub(t(A)["cmd"], "fence")
    seen = a.until(t(A)["cmd"], "fence")
    allowed = set(topics.acl_read(P, S, A.role, A.id, A.group))
    assert {topic for topic, _ in seen} <= allowed, seen


def test_device_receives_its_commands_and_its_groups_messages(sessions):
    a, b, op = sessions(A.id), sessions(B.id), sessions("operator")
    a.sub(*[s.decode() for s in topics.Topics(P, S, A.role, A.id, A.group).subscriptions()])
    b.pub(t(B)["group_peer"], "motion")
    op.pub(t(A)["group_cmd"], "dim")
    op.pub(t(A)["cmd"], "on")
    # Two publishers: no order between them, so wait for each message in turn.
    seen = a.until(t(A)["group_peer"], "motion")
    if (t(A)["cmd"], "on") not in seen:
        seen += a.until(t(A)["cmd"], "on")
    assert (t(A)["group_cmd"], "dim") in seen


def test_wrong_password_unknown_user_and_anonymous_are_refused(sb):
    user, password = sb.login(A.id)
    assert connack(sb.port, user, password).value == 0  # the control: right password works
    assert connack(sb.port, user, password + "x") == "Not authorized"
    assert connack(sb.port, user, sb.login(B.id)[1]) == "Not authorized"  # B's password
    assert connack(sb.port, "pole-77", password) == "Not authorized"
    assert connack(sb.port, None, None) == "Not authorized"


def test_inlet_cannot_grant_on_its_branch_but_the_station_can(sessions, monitor):
    bin1, bin2, station = sessions(BIN1.id), sessions(BIN2.id), sessions("station")
    bin2.sub(*[s.decode() for s in topics.Topics(P, S, "inlet", BIN2.id, "br-a").subscriptions()])
    bin1.pub(t(BIN1)["group_peer"], "forged-grant")
    bin1.pub(t(BIN1)["state"], "fence")
    assert (t(BIN1)["group_peer"], "forged-grant") not in monitor.until(t(BIN1)["state"],
                                                                         "fence")
    station.pub(t(BIN2)["group_peer"], "grant")
    assert bin2.until(t(BIN2)["group_peer"], "grant") == [(t(BIN2)["group_peer"], "grant")]


def test_station_reads_inlets_and_writes_only_grants_and_its_own_topics(sessions, monitor):
    station, bin1 = sessions("station"), sessions(BIN1.id)
    station.sub("#")
    for topic in (t(A)["group_peer"], t(A)["cmd"], t(BIN1)["state"]):
        station.pub(topic, "forged")
    own = station_root(P, S) + "status"
    station.pub(own, "online")
    assert [m for m in monitor.until(own, "online") if m[1] == "forged"] == []
    bin1.pub(t(BIN1)["telemetry"], "fill=0.7")
    sessions(A.id).pub(t(A)["state"], "a-state")
    monitor.until(t(A)["state"], "a-state")
    bin1.pub(t(BIN1)["event"], "fence")
    seen = station.until(t(BIN1)["event"], "fence")
    assert (t(BIN1)["telemetry"], "fill=0.7") in seen
    assert all(topic.startswith(f"{P}/{S}/inlet/") or topic.startswith(station_root(P, S))
               for topic, _ in seen), seen


def test_operator_commands_but_cannot_forge_device_state(sessions, monitor):
    op = sessions("operator")
    op.pub(t(A)["state"], "forged")
    op.pub(t(BIN1)["group_peer"], "forged")
    op.pub(t(A)["cmd"], "fence")
    assert [m for m in monitor.until(t(A)["cmd"], "fence") if m[1] == "forged"] == []


# ---- TLS --------------------------------------------------------------------------------

def device_context(ca_der: bytes) -> ssl.SSLContext:
    """What a device does: trust only our CA, given as DER bytes, and check the host name."""
    ctx = ssl.create_default_context(cadata=ca_der)
    assert ctx.check_hostname and ctx.verify_mode == ssl.CERT_REQUIRED
    return ctx


def test_tls_with_our_ca_and_the_certified_name_connects(sb, sessions, monitor):
    a = sessions(A.id, host="localhost", port=sb.tls_port, ctx=device_context(sb.ca_der))
    assert a.c.socket().version() in ("TLSv1.2", "TLSv1.3")
    a.pub(t(A)["telemetry"], "over-tls")
    monitor.until(t(A)["telemetry"], "over-tls")  # same broker, same accounts and ACL
    assert connack(sb.tls_port, None, None, "localhost", device_context(sb.ca_der)) == \
        "Not authorized"


def test_tls_with_another_ca_is_refused(sb, tmp_path):
    tls.make_ca(tmp_path, "someone else's CA")
    other = ssl.PEM_cert_to_DER_cert((tmp_path / "ca.crt").read_text())
    user, password = sb.login(A.id)
    with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
        connack(sb.tls_port, user, password, "localhost", device_context(other))


def test_tls_to_a_name_not_in_the_certificate_is_refused(sb):
    user, password = sb.login(A.id)
    with pytest.raises(ssl.SSLCertVerificationError, match="IP address mismatch"):
        connack(sb.tls_port, user, password, "127.0.0.1", device_context(sb.ca_der))


# ---- the generated folder ---------------------------------------------------------------

def _init(out, *extra):
    return main(["broker", "init", str(out), "--host", "broker.example", "--host", "10.0.0.5",
                 "--device", "pole-1:streetlight:elm", "--device", "bin-1:inlet:br-a",
                 *extra])


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_init_writes_the_documented_layout(tmp_path, capsys):
    out = tmp_path / "broker"
    assert _init(out, "--wifi-ssid", "street", "--wifi-password", "pw12345678") == 0
    assert sorted(_snapshot(out)) == sorted([
        "mosquitto.conf", "passwd", "acl", "ca.crt", "ca.key", "ca.der", "server.crt",
        "server.key", "accounts.json", "devices/pole-1/secrets.json", "devices/pole-1/ca.der",
        "devices/bin-1/secrets.json", "devices/bin-1/ca.der"])
    for secret in ("ca.key", "server.key", "passwd", "accounts.json",
                   "devices/pole-1/secrets.json"):
        assert _mode(out / secret) == 0o600, secret
    passwd = (out / "passwd").read_text()
    accounts = json.loads((out / "accounts.json").read_text())
    for dev in ("pole-1", "bin-1"):
        raw = json.loads((out / "devices" / dev / "secrets.json").read_text())
        sec = config.load_secrets(raw)
        assert sec["mqtt"]["user"] == dev and len(sec["mqtt"]["password"]) >= 24
        assert len(bytes.fromhex(sec["cmd"]["key"])) == 32
        assert sec["wifi"] == {"ssid": "street", "password": "pw12345678"}
        assert sec["mqtt"]["password"] not in passwd  # hashed, never plain
        assert f"{dev}:$7$" in passwd
        assert (out / "devices" / dev / "ca.der").read_bytes() == (out / "ca.der").read_bytes()
    assert set(accounts) == {"operator", "station"}
    assert all(a["password"] not in passwd for a in accounts.values())
    assert tls.cert_hosts(out / "server.crt") == {"broker.example", "10.0.0.5"}
    conf = (out / "mosquitto.conf").read_text()
    for line in ("allow_anonymous false", f"password_file {out}/passwd", f"acl_file {out}/acl",
                 "listener 8883", f"keyfile {out}/server.key", "tls_version tlsv1.2"):
        assert line + "\n" in conf
    block = (out / "acl").read_text().split("user pole-1\n")[1].split("\n\n")[0]
    rights = dict(reversed(line.split()[1:]) for line in block.splitlines())
    want = {tp: "write" for tp in topics.acl_write(P, S, "streetlight", "pole-1", "elm")}
    want["homeassistant/+/pole-1/+/config"] = "write"  # its own discovery documents only
    for tp in topics.acl_read(P, S, "streetlight", "pole-1", "elm"):
        want[tp] = "readwrite" if tp in want else "read"
    assert rights == want
    assert "new devices: pole-1, bin-1" in capsys.readouterr().out


def test_rerun_keeps_everything_and_rotate_replaces_only_what_is_asked(tmp_path):
    out = tmp_path / "broker"
    assert _init(out, "--wifi-ssid", "street") == 0
    first = _snapshot(out)
    assert _init(out) == 0  # no --wifi-ssid: the devices keep theirs
    again = _snapshot(out)
    for name in first:
        if name != "passwd":  # re-hashed with new salts
            assert again[name] == first[name], name
    assert _init(out, "--rotate", "passwords") == 0
    rotated = _snapshot(out)
    old, new = (json.loads(s["devices/pole-1/secrets.json"]) for s in (first, rotated))
    assert new["mqtt"]["password"] != old["mqtt"]["password"]
    assert new["cmd"] == old["cmd"] and new["wifi"] == old["wifi"]
    assert json.loads(rotated["accounts.json"]) != json.loads(first["accounts.json"])
    assert rotated["ca.key"] == first["ca.key"]
    assert _init(out, "--rotate") == 0  # everything
    all_new = _snapshot(out)
    assert all_new["ca.key"] != first["ca.key"] and all_new["server.key"] != first["server.key"]
    assert json.loads(all_new["devices/pole-1/secrets.json"])["cmd"] != old["cmd"]


def test_new_host_reissues_the_server_certificate_with_the_same_ca(tmp_path):
    out = tmp_path / "broker"
    init_broker_dir(out, [A], ["localhost"], wifi={"ssid": "x"})
    ca = (out / "ca.crt").read_bytes()
    report = init_broker_dir(out, [A], ["localhost", "192.0.2.7"])
    assert report.ca == "kept" and report.server_cert.startswith("new")
    assert (out / "ca.crt").read_bytes() == ca
    assert tls.cert_hosts(out / "server.crt") == {"localhost", "192.0.2.7"}


def test_bad_input_names_each_item_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "broker"
    assert _init(out, "--wifi-ssid", "street") == 0
    before = _snapshot(out)
    capsys.readouterr()
    rc = main(["broker", "init", str(out), "--host", "bad host!", "--device", "pole 1:streetlight",
               "--device", "bin-1:inlet", "--device", "bin-1:streetlight", "--device", "x:lamp",
               "--device", "station:inlet", "--device", "y:inlet:a:b"])
    text = capsys.readouterr().out
    assert rc == 2
    for needle in ("'pole 1'", "duplicate device id 'bin-1'", "got 'lamp'",
                   "'station' is the broker account", "'y:inlet:a:b'", "host 'bad host!'",
                   "nothing was written"):
        assert needle in text, needle
    assert _snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broker"]  # no temp dir left


def test_a_failure_while_building_leaves_the_folder_as_it_was(tmp_path, capsys):
    out = tmp_path / "broker"
    assert _init(out, "--wifi-ssid", "street") == 0
    before = _snapshot(out)
    # A new device with no Wi-Fi given: found only after the CA and others are made.
    assert _init(out, "--device", "pole-3:streetlight", "--rotate") == 2
    assert "device 'pole-3': no Wi-Fi SSID" in capsys.readouterr().out
    assert _snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broker"]


def test_fleet_file_with_two_sites(tmp_path):
    fleet = tmp_path / "fleet.json"
    fleet.write_text(json.dumps({
        "prefix": "town", "wifi": {"ssid": "street"},
        "devices": [{"id": "p1", "role": "streetlight", "site": "north", "group": "g1"},
                    {"id": "b1", "role": "inlet", "site": "south", "group": "br"}]}))
    out = tmp_path / "broker"
    assert main(["broker", "init", str(out), "--host", "localhost", "--fleet", str(fleet)]) == 0
    acl = (out / "acl").read_text()
    assert "topic write town/north/streetlight/p1/state\n" in acl
    assert "topic read town/south/inlet/#\n" in acl  # the station, for the inlets' site
    assert "topic write town/south/inlet/group/+/peer\n" in acl
    assert "topic read town/#\n" in acl  # the operator
