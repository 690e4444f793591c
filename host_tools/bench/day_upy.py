# Runs under the MicroPython unix port with the simulated board: boots the agent on a device
# folder and lives one virtual day. Prints one JSON line of measurements.
#   micropython day_upy.py DEVICE_DIR HOURS [ROLE [QUIET_MINUTES]]
# QUIET_MINUTES: then that long with the collector off, counting the bytes the loop allocates.
import gc
import json
import os
import sys

import machine  # noqa: F401  the simulator's own modules load before the baseline
import simclock
import simworld
import utime  # the real clock (time is the virtual one here)


def _emit(out):
    """One JSON line, written piece by piece: after a day at a heap budget's edge the heap is
    fragmented, and one string of the whole report (hundreds of bytes) may not find room where
    each small piece does. The report's allocations are not the agent's."""
    w = sys.stdout.write
    w("{")
    for i, k in enumerate(out):
        w(", " if i else "")
        w(json.dumps(k) + ": ")
        v = out[k]
        if type(v) is list:
            w("[")
            for j, x in enumerate(v):
                w((", " if j else "") + json.dumps(x))
            w("]")
        else:
            w(json.dumps(v))
    w("}\n")


device_dir, run_h = sys.argv[1], float(sys.argv[2])
os.chdir(device_dir)
simworld.keep_history(False)  # measure the agent, not the simulator's logs
if len(sys.argv) > 3 and sys.argv[3] == "inlet":  # a bin filling over the day
    import simbin

    with open("board.json") as f:
        board = json.load(f)
    simbin.Bin(board["pins"], board["active_low"], level=0.3)
gc.collect()
base = gc.mem_alloc()
from agent import app  # noqa: E402

gc.collect()
code = gc.mem_alloc() - base
agent = app.Agent("")
gc.collect()
ready = gc.mem_alloc() - base
t0 = utime.ticks_ms()
agent.run(int(run_h * 3600 * 1000))
wall_ms = utime.ticks_diff(utime.ticks_ms(), t0)
ticks = agent.ticks
if len(sys.argv) <= 4:
    # The day is lived. What this report allocates is not the agent's: at a heap budget's
    # edge its few hundred bytes failed now and then (the wall-time figures vary in length).
    agent = None
    gc.collect()
out = {"virtual_h": run_h, "wall_s": wall_ms / 1000, "ticks": ticks,
       "heap_code_bytes": code, "heap_agent_bytes": ready,
       "virtual_s_per_wall_s": int(run_h * 3600 * 1000 / max(wall_ms, 1)),
       "now_ms": simclock.now_ms(),
       "modules": sorted(m for m in sys.modules if m.startswith("agent"))}
if len(sys.argv) > 4:  # then N more minutes with the collector off: what the loop allocates
    gc.collect()
    ticks, before = agent.ticks, gc.mem_alloc()
    gc.disable()
    agent.run(int(sys.argv[4]) * 60000)
    out["quiet_bytes"] = gc.mem_alloc() - before
    out["quiet_ticks"] = agent.ticks - ticks
    gc.enable()
_emit(out)
