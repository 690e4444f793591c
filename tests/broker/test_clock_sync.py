"""Ring 3: a whole streetlight agent whose clock was never set (MicroPython unix port, simulated
board, real sockets) syncs it from an SNTP server this test runs on a free loopback port, through
a real Mosquitto: messages go out with "ts": null until the answer, with the server's time
after it; a clock_set event and a diag saying so follow at once. The server stays silent for
the first requests: the device retries with backoff, and its socket calls never could wait
(vdevice.wait_problems: recorded figures the firmware controls, not this host's speed)."""

import json
import socket
import struct
import threading
import time

import paho.mqtt.client as mqtt

from host_tools import vdevice

OP_TIMEOUT_MS = 100
SERVER_S = 1893456000  # 2030-01-01 00:00:00 UTC: what the server's clock reads, held still
SILENT = 2  # requests the server leaves unanswered first


class SntpServer(threading.Thread):
    def __init__(self, silent):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.silent = silent
        self.requests = 0
        self.halt = threading.Event()

    def run(self):
        while not self.halt.is_set():
            try:
                req, addr = self.sock.recvfrom(512)
            except OSError:
                continue
            self.requests += 1
            if self.requests <= self.silent or len(req) < 48:
                continue
            t = struct.pack(">II", SERVER_S + 2208988800, 0)
            # leap 0, version 4, mode 4 (server), stratum 2; originate = the request's transmit
            self.sock.sendto(b"\x24\x02\x06\xe9" + bytes(20) + req[40:48] + t + t, addr)

    def stop(self):
        self.halt.set()
        self.join(5)
        self.sock.close()


class Collector:
    def __init__(self, port):
        self.msgs = []
        self.lock = threading.Lock()
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="clock-watch")
        self.c.on_message = self._on_message
        self.c.on_connect = lambda c, u, f, rc, p: c.subscribe(
            [("city/main/streetlight/pole-9/event", 1), ("city/main/streetlight/pole-9/diag", 0)])
        self.c.connect("127.0.0.1", port, keepalive=10)
        self.c.loop_start()

    def _on_message(self, client, userdata, msg):
        with self.lock:
            self.msgs.append((msg.topic.rsplit("/", 1)[1], json.loads(msg.payload)))

    def wait_for(self, pred, timeout_s):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                if pred(self.msgs):
                    return True
            time.sleep(0.05)
        return False

    def close(self):
        self.c.loop_stop()
        self.c.disconnect()


def _clock_set(msgs):
    return any(m.get("event") == "clock_set" for _, m in msgs)


def test_an_unset_clock_is_set_by_sntp_after_silent_retries(tmp_path, broker):
    srv = SntpServer(SILENT)
    srv.start()
    col = Collector(broker.port)
    cfg = {"device": {"id": "pole-9", "role": "streetlight"},
           "mqtt": {"host": "127.0.0.1", "port": broker.port, "keepalive_s": 10,
                    "op_timeout_ms": OP_TIMEOUT_MS, "signed_cmds": False},
           "clock": {"servers": f"127.0.0.1:{srv.port}", "timeout_ms": 300, "retry_max_s": 1}}
    dev = vdevice.make_device(tmp_path / "dev", cfg, {"wifi": {"ssid": "street"}})
    # wall0=0: the board's clock reads the epoch at boot, as a fresh chip's does
    proc = vdevice.start(dev, run_s=60, wall0=0, real0=time.time_ns())
    try:
        assert col.wait_for(_clock_set, 30), f"no clock_set event: {col.msgs}"
        assert col.wait_for(lambda m: any(k == "diag" and d.get("clock_synced")
                                          for k, d in m), 10), col.msgs
        summary, out = vdevice.stop(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
        col.close()
        srv.stop()
    msgs = col.msgs
    boot = next(m for k, m in msgs if m.get("event") == "boot")
    assert boot["ts"] is None and isinstance(boot["up"], int), boot  # not set at boot
    ev = next(m for _, m in msgs if m.get("event") == "clock_set")
    assert ev["tries"] == SILENT + 1 and ev["server"] == f"127.0.0.1:{srv.port}", ev
    assert srv.requests == SILENT + 1, srv.requests  # no more once synced (next in 6 h)
    # The answer's time, plus half the round trip and what passed on the board since: the
    # clock now reads the server's 2030, not the epoch it started from.
    assert SERVER_S <= ev["ts"] < SERVER_S + 60 and ev["offset_ms"] > (SERVER_S - 60) * 1000
    # sent at once (QoS 0) while the event waits its turn in the outbox (QoS 1)
    diag = next(d for k, d in msgs if k == "diag" and d["clock_synced"])
    assert diag["clock_synced"] and diag["clock_error"] == "" and diag["clock_age_s"] == 0
    assert diag["clock_offset_ms"] == ev["offset_ms"] and SERVER_S <= diag["ts"]
    assert vdevice.wait_problems(summary, OP_TIMEOUT_MS) == [], out
    assert summary["dns_lookups"] == 0 and summary["sock_opened"] >= SILENT + 2, out
