"""One real streetlight agent of the residential street on the simulated board against a local
Mosquitto, for the figures a whole street run cannot give cleanly:

- cpu(speeds): the host CPU the agent process uses (user + system, /proc/PID/stat) at real
  time and at a few speed-ups, over a late evening of the street's own stimuli (the
  world's sky and walkers at that pole), after its boot; the street's device config.
- latency(): at real time (pace 1: the board's virtual clock is the host's clock), with
  hold_s 1 and fade_s 0 so each walker boosts the lamp afresh: motion pulses every
  PULSE_EVERY_S, and a
  signed ping command between pulses (a quiet device). Motion to PWM: from the pin's rise
  (the stimulus time) to the first recorded lamp change (simstreet's history keeps changes
  of 2 % or more: the start of the ramp), in the board's virtual time. Command to ack: from
  the moment this process publishes the command to the moment the ack reaches it, real time
  through the broker both ways (so it bounds the device's own share from above).
"""

import json
import tempfile
import threading
import time
from pathlib import Path

from agent import sign
from host_tools import vdevice
from host_tools.broker import Broker
from host_tools.procstat import cpu_s as proc_cpu_s
from host_tools.street import devices
from host_tools.street import scenario as scn
from host_tools.street import world as street_world

SCENARIO = "residential"
EVENING = "21:00"  # local: dark, people about (the CPU runs)
LATE = "23:30"  # local: profile 60 %, late boost 80 %: a walker raises the lamp (latency)
BOOT_S = 4.0  # real seconds allowed for the boot before CPU is sampled
PULSE_EVERY_S = 4.0
PULSE_MS = 500


def _street(one_pole_cfg=None):
    raw = json.loads(scn.path_of(SCENARIO).read_text())
    if one_pole_cfg:
        raw.setdefault("device_config", {}).setdefault("light", {}).update(one_pole_cfg)
    return scn.build(raw, poles=1, inlets=0, source=str(scn.path_of(SCENARIO)))


def _boot(s, folder, stimuli, speed, wall0, run_s, history=None):
    (folder / "stimuli.json").write_text(json.dumps(stimuli))
    real0 = time.time_ns()
    opts = {"pace": 1 / speed, "wall0": wall0, "real0": real0, "stimuli": "stimuli.json"}
    if history:
        opts["history"] = history
    return vdevice.start(folder, run_s=run_s, heap="4M", **opts)


def cpu(speeds=(1, 10, 100), seconds=15.0, say=print) -> list[dict]:
    """[{speed, cores, cpu_s, real_s}]: the agent's CPU share after boot at each speed."""
    s = _street()
    w = street_world.build(s)
    pid = w.poles[0][0]
    stim = w.stimuli_for(pid)
    wall0 = scn.wall_at(s, EVENING)
    out = []
    with Broker() as broker, tempfile.TemporaryDirectory() as tmp:
        for speed in speeds:
            folder = devices.write(s, Path(tmp) / f"x{speed}", "127.0.0.1", broker.port)[pid]
            # at real time a quiet agent uses a few clock ticks (10 ms) a second: measure
            # it longer, or the figure is mostly rounding
            span = seconds * (3 if speed == 1 else 1)
            proc = _boot(s, folder, stim, speed, wall0, run_s=(span + BOOT_S + 30) * speed)
            try:
                time.sleep(BOOT_S)
                c0, t0 = proc_cpu_s(proc.pid), time.monotonic()
                time.sleep(span)
                c1, t1 = proc_cpu_s(proc.pid), time.monotonic()
                rss_kb = _rss_kb(proc.pid)
            finally:
                vdevice.stop(proc)
            if c0 is None or c1 is None:
                raise SystemExit(f"oneagent: the agent at {speed}x ended early")
            out.append({"speed": speed, "cpu_s": round(c1 - c0, 3), "real_s": round(t1 - t0, 2),
                        "cores": round((c1 - c0) / (t1 - t0), 4), "rss_kb": rss_kb})
            say(f"  one agent at {speed}x: {out[-1]['cores']:.3f} of a core")
    return out


def _rss_kb(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def latency(seconds=32.0) -> dict:
    """Motion-to-PWM (virtual ms) and command-to-ack (real ms) samples at real time."""
    import paho.mqtt.client as mqtt

    from agent import config

    s = _street({"hold_s": 1, "late_hold_s": 1, "fade_s": 0})
    need = min(100.0, s["lighting"]["avg_lux"] / s["lamp"]["lux_per_pct"])
    pid = scn.pole_ids(s)[0][0]
    wall0 = scn.wall_at(s, LATE)
    pulses = [wall0 + BOOT_S + PULSE_EVERY_S * (i + 1)
              for i in range(int((seconds - BOOT_S) / PULSE_EVERY_S) - 1)]
    stim = {"id": pid, "role": "streetlight", "start_wall": wall0 - 60,
            "end_wall": wall0 + seconds + 60, "faults": [], "lux": [[wall0 - 60, 0.5]],
            "motion": [[t, PULSE_MS] for t in pulses]}
    sent: dict = {}
    acked: dict = {}
    with Broker() as broker, tempfile.TemporaryDirectory() as tmp:
        folder = devices.write(s, Path(tmp), "127.0.0.1", broker.port)[pid]
        cfg = config.load(json.loads((folder / "config.json").read_text()))
        key = json.loads((folder / "secrets.json").read_text())["cmd"]["key"]
        root = f"{cfg['mqtt']['prefix']}/{s['site']}/streetlight/{pid}/"
        done = threading.Event()

        def on_message(c, u, msg):
            try:
                cid = json.loads(msg.payload).get("id")
            except ValueError:
                return
            if cid in sent and cid not in acked:
                acked[cid] = time.monotonic()

        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-acks")
        c.on_message = on_message
        c.connect("127.0.0.1", broker.port)
        c.subscribe(root + "cmd/ack", qos=1)
        c.loop_start()
        proc = _boot(s, folder, stim, 1.0, wall0, run_s=seconds + 5, history="history.json")
        try:
            t0 = time.monotonic()
            n = 0
            while time.monotonic() - t0 < seconds - 2:
                # halfway between pulses: the device is quiet then
                at = BOOT_S + PULSE_EVERY_S * (n + 1.5)
                if at > seconds - 2:
                    break
                done.wait(max(0.0, at - (time.monotonic() - t0)))
                n += 1
                cid = f"b{n}"
                text = json.dumps({"id": cid, "cmd": "ping", "ctr": n}, separators=(",", ":"))
                sent[cid] = time.monotonic()
                c.publish(root + "cmd", sign.sign_command(sign.key_from_hex(key), pid, text), qos=1)
            time.sleep(1.0)
        finally:
            vdevice.stop(proc)
            c.loop_stop()
            c.disconnect()
        hist = json.loads((folder / "history.json").read_text())
    lamp = hist.get("lamp") or []
    m2p, m2c = [], []
    for t in pulses:
        before = [v for a, v in lamp if a <= t]
        after = [(a, v) for a, v in lamp if a > t]
        if after and after[0][1] > (before[-1] if before else 0.0):
            m2p.append(round((after[0][0] - t) * 1000, 1))
            lit = [a for a, v in after if v >= need - 0.5]
            if lit and (not before or before[-1] < need - 0.5):
                m2c.append(round((lit[0] - t) * 1000, 1))
    c2a = [round((acked[k] - sent[k]) * 1000, 1) for k in sent if k in acked]
    return {"motion_to_pwm_ms": m2p, "motion_to_class_ms": m2c, "class_pct": round(need, 1),
            "pulses": len(pulses), "cmd_to_ack_ms": c2a,
            "cmds": len(sent), "acked": len(acked)}
