"""Run the benchmarks, print what they measured, and write BENCHMARKS.md (repo root) and
bench.json beside it (the raw figures). Issue 14's figures (docs in BENCHMARKS.md itself):

    python -m host_tools.bench            # everything, about 15 minutes on 2 cores
    python -m host_tools.bench --quick    # residential street only, no chip figures

lighting / collection (bench/lighting.py, collection.py): baselines and oracles on the
street's world (host_tools.street), this controller from real agents in a street run
(bench/streetrun.py, the demo's runner), which also counts the airtime. oneagent.py: one
agent's CPU at real time and speed-ups, motion-to-PWM and command-to-ack latency. scale.py:
the coordinator with 10,000 inlets in-process. report.py writes the page.

The figures below were printed before issue 14 and still are:

streetlight-day / inlet-day: a streetlight agent, then an inlet agent over a filling bin (its
role, link and comms loaded), lives 24 virtual hours on the simulated board under the 64-bit
MicroPython unix port: wall time and loop passes (speed only: the heap is the chip's business).

simboard: how fast the simulated board runs a virtual night, and how closely a paced sleep
follows real time (the tests check only what it asks of the host clock).

chip: the heap each role needs on the chip-like interpreter (32-bit, float32), frozen and as
.mpy files, against its budget and goal; bytes per quiet loop pass; .mpy bytes (bench/chip.py).

link-faults: a streetlight agent against a broker killed and restarted, a refusing port and
a tarpit (host_tools.bench.faults, the faults of tests/broker/test_link_faults.py), a few
seconds each: the worst loop pass in real time, and what the firmware did with its sockets
as the simulated board recorded it. The tests assert only the recorded figures (no call
without a timeout, none longer than mqtt.op_timeout_ms, connects that do not block): the
real-time figure depends on how busy this host is, so it is shown here and not asserted.
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from host_tools import chipfit
from host_tools.bench import chip, scale_inprocess
from host_tools.setup.checks import compile_tree
from host_tools.upy import MPLIB, ROOT, SIMBOARD, micropython_env, micropython_exe

HOST_HEAP = "1M"  # room enough: this run measures speed


def precompiled_env(tmp: Path) -> dict:
    """Firmware and simulated board as .mpy, as a device runs them: compiling source on the
    fly would cost heap the chip never spends."""
    for src, name in ((ROOT / "firmware", "fw"), (SIMBOARD, "sim"), (MPLIB, "lib")):
        errors = compile_tree(src, tmp / name)
        if errors:
            raise SystemExit("\n".join(errors))
    env = micropython_env()
    env["MICROPYPATH"] = f"{tmp / 'fw'}:{tmp / 'sim'}:{tmp / 'lib'}"
    return env


def agent_day(role: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        dev = Path(tmp) / "device"
        dev.mkdir()
        chipfit.device_folder(dev, role)  # as a city installs it: a place, a key
        out = subprocess.run(
            [micropython_exe(), "-X", f"heapsize={HOST_HEAP}",
             str(Path(__file__).parent / "day_upy.py"), str(dev), "24", role],
            env=precompiled_env(Path(tmp)), capture_output=True, text=True, timeout=600,
        )
    if out.returncode != 0:
        raise SystemExit(f"{role}-day failed:\n{out.stdout}{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def link_burst() -> dict:
    """A device makes an event every 10 ms for 6 s against a local Mosquitto: how many get
    through with QoS 1, and the worst loop pass meanwhile."""
    from host_tools import vdevice
    from host_tools.broker import Broker

    with tempfile.TemporaryDirectory() as tmp, Broker() as broker:
        cfg = {"device": {"id": "bench-2", "role": "streetlight"},
               "mqtt": {"host": "127.0.0.1", "port": broker.port, "queue_len": 512,
                        "signed_cmds": False}}
        dev = vdevice.make_device(Path(tmp) / "dev", cfg, {"wifi": {"ssid": "street"}})
        summary, _ = vdevice.finish(vdevice.start(dev, run_s=6, events_ms=10))
    return summary


FAULT_OP_TIMEOUT_MS = 100


def _fault_device(tmp: Path, port: int) -> Path:
    from host_tools import vdevice

    cfg = {"device": {"id": "bench-3", "role": "streetlight"},
           "mqtt": {"host": "127.0.0.1", "port": port, "keepalive_s": 10, "backoff_max_s": 2,
                    "connect_timeout_s": 3, "op_timeout_ms": FAULT_OP_TIMEOUT_MS,
                    "signed_cmds": False}}
    return vdevice.make_device(tmp / "dev", cfg, {"wifi": {"ssid": "street", "password": "pw"}})


def _run_against(port: int, run_s: float, steps: list) -> dict:
    """Boot a device for run_s against `port`; steps: (seconds after its start, fn), in order.
    Returns the device's summary."""
    import time

    from host_tools import vdevice

    with tempfile.TemporaryDirectory() as tmp:
        proc = vdevice.start(_fault_device(Path(tmp), port), run_s=run_s, events_ms=250)
        t0 = time.monotonic()
        try:
            for at_s, fn in steps:
                time.sleep(max(0.0, at_s - (time.monotonic() - t0)))
                fn()
            summary, _ = vdevice.finish(proc)
        finally:
            if proc.poll() is None:
                proc.kill()
    return summary


def link_faults() -> dict:
    """Each fault for a few seconds: {name: the device's summary}."""
    from host_tools.bench.faults import Tarpit, persistent_broker
    from host_tools.broker import Broker, free_port

    out = {}
    brokers = []  # whatever was started, closed at the end
    with tempfile.TemporaryDirectory() as keep:  # the sessions the killed broker saves
        try:
            brokers.append(persistent_broker(Path(keep)))
            port = brokers[0].port
            # killed (SIGTERM: to the device the same dead socket as SIGKILL) at 1.5 s,
            # back on the same port 2 s later
            out["broker-kill"] = _run_against(port, 6, [
                (1.5, brokers[0].stop),
                (3.5, lambda: brokers.append(persistent_broker(Path(keep), port=port)))])

            port = free_port()  # nothing listens there: every connect is refused, for 2 s
            out["refusing"] = _run_against(port, 5, [
                (2, lambda: brokers.append(Broker(port=port).start()))])

            port = free_port()
            pit = Tarpit(port)  # accepts, then never answers: CONNACK never comes

            def end_pit():
                pit.close()
                brokers.append(Broker(port=port).start())

            try:  # longer than connect_timeout_s (3 s): the device gives up on it at least once
                out["tarpit"] = _run_against(port, 7, [(4.5, end_pit)])
            finally:
                pit.close()
        finally:
            for b in brokers:
                b.close()
    return out


def _socket_figures(s: dict) -> str:
    return (f"sockets {s['sock_opened']}, longest timeout {s['sock_timeout_max_ms']} ms "
            f"(op_timeout_ms {FAULT_OP_TIMEOUT_MS}), calls without a timeout "
            f"{s['sock_unbounded_calls']}, blocking connects {s['sock_blocking_connects']} of "
            f"{s['sock_connects']}, longest poll {s['poll_wait_max_ms']} ms, "
            f"DNS lookups {s['dns_lookups']}")


def simboard_speed() -> dict:
    """The simulated board's own speed (the tests assert only what it asks of the host clock):
    86,400 one-second virtual sleeps under MicroPython, and the real time a paced (1.0) 300 ms
    sleep takes."""
    import time

    night = ("import time, simclock\nfor _ in range(86400):\n    time.sleep_ms(1000)\n"
             "print(simclock.now_us())\n")
    paced = ("import time, utime, simclock\nsimclock.set_pace(1.0)\nt0 = utime.ticks_us()\n"
             "time.sleep_ms(300)\nprint(utime.ticks_diff(utime.ticks_us(), t0))\n")
    t0 = time.perf_counter()
    subprocess.run([micropython_exe(), "-c", night], env=micropython_env(), check=True,
                   capture_output=True, timeout=120)
    night_s = time.perf_counter() - t0
    out = subprocess.run([micropython_exe(), "-c", paced], env=micropython_env(), check=True,
                         capture_output=True, text=True, timeout=60)
    return {"night_s": night_s, "paced_300ms_s": int(out.stdout.split()[-1]) / 1e6}


# The street runs (host_tools.bench.streetrun): like-for-like streets of the demo's size; the
# lighting tables use the same poles. square: its inlets (collection), one pole.
# park: 7 poles, the fewest that keep its sensor faults (poles 4 and 7).
STREET_RUNS = (("residential", 4, 2), ("arterial", 4, 0), ("park", 7, 0), ("square", 1, 6))
LIGHTING = ("residential", "arterial", "park")
# Real agents over MQTT (about 2 minutes each at 720x): the headline street and the one with
# two pipe branches; the others' controller rows come from the in-process street (the same
# firmware decisions on an exact clock) unless --all-streets, so a full run stays well under
# 15 minutes on 2 cores.
REAL_STREETS = ("residential", "square")
COLLECTION = ("residential", "square")


def parse_args(argv):
    import argparse

    p = argparse.ArgumentParser(prog="python -m host_tools.bench", description=(
        "Benchmarks: speed, heap, link faults, and issue 14's lighting, collection, "
        "responsiveness, airtime and scale figures; writes BENCHMARKS.md and bench.json."))
    p.add_argument("--quick", action="store_true",
                   help="the residential street run only, one run of each timing, no chip "
                        "figures, shorter one-agent runs (about 5 minutes)")
    p.add_argument("--no-chip", action="store_true", help="skip the chip-like heap figures")
    p.add_argument("--all-streets", action="store_true",
                   help="real agents on every scenario's street, not only "
                        f"{' and '.join(REAL_STREETS)} (about 4 minutes more)")
    p.add_argument("--no-street", action="store_true",
                   help="no street runs (no controller rows, no airtime): baselines only")
    p.add_argument("--speed", type=float, default=720.0,
                   help="scenario seconds per real second of the street runs (default 720)")
    p.add_argument("--md", default=str(ROOT / "BENCHMARKS.md"),
                   help="where the page goes (default BENCHMARKS.md at the repo root)")
    p.add_argument("--json", default=None,
                   help="where the raw figures go (default bench.json beside the page)")
    p.add_argument("--out", default=str(ROOT / "out" / "bench"),
                   help="work folder for the street runs' devices (default out/bench)")
    p.add_argument("--from-json", metavar="JSON",
                   help="measure nothing: write the page again from an earlier run's raw "
                        "figures (e.g. after a change to the page's layout)")
    a = p.parse_args(argv)
    if not 1 <= a.speed <= 5000:
        p.error(f"--speed: must be within 1..5000, got {a.speed:g}")
    return a


def _say(msg):
    print(msg, flush=True)


def existing_figures(fault_runs: int) -> dict:
    """The figures `make bench` printed before issue 14 (printed as before), and the
    link-fault medians for the Responsiveness section."""
    lines = []

    def keep(line):
        lines.append(line)
        _say(line)

    sb = simboard_speed()
    keep(f"simboard: a virtual night of 1 s sleeps in {sb['night_s']:.2f} s under MicroPython; "
         f"a paced 300 ms sleep took {sb['paced_300ms_s'] * 1000:.0f} ms of real time")
    b = link_burst()
    keep(f"link-burst: {b['events_made']} events made in 6 s, {b['queued']} still queued, "
         f"{b['dropped']} dropped; worst loop pass {b['loop_us_max'] / 1000:.1f} ms")
    keep(f"link-burst sockets: {_socket_figures(b)}")
    faults: dict = {}
    for i in range(fault_runs):
        for name, s in link_faults().items():
            f = faults.setdefault(name, {"runs_ms": [], "sock_timeout_max_ms": 0,
                                         "sock_unbounded_calls": 0})
            f["runs_ms"].append(s["loop_us_max"] / 1000)
            f["sock_timeout_max_ms"] = max(f["sock_timeout_max_ms"], s["sock_timeout_max_ms"])
            f["sock_unbounded_calls"] += s["sock_unbounded_calls"]
            keep(f"link-faults {name} (run {i + 1}/{fault_runs}): worst loop pass "
                 f"{s['loop_us_max'] / 1000:.1f} ms real time; sessions opened "
                 f"{s['connects']}, lost {s['reconnects']}; {s['queued']} events queued at the "
                 f"end; last error {s['last_error'] or '-'!r}")
            keep(f"link-faults {name} sockets: {_socket_figures(s)}")
    for f in faults.values():
        runs = sorted(f["runs_ms"])
        f["median_ms"] = runs[len(runs) // 2]
    for role in ("streetlight", "inlet"):
        r = agent_day(role)
        keep(f"{role}-day: 24 virtual hours in {r['wall_s']:.2f} s wall "
             f"({r['virtual_s_per_wall_s']}x real time), {r['ticks']} loop passes")
    return {"lines": lines, "link_faults": faults}


def _run_summary(result) -> dict:
    sp, behind, tot = result["speed"], result.get("behind") or {}, result["score"]["totals"]
    return {"speed_asked": sp["asked"], "speed_reached": sp["reached"], "wall_s": sp["wall_s"],
            "late_count": behind.get("late_count", 0),
            "late_max_s": round(behind.get("late_max_s", 0), 1),
            "account_encounters": tot["encounters"],
            "account_encounters_while_behind": len(result.get("encounters_while_behind", [])),
            "agent_wh": round(sum((h.get("energy") or {}).get("wh") or 0
                                  for h in result["histories"].values()
                                  if h.get("role") == "streetlight"), 1),
            "host_busy_cores": result["cpu"].get("host_busy_cores"),
            "devices_cores": result["cpu"].get("devices_cores"),
            "station": (result.get("station") or {}).get("report"),
            "station_alarms": _alarm_kinds(result)}


def _alarm_kinds(result) -> dict:
    """{alarm kind: count} the station raised in a street run."""
    out: dict = {}
    for a in (result.get("station") or {}).get("alarms") or []:
        kind = next((x for x in a if isinstance(x, str) and x in (
            "no_confirm", "aborted", "jam", "vacuum_lost", "vacuum_restored")), str(a[:3]))
        out[kind] = out.get(kind, 0) + 1
    return out


def street_figures(args, runs, figs) -> tuple[dict, dict, dict | None]:
    """(lighting {scenario: table}, collection {scenario: table}, residential airtime)."""
    from host_tools.bench import collection, inproc, lighting, streetrun
    from host_tools.street import scenario as scn
    from host_tools.street import world as street_world

    light, coll, air = {}, {}, None
    for name, poles, inlets in STREET_RUNS:
        if name not in LIGHTING and name not in COLLECTION:
            continue
        try:
            s = scn.load(name, poles=poles, inlets=inlets)
        except scn.ScenarioError as e:
            raise SystemExit(f"bench: scenario {e}") from None
        w = street_world.build(s)
        result, why = None, None
        if (name, poles, inlets) not in runs:
            why = ("--no-street: no street run" if args.no_street else
                   "--quick: only the residential street runs" if args.quick else
                   "real agents run on " + " and ".join(REAL_STREETS) + " only (the "
                   "in-process row is this controller here; --all-streets for real agents)")
        else:
            _say(f"street run: {name}, {poles} poles, {inlets} inlets, 24 h at "
                 f"{args.speed:g}x ...")
            try:
                result = streetrun.run(name, poles, inlets, args.speed,
                                       str(Path(args.out) / name), say=_say)
            except Exception as e:  # noqa: BLE001  the page says the run failed and why
                why = f"the street run failed: {type(e).__name__}: {e}"
                _say(f"  {why}")
        ip = None
        if not args.no_street:
            _say(f"in-process street: {name} (the firmware's decisions on an exact clock) ...")
            ip = _section(figs, f"inprocess-{name}", lambda s=s, w=w: inproc.run(s, w))
        if name in LIGHTING:
            _say(f"lighting: {name} baselines and oracle ...")
            b = lighting.bench(s, w, result["histories"] if result else None,
                               ip["histories"] if ip else None)
            for key, h in (("run", result), ("inproc", ip)):
                if h:
                    d = lighting.spread(lighting.boost_delays(s, w, lighting.controller_levels(
                        w, h["histories"])))
                    b[f"{key}_boost_delay_s"] = d
            if result:
                b["run"] = _run_summary(result)
            else:
                b["controller_missing"] = why
            if ip:
                b["inproc"] = {"real_s": ip["real_s"],
                               "account_encounters": ip["score"]["totals"]["encounters"]}
            light[name] = b
        if name in COLLECTION:
            _say(f"collection: {name} schedules and oracle ...")
            c = collection.bench(s, w, result, ip)
            if c is not None and result is None:
                c["controller_missing"] = why
            elif c is not None:
                c["run"] = _run_summary(result)
            coll[name] = c
        if name == "residential" and result:
            air = result["airtime"]
    return light, coll, air


def _public(ip: dict) -> dict:
    """scale_inprocess's figures without its working data (keys starting with _)."""
    return dict(ip, runs={n: {k: v for k, v in f.items() if not k.startswith("_")}
                          for n, f in ip["runs"].items()})


def _section(figs: dict, name: str, fn):
    """fn()'s figures, or None with figs["failed"][name] saying why: one part failing must
    not lose the others (the page says what is missing)."""
    try:
        return fn()
    except (Exception, SystemExit) as e:  # noqa: BLE001
        why = f"{type(e).__name__}: {e}".splitlines()[0][:300]
        figs.setdefault("failed", {})[name] = why
        _say(f"  {name} failed: {why}")
        return None


def main(argv=None) -> int:
    import datetime
    import time

    from host_tools.bench import oneagent, report, scale

    args = parse_args(sys.argv[1:] if argv is None else argv)
    t0 = time.monotonic()
    md = Path(args.md)
    js = Path(args.json) if args.json else md.with_name("bench.json")
    if args.from_json:
        try:
            figs = json.loads(Path(args.from_json).read_text())
            figs["machine"]  # noqa: B018  a bench.json has one
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise SystemExit(f"--from-json {args.from_json}: not a bench.json ({e})") from None
        report.write(figs, md, js)
        _say(f"wrote {md} and {js} from {args.from_json} (nothing measured)")
        return 0
    figs: dict = {"command": "make bench" + (" (--quick)" if args.quick else ""),
                  "generated": datetime.datetime.now(datetime.timezone.utc).strftime(
                      "%Y-%m-%d %H:%M UTC"), "quick": args.quick,
                  "machine": report.machine()}
    ex = existing_figures(1 if args.quick else 3)
    figs["speed"] = {"lines": ex["lines"]}
    figs["responsiveness"] = {"link_faults": ex["link_faults"],
                              "fault_runs": 1 if args.quick else 3}
    _say("one agent: CPU at real time and speed-ups ...")
    cpu_rows = _section(figs, "one_agent", lambda: oneagent.cpu(
        speeds=(1, 10, 100), seconds=6 if args.quick else 15, say=_say)) or []
    _say("one agent: motion-to-PWM and command-to-ack at real time ...")
    figs["responsiveness"]["latency"] = _section(figs, "latency", lambda: oneagent.latency(
        seconds=20 if args.quick else 40))
    _say("coordinator: 10,000 inlets in-process ...")
    figs["scale"] = {"one_agent": cpu_rows,
                     "agents": scale.agents_per_machine(cpu_rows, os.cpu_count() or 1),
                     "coordinator": _section(figs, "coordinator",
                                             lambda: scale.coordinator_throughput(
                                                 rounds=1 if args.quick else 5))}
    real = ("residential",) if args.quick else \
        tuple(r[0] for r in STREET_RUNS) if args.all_streets else REAL_STREETS
    _say("scale: in-process agents at real time against one broker ...")
    ns = (1000,) if args.quick else (1000, 10000)
    figs["scale"]["in_process"] = _section(figs, "scale-in-process", lambda: _public(
        scale_inprocess.figures(ns=ns, window_s=20.0 if args.quick else 30.0, say=_say)))
    runs = set() if args.no_street else {r for r in STREET_RUNS if r[0] in real}
    figs["lighting"], figs["collection"], figs["airtime"] = street_figures(args, runs, figs)
    if args.quick or args.no_chip:
        figs["chip_missing"] = "--quick" if args.quick else "--no-chip"
    else:
        _say("chip: heap figures on the chip-like interpreter (bisection, a few minutes) ...")
        figs["chip"] = _section(figs, "chip", chip.run)
        if figs["chip"]:
            for line in chip.lines(figs["chip"]):
                _say(line)
    figs["elapsed_s"] = round(time.monotonic() - t0, 1)
    report.write(figs, md, js)
    for g in figs["goals"]:
        _say(f"goal: {g['goal']}: {g['reached']}: {g['status']}")
    _say(f"wrote {md} and {js} in {figs['elapsed_s'] / 60:.1f} minutes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
