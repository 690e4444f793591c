"""Ring 3: the last crash reaches the operator over a real Mosquitto once, as an event, and
not again when the link comes back after the broker restarts (agent.app link_up)."""

import subprocess
from pathlib import Path

from host_tools import vdevice
from host_tools.bench.faults import persistent_broker
from host_tools.upy import micropython_env, micropython_exe
from tests.broker.test_link_faults import SECRETS, Collector, device_config

SCRIPT = Path(__file__).parent / "crash_upy.py"


def _crashes(msgs):
    return [e for t, e in msgs if t.endswith("/event") and e.get("event") == "crash"]


def _diags(msgs):
    return [e for t, e in msgs if t.endswith("/diag")]


def test_the_last_crash_is_published_once_across_a_reconnect(tmp_path):
    broker = persistent_broker(tmp_path)
    port = broker.port
    col = Collector(port, topic="city/+/streetlight/+/#")
    dev = vdevice.make_device(tmp_path / "dev", device_config(port), SECRETS)
    proc = subprocess.Popen(
        [micropython_exe(), "-X", "heapsize=2M", str(SCRIPT), str(vdevice.BOOT), str(dev),
         "60"], env=micropython_env(extra=[vdevice.SOCKREC]), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    try:
        assert col.wait_for(lambda m: _crashes(m) and _diags(m), 30), "no crash event"
        first_diags = len(_diags(col.msgs))
        broker.proc.terminate()  # the link drops; the device reconnects to the new broker
        broker.proc.wait()
        broker.stop()
        broker = persistent_broker(tmp_path, port=port)
        # A reconnect publishes diag again (comms._on_up): then the crash would come again.
        assert col.wait_for(lambda m: len(_diags(m)) > first_diags, 30), "no reconnect"
        summary, out = vdevice.stop(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    try:
        crashes = _crashes(col.msgs)
        # One message from the device (one seq); QoS 1 is at least once, so the restored
        # session may hand the monitor a second copy of what was in flight.
        assert len({c["seq"] for c in crashes}) == 1, (crashes, out)
        c = crashes[0]
        assert c["line"] == "ZeroDivisionError: boom" and c["up_s"] == 12
        assert c["count"] == 1 and c["safe_mode"] is False and c["where"] == "run"
        assert summary["reconnects"] >= 1, out
        diag = _diags(col.msgs)[-1]
        assert diag["crashes"] == 1 and diag["last_crash"] == "ZeroDivisionError: boom"
        assert diag["safe_mode"] is False
    finally:
        col.close()
        broker.close()
