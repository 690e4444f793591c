"""After one broker outage a whole street must not reconnect in lockstep: each link waits a
random share of its backoff (full jitter), so the returning broker sees them spread out."""

import json
import subprocess
import time
from pathlib import Path

from host_tools.broker import Broker
from host_tools.upy import micropython_env, micropython_exe

N = 20
SCRIPT = Path(__file__).with_name("fleet_upy.py")


def test_many_agents_reconnect_spread_out_after_an_outage():
    broker = Broker().start()
    proc = subprocess.Popen([micropython_exe(), "-X", "heapsize=8M", str(SCRIPT),
                             str(broker.port), str(N), "17"],
                            env=micropython_env(), stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.strip() == "READY", line
        broker.stop()  # the outage: every link fails and backs off
        time.sleep(4)
        broker.start()  # same port
        out = proc.communicate(timeout=60)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
        broker.close()
    result = json.loads(out.strip().splitlines()[-1])
    back = sorted(ups[1] for ups in result["ups"] if len(ups) > 1)
    assert len(back) == N, f"not every link came back: {result}"
    spread_ms = back[-1] - back[0]
    # In lockstep they would all arrive within a few ms of each other.
    assert spread_ms > 1500, back
    busiest = max(sum(1 for t in back if s <= t < s + 200) for s in back)
    assert busiest <= N // 2, f"{busiest} of {N} links reconnected within 200 ms: {back}"
