"""The broker side of security, against a real Mosquitto running the files `street broker init`
makes: per-device passwords, the ACL from the topic scheme, and TLS with our own CA.

Negative checks use a fence instead of a sleep: after a message that must NOT arrive, the same
client sends one that must. The broker keeps one client's messages in order, so once the fence
arrives the forbidden message would already have arrived had it been let through."""

import itertools
import json
import os
import queue
import shutil
import ssl
import stat
import subprocess
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from agent import config, sign, topics
from host_tools.cli import main
from host_tools.security import Device, init_broker_dir, start_secure_broker, tls
from host_tools.security.acl import station_root
from host_tools.station.service import StationService

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


def _paho(user=None, password=None, ctx=None, client_id=None):
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or f"t{next(_ids)}")
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
    """A logged-in paho client with an inbox; `will` is (topic, payload), retained;
    `drops` counts the times the broker closed the connection."""

    def __init__(self, sb, name, password=None, host="127.0.0.1", port=None, ctx=None,
                 client_id=None, will=None):
        user, pw = sb.login(name)
        self.inbox: queue.Queue = queue.Queue()
        self.c = _paho(user, password or pw, ctx, client_id)
        if will:
            self.c.will_set(will[0], will[1], qos=1, retain=True)
        self.c.on_message = lambda cl, ud, m: self.inbox.put((m.topic, m.payload.decode()))
        self.drops = 0
        self.dropped = threading.Event()
        self.c.on_disconnect = self._on_disconnect
        connected, codes = threading.Event(), []
        self.c.on_connect = lambda cl, ud, flags, rc, props: (codes.append(rc), connected.set())
        self._subacks: dict[int, list] = {}
        self._subacked = threading.Condition()
        self.c.on_subscribe = self._on_subscribe
        self.c.connect(host, port or sb.port, keepalive=30)
        self.c.loop_start()
        assert connected.wait(WAIT_S) and not codes[0].is_failure, f"{name}: {codes}"

    def _on_disconnect(self, cl, ud, flags, rc, props):
        if rc.is_failure:  # not our own disconnect()
            self.drops += 1
            self.dropped.set()

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

    def pub_acked(self, topic, payload, retain=False):
        """Publish (QoS 1) and wait for the broker's PUBACK, which it sends once it has
        routed the message (or dropped it, against the ACL)."""
        info = self.c.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(WAIT_S)
        assert info.is_published(), f"no PUBACK for {topic}"

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
    """The fleet monitor's own login: it and the operator's command tool can be connected at
    once (one login is one client id, so two clients sharing it would knock each other off)."""
    m = sessions("monitor")
    m.sub(f"{P}/#")
    return m


# ---- devices and accounts on the real broker ----------------------------------------------

def test_device_publishes_its_state_and_the_monitor_receives_it(sessions, monitor):
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


def test_monitor_reads_the_fleet_but_cannot_command_it(sessions, monitor):
    a, op = sessions(A.id), sessions("operator")
    a.sub(t(A)["cmd"], t(A)["group_cmd"])
    for topic in (t(A)["cmd"], t(A)["group_cmd"], t(A)["state"]):
        # The PUBACK comes once the broker has dealt with the message: a fence from another
        # client published after it would arrive after the message, had it been let through.
        monitor.pub_acked(topic, "from-monitor")
    op.pub(t(A)["cmd"], "fence")
    assert [m for m in a.until(t(A)["cmd"], "fence") if m[1] == "from-monitor"] == []
    assert [m for m in monitor.until(t(A)["cmd"], "fence") if m[1] == "from-monitor"] == []


# ---- a login is its own client id ---------------------------------------------------------

def test_a_login_cannot_take_over_the_sessions_of_others(sb, sessions, monitor):
    """pole-1's login asking for the client ids of pole-2, the station, the operator and the
    monitor only ever gets a session of its own: none of them is knocked off, and no last
    will says they went offline."""
    b = sessions(B.id, will=(t(B)["status"], "offline"))
    b.sub(t(B)["cmd"])
    op = sessions("operator")
    user, password = sb.login("station")
    station = StationService("127.0.0.1", sb.port, P, S, user=user, password=password)
    station_status = station_root(P, S) + "status"
    try:
        station.start()  # the real service: persistent session, will on its status
        seen = monitor.until(station_status, "online")
        for cid in (B.id, "station", f"station-{P}-{S}", "operator", "monitor"):
            intruder = sessions(A.id, client_id=cid)  # its own password: it is let in
            # Had the broker handed it the session `cid`, the owner would be knocked off
            # (and its will published) before this fence.
            intruder.pub(t(A)["state"], f"fence-{cid}")
            seen += monitor.until(t(A)["state"], f"fence-{cid}")
            intruder.close()
        assert [m for m in seen if m[1] == "offline"] == []
        op.pub(t(B)["cmd"], "still-there")
        assert b.until(t(B)["cmd"], "still-there") == [(t(B)["cmd"], "still-there")]
        assert (b.drops, op.drops, monitor.drops) == (0, 0, 0)
        assert station.client.is_connected() and station.refusal is None
    finally:
        station.stop()


# ---- oversize packets and retained commands ----------------------------------------------

def test_oversize_commands_never_reach_the_device_which_stays_connected(sessions, monitor):
    a = sessions(A.id, will=(t(A)["status"], "offline"))
    a.sub(t(A)["cmd"])
    for size in (100_000, 1_000_000):
        op = sessions("operator")
        op.pub(t(A)["cmd"], "x" * size)
        assert op.dropped.wait(WAIT_S), f"the sender of {size} bytes was not dropped"
        op.close()  # else paho reconnects it, as the next operator, and knocks that one off
    op = sessions("operator")
    largest = "s" * sign.WRAPPER_MAX_BYTES  # the largest signed command a device takes
    op.pub(t(A)["cmd"], largest)
    op.pub(t(A)["cmd"], "fence")
    assert a.until(t(A)["cmd"], "fence") == [(t(A)["cmd"], largest), (t(A)["cmd"], "fence")]
    assert a.drops == 0
    assert (t(A)["status"], "offline") not in monitor.until(t(A)["cmd"], "fence")


def test_a_retained_command_is_cleared_with_mosquitto_pub(sb, sessions, tmp_path):
    """What docs/broker.md tells an operator to do: `mosquitto_pub -r -n -t <cmd topic>`
    with the operator login (from mosquitto_pub's config file, not the command line)."""
    exe = shutil.which("mosquitto_pub")
    assert exe, "mosquitto_pub not found: run `make setup` (package mosquitto-clients)"
    cmd = t(C)["cmd"]
    op = sessions("operator")
    op.pub_acked(cmd, "reboot", retain=True)
    op.close()  # one login, one client: mosquitto_pub is about to be the operator
    before = sessions(C.id)
    before.sub(cmd)
    assert before.until(cmd, "reboot") == [(cmd, "reboot")]  # what every reconnect would get
    before.close()
    user, password = sb.login("operator")
    (tmp_path / "mosquitto_pub").write_text(f"-u {user}\n-P {password}\n")
    run = subprocess.run([exe, "-h", "127.0.0.1", "-p", str(sb.port), "-r", "-n", "-t", cmd],
                         env={**os.environ, "XDG_CONFIG_HOME": str(tmp_path)},
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stderr
    after = sessions(C.id)
    after.sub(cmd)
    sessions("operator").pub(cmd, "fence")
    assert after.until(cmd, "fence") == [(cmd, "fence")]


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


def _rights(acl: str, user: str) -> dict[str, str]:
    """{topic: access} of one user's block in an ACL file."""
    block = acl.split(f"user {user}\n")[1].split("\n\n")[0]
    return dict(reversed(line.split()[1:]) for line in block.splitlines())


def test_init_writes_the_documented_layout(tmp_path, capsys):
    out = tmp_path / "broker"
    (tmp_path / "wifi.txt").write_text("pw12345678\n")
    assert _init(out, "--wifi-ssid", "street", "--wifi-password-file",
                 str(tmp_path / "wifi.txt")) == 0
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
    assert set(accounts) == {"operator", "monitor", "station"}
    assert all(a["password"] not in passwd for a in accounts.values())
    assert tls.cert_hosts(out / "server.crt") == {"broker.example", "10.0.0.5"}
    conf = (out / "mosquitto.conf").read_text()
    for line in ("allow_anonymous false", f"password_file {out}/passwd", f"acl_file {out}/acl",
                 "listener 8883", f"keyfile {out}/server.key", "tls_version tlsv1.2",
                 "max_packet_size 16384"):
        assert line + "\n" in conf
    # Bound in the listener's own block: before it, Mosquitto 2.0 would open port 1883 too.
    assert conf.split("listener 8883\n")[1].count("use_username_as_clientid true\n") == 1
    acl = (out / "acl").read_text()
    want = {tp: "write" for tp in topics.acl_write(P, S, "streetlight", "pole-1", "elm")}
    want["homeassistant/+/pole-1/+/config"] = "write"  # its own discovery documents only
    for tp in topics.acl_read(P, S, "streetlight", "pole-1", "elm"):
        want[tp] = "readwrite" if tp in want else "read"
    assert _rights(acl, "pole-1") == want
    # The monitor reads what the operator reads, and writes nothing.
    operator = _rights(acl, "operator")
    assert _rights(acl, "monitor") == {tp: a for tp, a in operator.items() if a == "read"}
    assert {a for a in operator.values()} == {"read", "write"}
    said = capsys.readouterr().out
    assert "new devices: pole-1, bin-1" in said
    assert "only commands signed with their cmd.key" in said and '"signed_cmds": false' in said
    assert "pw12345678" not in said


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


def test_max_packet_bytes_is_an_init_option_with_a_floor(tmp_path, capsys):
    out = tmp_path / "broker"
    assert _init(out, "--wifi-ssid", "street", "--max-packet-bytes", "65536") == 0
    assert "max_packet_size 65536\n" in (out / "mosquitto.conf").read_text()
    assert "largest MQTT packet: 65536 bytes" in capsys.readouterr().out
    before = _snapshot(out)
    assert _init(out, "--max-packet-bytes", "1000") == 2  # a signed command would not fit
    said = capsys.readouterr().out
    assert "error: --max-packet-bytes 1000: must be 4096.." in said
    assert "nothing was written" in said and _snapshot(out) == before


def test_fleet_file_with_two_sites(tmp_path, capsys):
    fleet = tmp_path / "fleet.json"
    fleet.write_text(json.dumps({
        "prefix": "town", "wifi": {"ssid": "street"},
        "devices": [{"id": "p1", "role": "streetlight", "site": "north", "group": "g1"},
                    {"id": "b1", "role": "inlet", "site": "south", "group": "br"},
                    {"id": "b2", "role": "inlet", "site": "north", "group": "br"}]}))
    out = tmp_path / "broker"
    assert main(["broker", "init", str(out), "--host", "localhost", "--fleet", str(fleet)]) == 0
    # One station login, one connected station, one site per station: say so.
    assert ("warning: inlets on 2 sites (town/north, town/south) share the one station login"
            in capsys.readouterr().out)
    acl = (out / "acl").read_text()
    assert "topic write town/north/streetlight/p1/state\n" in acl
    assert "topic read town/south/inlet/#\n" in acl  # the station, for the inlets' site
    assert "topic write town/south/inlet/group/+/peer\n" in acl
    assert "topic read town/#\n" in acl  # the operator
