"""The vacuum station service against a real Mosquitto, with a paho client playing one inlet:
it asks "must", is granted once the branch is at vacuum, answers opened/closed/done, and is
not granted again on its stale retained state until it asks again. The station runs 50 times
faster than real time so fan spin-up and plug transport take fractions of a second."""

import json
import queue
import signal
import subprocess
import sys
import threading
import time

import paho.mqtt.client as mqtt
import pytest

from agent import message, vacuum
from host_tools.broker import Broker
from host_tools.cli import main
from host_tools.security import Device, start_secure_broker
from host_tools.station.coordinator import Coordinator
from host_tools.station.service import StationService

PACE = 50
ROOT = "city/main/inlet/"
PEER = ROOT + "group/b1/peer"


class FakeInlet:
    """Inlet "a" on branch b1: retained status and state, and a well-behaved valve."""

    def __init__(self, port):
        self.enc = message.Encoder()
        self.heard = []  # (monotonic s, topic, message dict)
        self.bad = []  # what the inlet could not read on its branch topic
        self.lock = threading.Lock()
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="inlet-a")
        self.c.will_set(ROOT + "a/status", b"offline", qos=1, retain=True)
        self.c.on_message = self._on_message
        self.subscribed = threading.Event()
        self.c.on_subscribe = lambda *a: self.subscribed.set()
        self.c.on_connect = lambda c, u, f, rc, p: c.subscribe(
            [(PEER, 1), ("city/main/station/#", 1)])
        self.c.connect("127.0.0.1", port, keepalive=10)
        self.c.loop_start()
        assert self.subscribed.wait(5)

    def _send(self, channel, fields, retain=False):
        payload = self.enc.encode(fields, int(time.time()), 0)
        self.c.publish(ROOT + "a/" + channel, payload, qos=1, retain=retain)

    def ask(self, request):
        self._send("state", {"branch": "b1", "request": request, "priority": 50,
                             "ttf_s": 0, "ttf_err_s": None, "fillingLevel": 0.9,
                             "discharge": "idle"}, retain=True)

    def _on_message(self, client, userdata, msg):
        if msg.topic == PEER:
            obj, err = vacuum.parse_station(msg.payload)
            env, env_err = message.decode(msg.payload)  # stamped with the envelope
            if obj is None or env is None:
                self.bad.append((msg.payload, err or env_err))
                return
            obj = {k: v for k, v in obj.items() if k not in ("v", "seq", "ts", "up")}
        elif msg.topic.endswith("/status"):
            obj = {"status": msg.payload.decode()}
        else:
            obj = json.loads(msg.payload)
        with self.lock:
            self.heard.append((time.monotonic(), msg.topic, obj))
        if msg.topic == PEER and obj["t"] == "grant" and obj["id"] == "a" and obj["vac"]:
            for step in (vacuum.STEP_OPENED, vacuum.STEP_CLOSED, vacuum.STEP_DONE):
                extra = {"emptied": True} if step == vacuum.STEP_DONE else {}
                self._send("event", vacuum.discharge_event(obj["cycle"], step, **extra))

    def grants(self):
        with self.lock:
            return [m for _, t, m in self.heard if t == PEER and m["t"] == "grant"]

    def peer(self):
        with self.lock:
            return [m for _, t, m in self.heard if t == PEER]

    def station_status(self):
        with self.lock:
            got = [m["status"] for _, t, m in self.heard if t == "city/main/station/status"]
        return got[-1] if got else None

    def station_alarm(self):
        with self.lock:
            got = [m for _, t, m in self.heard if t == "city/main/station/alarm"]
        return (got[-1]["branch"], got[-1]["alarm"]) if got else None

    def wait(self, pred, timeout_s):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if pred():
                return True
            time.sleep(0.02)
        return False

    def close(self):
        self.c.loop_stop()
        self.c.disconnect()


def test_station_grants_once_per_request_over_a_real_broker():
    t0 = time.monotonic()
    clock = lambda: (time.monotonic() - t0) * PACE * 1000  # noqa: E731
    coord = Coordinator(spinup_s=20, transport_s=20, rundown_s=10, first_cycle=7000)
    with Broker() as broker:
        inlet = FakeInlet(broker.port)
        svc = StationService("127.0.0.1", broker.port, "city", "main", coordinator=coord,
                             clock_ms=clock, poll_s=0.01)
        try:
            svc.start()
            assert inlet.wait(lambda: inlet.station_status() == "online", 3)
            inlet.c.publish(ROOT + "a/status", b"online", qos=1, retain=True)
            inlet.ask("must")
            assert inlet.wait(lambda: inlet.grants(), 3), svc.snapshot()
            first = inlet.grants()[0]
            assert first["cycle"] == 7000 and first["vac"] is True
            # the branch heard that vacuum is ready before the grant
            assert inlet.peer().index(vacuum.vacuum(True)) < inlet.peer().index(first)
            # done, the run ends (transport 20 s + rundown 10 s = 0.6 s here) and its
            # retained state, still "must", is not taken as a new request
            assert inlet.wait(lambda: vacuum.vacuum(False) in inlet.peer(), 3)
            time.sleep(1.0)  # 50 s more at the station's pace
            assert len(inlet.grants()) == 1
            assert coord.outstanding("b1") is None  # the done was matched to the grant
            inlet.ask("must")  # it asks again
            assert inlet.wait(lambda: len(inlet.grants()) == 2, 3), svc.snapshot()
            second = inlet.grants()[1]
            assert second["cycle"] > first["cycle"] and second["vac"] is True
            # "no vacuum" when the branch was first heard of, then after each run
            assert inlet.peer()[0] == vacuum.vacuum(False)
            assert inlet.wait(lambda: inlet.peer().count(vacuum.vacuum(False)) == 3, 3)
            snap = svc.snapshot()
            assert [g[2]["cycle"] for g in snap["grants"]] == [7000, 7001]
            assert snap["alarms"] == [] and inlet.bad == []
            assert [f[2] for f in snap["fans"]] == [True, False, True, False]
            rep = svc.report()
            assert rep["fan_starts"] == 2 and rep["valve_openings"] == 2
            assert rep["kwh"] > 0
            # the station's own pressure sensor: its alarm is retained under station/
            svc.vacuum_lost("b1")
            assert inlet.wait(lambda: inlet.station_alarm() == ("b1", "vacuum_lost"), 3)
        finally:
            svc.stop()
        assert inlet.wait(lambda: inlet.station_status() == "offline", 3)
        inlet.close()


# ---- `street station run` on a broker made by `street broker init` -------------------------

@pytest.fixture(scope="module")
def sb():
    with start_secure_broker([Device("a", "inlet", "main", "city", "b1")]) as b:
        yield b


def _station_args(sb, password_file):
    return ["station", "run", "--host", "127.0.0.1", "--port", str(sb.port),
            "--user", "station", "--password-file", str(password_file)]


def test_station_run_says_why_the_broker_refuses_it_and_gives_up(sb, tmp_path, capsys):
    wrong = tmp_path / "password"
    wrong.write_text(sb.login("station")[1] + "-not\n")
    assert main(_station_args(sb, wrong)) == 1
    said = capsys.readouterr().out.splitlines()
    errors = [line for line in said if line.startswith("error:")]
    assert errors == ["error: the broker refused the login as station: Not authorized (wrong "
                      "user name or password, or this login may not connect); retrying cannot "
                      "fix this"], said
    assert not any("connected to" in line for line in said)


def _lines(stream) -> tuple[queue.Queue, threading.Thread]:
    """The lines of a child's output, read by a thread (ending at EOF) so that a test can
    wait for them with a timeout."""
    q: queue.Queue = queue.Queue()
    reader = threading.Thread(target=lambda: [q.put(line) for line in stream], daemon=True)
    reader.start()
    return q, reader


def test_station_run_says_when_it_is_connected_and_stops_on_ctrl_c(sb, tmp_path):
    right = tmp_path / "password"
    right.write_text(sb.login("station")[1] + "\n")
    proc = subprocess.Popen([sys.executable, "-m", "host_tools.cli", *_station_args(sb, right)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines, reader = _lines(proc.stdout)
    said = []
    try:
        while not any("connected to" in line for line in said):
            try:
                said.append(lines.get(timeout=60))  # generous: a busy host costs time only
            except queue.Empty:
                pytest.fail(f"never said it was connected: {said}")
        assert said[-1].split(" ", 1)[1] == (f"connected to 127.0.0.1:{sb.port} as station, "
                                             "listening for inlets of city/main\n")
        proc.send_signal(signal.SIGINT)  # Ctrl-C, to our own child by its PID
        # Stopping says offline (waits up to 2 s for the broker) and joins two threads: on a
        # host with every core busy that took over 20 s once. What is checked is the clean exit.
        assert proc.wait(timeout=90) == 0, said + list(lines.queue)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(5)  # the child is gone: its output ends
        proc.stdout.close()
