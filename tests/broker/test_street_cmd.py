"""Ring 3: `street cmd` and `street monitor` against a Mosquitto set up by `street broker
init` (TLS, operator login) and three agents on the simulated board with signed commands on
(the default). One broker and the agents serve the whole file; each is stopped by PID.

Every wait is a generous ceiling ended by what the test waits for; the only timeout asserted
is the one the tool is given (--timeout), for a device that cannot answer."""

import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import threading
import time

import paho.mqtt.client as mqtt
import pytest

from host_tools import vdevice
from host_tools.fleet import cli
from host_tools.security import Device, start_secure_broker
from host_tools.upy import ROOT

POLES = ("pole-1", "pole-2")
LIVE = POLES + ("bin-1",)
GONE = "pole-3"  # in the fleet, never running: its last will says offline
FLEET = [Device("pole-1", "streetlight", "main", "city", "north"),
         Device("pole-2", "streetlight", "main", "city", "north"),
         Device("bin-1", "inlet", "main", "city", ""),
         Device(GONE, "streetlight", "main", "city", "south")]
WAIT_S = 60  # a ceiling: a busy host costs time, never a failure


class Watcher:
    """Everything under city/ as the read-only monitor login sees it."""

    def __init__(self, sb):
        self.msgs: list[tuple[str, bytes]] = []
        self.cond = threading.Condition()
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="watch-test")
        self.c.username_pw_set(*sb.login("monitor"))
        self.c.on_message = self._on_message
        self.c.connect("127.0.0.1", sb.port, keepalive=10)
        self.c.subscribe("city/#", qos=1)
        self.c.loop_start()

    def _on_message(self, c, u, msg):
        with self.cond:
            self.msgs.append((msg.topic, bytes(msg.payload)))
            self.cond.notify_all()

    def wait(self, pred, timeout_s=WAIT_S):
        with self.cond:
            return self.cond.wait_for(pred, timeout_s)

    def commands(self) -> list[str]:
        with self.cond:
            return [t for t, _ in self.msgs if t.endswith("/cmd")]

    def online(self, dev_id) -> bool:
        return any(t.endswith("/%s/status" % dev_id) and p == b"online" for t, p in self.msgs)

    def close(self):
        self.c.loop_stop()
        self.c.disconnect()


def _config(sb, d: Device) -> dict:
    cfg = {"device": {"id": d.id, "role": d.role, "site": d.site},
           "mqtt": {"host": "127.0.0.1", "port": sb.port, "group": d.group, "keepalive_s": 10,
                    "backoff_max_s": 2, "connect_timeout_s": 4}}
    if d.role == "inlet":
        cfg["inlet"] = {"branch": "branch-a"}
    return cfg


@pytest.fixture(scope="module")
def street(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("street")
    with start_secure_broker(FLEET) as sb:
        devices = tmp / "devices"
        for d in FLEET:
            vdevice.make_device(devices / d.id, _config(sb, d), sb.secrets[d.id])
        # pole-3's will, as the broker publishes it for a device that went away.
        gone = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=GONE)
        gone.username_pw_set(*sb.login(GONE))
        gone.connect("127.0.0.1", sb.port, keepalive=10)
        gone.loop_start()
        gone.publish("city/main/streetlight/%s/status" % GONE, b"offline", qos=1,
                     retain=True).wait_for_publish(10)
        gone.loop_stop()
        gone.disconnect()
        watcher = Watcher(sb)
        procs = {d: vdevice.start(devices / d, run_s=600) for d in LIVE}
        try:
            assert watcher.wait(lambda: all(watcher.online(d) for d in LIVE)), \
                "devices never came online"
            yield sb, devices, tmp, watcher
        finally:
            watcher.close()
            for proc in procs.values():
                try:
                    vdevice.stop(proc, timeout_s=30)
                except Exception:  # a device that restarted (set) has ended already
                    pass
                finally:
                    if proc.poll() is None:
                        proc.kill()
                        proc.wait()


def street_args(street, *words, state="state", timeout=20):
    sb, devices, tmp, _ = street
    return ["cmd", *words, "--broker-dir", str(sb.dir), "--host", "localhost",
            "--port", str(sb.tls_port), "--keys", str(devices),
            "--state-dir", str(tmp / state), "--timeout", str(timeout)]


def run_cmd(capsys, street, *words, **kw) -> tuple[int, str]:
    rc = cli.main(street_args(street, *words, **kw))
    return rc, capsys.readouterr().out


def rows(out: str) -> dict[str, list[str]]:
    """The ack table: device -> [result, latency, detail...]."""
    found = {}
    for line in out.splitlines():
        parts = line.split()
        if parts and parts[0] in LIVE + (GONE,) and len(parts) >= 3:
            found[parts[0]] = parts[1:]
    return found


def test_ping_one_device_then_counters_move_on_across_runs(capsys, street):
    rc, out = run_cmd(capsys, street, "ping", "pole-1")
    assert rc == 0, out
    assert rows(out)["pole-1"][0] == "ok", out
    state = street[2] / "state"
    assert json.loads((state / "ctr-pole-1.json").read_text()) == {"last_ctr": 1}
    rc, out = run_cmd(capsys, street, "ping", "pole-1")  # a second run: the next counter
    assert rc == 0, out
    assert json.loads((state / "ctr-pole-1.json").read_text()) == {"last_ctr": 2}


def test_invalid_command_refused_locally_nothing_sent(capsys, street):
    watcher = street[3]
    before = len(watcher.commands())
    for words, said in ((("set", "pole-1", "light.boost_pct", "150"),
                         "set light.boost_pct: 150 is above the maximum 100"),
                        (("set", "bin-1", "light.boost_pct", "90"),
                         "bin-1: set light.boost_pct: only used by streetlight"),
                        (("override", "kind:inlet", "level_pct=50"),
                         "bin-1: cmd: override is for streetlight"),
                        (("pign", "pole-1"), "pign: unknown command (did you mean ping?)")):
        rc, out = run_cmd(capsys, street, *words)
        assert rc == 2, out
        assert said in out and "nothing sent" in out, out
    # A valid command after them: the only one the broker passed on since.
    rc, out = run_cmd(capsys, street, "ping", "pole-2")
    assert rc == 0, out
    assert watcher.wait(lambda: len(watcher.commands()) == before + 1)
    assert watcher.commands()[before:] == ["city/main/streetlight/pole-2/cmd"]


def test_group_command_every_member_acks(capsys, street):
    rc, out = run_cmd(capsys, street, "override", "group:north", "level_pct=80",
                      "duration_s=60")
    assert rc == 0, out
    got = rows(out)
    assert set(got) == set(POLES), out
    assert all(got[p][0] == "ok" for p in POLES), out
    rc, out = run_cmd(capsys, street, "auto", "group:north")
    assert rc == 0 and set(rows(out)) == set(POLES), out


def test_offline_device_times_out_and_fails(capsys, street):
    rc, out = run_cmd(capsys, street, "ping", "pole-1,%s" % GONE, timeout=2)
    assert rc == 1, out
    got = rows(out)
    assert got["pole-1"][0] == "ok", out
    assert got[GONE][0] == "timeout", out
    assert "no ack in 2 s (the device is offline)" in out, out


def test_replayed_counter_is_refused_by_the_device(capsys, street):
    # A second operator machine with a fresh counter store: its counter 1 was used already.
    rc, out = run_cmd(capsys, street, "ping", "bin-1")
    assert rc == 0, out
    rc, out = run_cmd(capsys, street, "ping", "bin-1", state="other-laptop")
    assert rc == 1, out
    assert rows(out)["bin-1"][0] == "refused", out
    said = " ".join(out.split())  # the error wraps at 80 columns
    assert re.search(r"ctr: 1 is not above the last accepted \d+ \(replay\?\)", said), out
    assert "counter now follows the device" in said, out
    rc, out = run_cmd(capsys, street, "ping", "bin-1", state="other-laptop")
    assert rc == 0, out


def _read_screen(fd, until, timeout_s=WAIT_S) -> str:
    """Bytes from the pty, ANSI codes dropped, until `until(text)` or the ceiling."""
    data = b""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the child closed the pty
                break
            if not chunk:
                break
            data += chunk
            if until(_plain(data)):
                break
    return _plain(data)


def _plain(data: bytes) -> str:
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "\n", data.decode(errors="replace"))


def test_monitor_on_a_terminal_shows_the_fleet_and_a_command_ack(street):
    sb, devices, tmp, _ = street
    argv = [sys.executable, "-m", "host_tools.fleet.cli", "monitor", "--broker-dir",
            str(sb.dir), "--host", "localhost", "--port", str(sb.tls_port), "--keys",
            str(devices), "--state-dir", str(tmp / "state"), "--timeout", "20"]
    pid, fd = pty.fork()
    if pid == 0:  # the child: the pty is its controlling terminal, as in a real session
        os.chdir(ROOT)
        os.execv(sys.executable, argv)
    try:
        fcntl_winsize = struct.pack("HHHH", 24, 80, 0, 0)
        import fcntl

        fcntl.ioctl(fd, termios.TIOCSWINSZ, fcntl_winsize)
        screen = _read_screen(fd, lambda s: all(re.search(r"%s\s+\w+\s+online" % d, s)
                                                for d in LIVE) and GONE in s)
        assert re.search(r"%s\s+light\s+offline" % GONE, screen), screen
        os.write(fd, b"ping pole-1\r")
        screen = _read_screen(fd, lambda s: re.search(r"pole-1\s+ok\s+\d", s))
        assert re.search(r"pole-1\s+ok\s+\d+\.\d+s", screen), screen
        os.write(fd, b"set pole-1 light.boost_pct 150\r")
        screen = _read_screen(fd, lambda s: "above the maximum" in s)
        assert "! pole-1: set light.boost_pct: 150 is above the maximum 100 (nothing sent)" \
            in screen, screen
        for line in screen.splitlines():
            assert len(line) <= 80, line
        os.write(fd, b"\x03")  # Ctrl-C, through the terminal
        screen = _read_screen(fd, lambda s: "monitor stopped" in s)
        assert "monitor stopped" in screen, screen
        _, status = os.waitpid(pid, 0)
        pid = 0
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        if pid:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)


def test_set_changes_the_device_config(capsys, street):
    # Last: the device restarts to apply it (and on the simulated board its run ends).
    devices = street[1]
    rc, out = run_cmd(capsys, street, "set", "pole-2", "light.boost_pct", "90")
    assert rc == 0, out
    assert "light.boost_pct = 90, restart in" in out, out
    cfg = json.loads((devices / "pole-2" / "config.json").read_text())
    assert cfg["light"]["boost_pct"] == 90


def test_the_lab_runs_the_examples_for_the_operator_docs(tmp_path, capsys):
    # docs/operator.md starts here: the example folders on the simulated board, a broker,
    # and the command the lab prints.
    lab = subprocess.Popen([sys.executable, "-m", "host_tools.fleet.lab", "--out",
                            str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        printed = []
        for line in lab.stdout:
            printed.append(line)
            if line.startswith("Ctrl-C"):
                break
        ping = next(line.split() for line in printed if "street cmd ping all" in line)
        port = int(ping[ping.index("--port") + 1])
        online = set()
        seen = threading.Condition()

        def on_message(c, u, msg):
            with seen:
                if msg.payload == b"online":
                    online.add(msg.topic.split("/")[3])
                seen.notify_all()

        w = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="lab-watch")
        w.on_message = on_message
        w.connect("127.0.0.1", port, keepalive=10)
        w.subscribe("city/+/+/+/status", qos=1)
        w.loop_start()
        try:
            with seen:
                assert seen.wait_for(lambda: len(online) == 2, WAIT_S), online
        finally:
            w.loop_stop()
            w.disconnect()
        rc = cli.main(ping[1:] + ["--timeout", "20"])
        out = capsys.readouterr().out
        assert rc == 0, out
        assert {r[0] for r in _rows_any(out).values()} == {"ok"}, out
        assert set(_rows_any(out)) == {"oudegracht-01", "sjostad-07"}, out
    finally:
        lab.send_signal(signal.SIGINT)
        rest, _ = lab.communicate(timeout=60)
    assert "lab stopped" in rest and lab.returncode == 0


def _rows_any(out: str) -> dict[str, list[str]]:
    return {p[0]: p[1:] for p in (line.split() for line in out.splitlines())
            if len(p) >= 3 and p[1] in ("ok", "refused", "timeout")}
