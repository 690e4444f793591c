# Boot one device folder on the simulated board, against real networks (a real broker):
#   micropython boot_device.py DEVICE_DIR [run_s] [key=value ...]
# with the firmware, this folder and umqtt on MICROPYPATH (host_tools.upy sets that up).
# Keys: pace=1.0 (virtual time follows real time), events_ms=N (a numbered test event every
# N ms, as a role would send), ap=0 (no Wi-Fi access point), motion_ms=N (a walker passes the
# motion sensor N ms after boot), motion_after_up_ms=N (N ms after the link is first up),
# lux=N (steady ambient light); for an inlet, a bin
# (host_tools/simboard/simbin.py) with bin_level=F, bin_scale=F (busier or quieter than the
# day profile), bin_seed=N, bin_jammed=1; wall0=S real0=NS: the wall clock reads S (epoch s)
# at host time NS (ns), so paced devices started at different moments share one scenario
# clock (with pace=0, wall0 alone: the board's clock starts at wall0). Ctrl-C (SIGINT:
# host_tools.vdevice.stop) ends the run early, as run_s would.
# A street (host_tools/street): stimuli=FILE plays a world's stimuli.json on the pins (lux,
# motion pulses, a bin's deposits: simstreet.py); history=FILE writes what the device did
# (lamp levels, detections, energy meter, bin levels, valve openings, requests) as JSON at
# the end. Both paths are relative to DEVICE_DIR (or absolute).
# At the end one line "SUMMARY {json}" reports what the agent measured, and what the
# firmware did with its sockets (simnet.py; recorded when host_tools.vdevice started us with
# sockrec/ on MICROPYPATH, else "sock_recorder" is false): the longest socket timeout it set,
# calls that could have waited forever, connects on a blocking socket, poll waits, DNS lookups.
import json
import os
import sys

import network
import simclock
import simworld
import utime  # the real clock: time is the simulated one here

try:
    import simnet  # what the firmware does with its sockets
except ImportError:  # a build without sockets
    simnet = None

args = sys.argv[1:]
device_dir = args[0]
run_s = float(args[1]) if len(args) > 1 else 0
opts = {}
for a in args[2:]:
    k, v = a.split("=", 1)
    opts[k] = v

pace = float(opts.get("pace", "1.0"))
if "wall0" in opts and pace == 0:  # unpaced: the board starts at wall0 (a test's street)
    simclock.set_wall_time(float(opts["wall0"]))
elif "wall0" in opts:
    elapsed_s = (utime.time_ns() - int(opts["real0"])) / 1e9
    simclock.set_wall_time(float(opts["wall0"]) + elapsed_s / pace)
else:
    simclock.set_wall_time(utime.time())
simclock.set_pace(pace)
simworld.seed(int(opts.get("bin_seed", "1")))
os.chdir(device_dir)
with open("secrets.json") as f:
    wifi = json.load(f)["wifi"]
if opts.get("ap", "1") != "0":
    simworld.wifi_ap(wifi["ssid"], wifi.get("password", ""), rssi=-61, connect_ms=300)

with open("board.json") as f:
    pins = json.load(f)["pins"]
if pins.get("light_adc") is not None:
    simworld.set_adc_mv(pins["light_adc"], float(opts.get("lux", "0")) * 10)  # default cal.
if "motion_ms" in opts and pins.get("motion") is not None:
    simworld.pulse_at_ms(int(opts["motion_ms"]), pins["motion"], 1500)

street = None
if "stimuli" in opts:
    import simstreet

    from agent import config

    with open("board.json") as f:
        board = json.load(f)
    with open("config.json") as f:
        street = simstreet.Street(opts["stimuli"], board, config.load(json.load(f)))

bin_ = None
if street is not None:
    bin_ = street.bin
    if bin_ is not None:
        simworld.keep_history(False)  # a day of pings: the bin keeps its own record
elif pins.get("us_trig") is not None and "bin_level" in opts:
    import simbin

    with open("board.json") as f:
        low = json.load(f).get("active_low", [])
    with open("config.json") as f:
        inlet = json.load(f).get("inlet", {})
    bin_ = simbin.Bin(pins, low, empty_m=inlet.get("empty_m", 1.2),
                      full_m=inlet.get("full_m", 0.35), level=float(opts["bin_level"]),
                      scale=float(opts.get("bin_scale", "1")),
                      tz_offset_min=inlet.get("tz_offset_min", 60),
                      jammed=opts.get("bin_jammed") == "1")
    simworld.keep_history(False)  # a day of pings: the bin keeps its own record

from agent import app  # noqa: E402

agent = app.current = app.Agent("")
agent.banner()
if street is not None:
    street.watch(agent)
sent = [0]


def _event():
    agent.comms.event({"event": "test", "n": sent[0]}, simclock.now_ms())
    sent[0] += 1
    simclock.after_ms(int(opts["events_ms"]), _event)


if "events_ms" in opts and agent.comms is not None:
    simclock.after_ms(int(opts["events_ms"]), _event)


def _walker_once_up():
    if agent.comms.link.up:
        simworld.pulse_at_ms(simclock.now_ms() + int(opts["motion_after_up_ms"]),
                             pins["motion"], 1500)
    else:
        simclock.after_ms(20, _walker_once_up)


if "motion_after_up_ms" in opts and pins.get("motion") is not None and agent.comms is not None:
    simclock.after_ms(20, _walker_once_up)

try:
    agent.run(int(run_s * 1000) if run_s else None)
except KeyboardInterrupt:
    print("agent: stopped (Ctrl-C)")
finally:
    link = agent.comms.link if agent.comms else None
    lamp = [f * 100 for _, f in simworld.pwm_fraction_history(pins["lamp_pwm"])] \
        if pins.get("lamp_pwm") is not None and agent.role == "streetlight" else [0]
    if street is not None:
        street.drain()  # the board's PWM record is folded into the street's
        if street.role == "streetlight":
            lamp = [street.lamp_max_pct(), street.lamp_last_pct()]
        if "history" in opts:
            street.write(opts["history"])
    summary = {
        "lamp_max_pct": max(lamp), "lamp_last_pct": lamp[-1],
        "state": agent.state(),
        "loop_us_max": agent.loop_us_max,
        "ticks": agent.ticks,
        "events_made": sent[0],
        "link_state": link.state if link else None,
        "connects": link.connects if link else 0,
        "reconnects": link.reconnects if link else 0,
        "wifi_scans": network.scans[0],
        "queued": len(link.outbox) if link else 0,
        "dropped": link.outbox.dropped if link else 0,
        "last_error": link.last_error if link else "",
        "acks": agent.comms.acks if agent.comms else 0,
        "bin": bin_.summary() if bin_ is not None else None,
        "valve_stops": agent.role_impl.core.discharge.stops if bin_ is not None else None,
    }
    if simnet is not None:
        summary.update(simnet.figures())
    print("SUMMARY " + json.dumps(summary))
