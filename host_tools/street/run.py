"""The street runner behind `make demo`: every device of a scenario runs as the real firmware
under MicroPython on the simulated board (one process each, host_tools.vdevice), all on ONE
scenario clock, with a broker, the reference vacuum station and the scenario's broker outages.

The scenario clock: wall(t) = start_wall + (t - real0) * speed, on the host's monotonic-ish
time_ns. Every device gets the same wall0/real0/pace (boot_device.py), so devices started at
different moments agree on the hour; the station gets clocks read from it too.

Devices are launched LEAD seconds of real time before the scenario starts (their wall clock
then reads a little before start_wall): booting a device costs the host about half a CPU
second, which at 720x is six scenario minutes, and the street should be up when the
scenario begins. Each runs until the scenario's end by itself (its run_s) and writes its
history.json on the way out; Ctrl-C (SIGINT, as at the REPL) ends the stragglers and, when the
person watching asks for it, all of them early.

`Run(opts).run(on_tick)` does it all and returns a result dict (report.py writes it up).
"""

import json
import os
import signal
import subprocess
import threading
import time
from collections import deque
from pathlib import Path

from host_tools import vdevice
from host_tools.procstat import cpu_s as proc_cpu_s
from host_tools.procstat import host_busy_s
from host_tools.setup import apt
from host_tools.setup import mosquitto as mosquitto_setup

from . import account, devices, world
from . import scenario as scn
from .live import Watcher

DEFAULT_SPEED = 720.0
# The street `make demo` runs unless told otherwise (measured on a 2-core host: see
# docs/demo.md): about 0.2 of a core per device at 720x, so six devices leave room for the
# broker, the station, the live view and whatever else the machine does.
DEFAULT_POLES = 4
DEFAULT_INLETS = 2
DEVICE_HEAP = "4M"
BOOT_CPU_S = 0.6  # host CPU seconds a device takes to boot (import + connect), measured
STOP_WAIT_S = 30  # real seconds a device has to write its history after SIGINT
END_GRACE_S = 5.0  # real seconds a device has to reach its own end (its boot's minutes late)
CPU_SAMPLE_S = 2.0
# The devices' telemetry period in the demo: every scenario minute (the firmware's default is
# hourly, for airtime), so the live view moves and "fell behind" can be seen minute by minute.
LIVE_TELEMETRY_S = 60


class ScenarioClock:
    """Scenario wall time (UTC epoch s) from the host clock, `speed` times faster."""

    def __init__(self, start_wall: float, speed: float, real0_ns: int):
        self.start_wall = start_wall
        self.speed = speed
        self.real0_ns = real0_ns
        self.launch_ns = time.time_ns()

    def wall(self, now_ns: int | None = None) -> float:
        now_ns = time.time_ns() if now_ns is None else now_ns
        return self.start_wall + (now_ns - self.real0_ns) / 1e9 * self.speed

    def station_ms(self) -> float:
        """The station's monotonic clock: scenario ms since the runner set the clock up."""
        return (time.time_ns() - self.launch_ns) / 1e6 * self.speed

    def real_s_until(self, wall: float) -> float:
        return (wall - self.wall()) / self.speed


class BrokerBox:
    """Mosquitto (host_tools.broker) when installed or installable, else the pure-Python
    MiniBroker. stop()/start() on the same port play a broker outage."""

    def __init__(self, want: str = "auto", say=print):
        self.kind = _pick_broker(want, say)
        self._mosq = None
        self._mini = None
        self.port = 0
        self.up = False

    def start(self) -> "BrokerBox":
        if self.kind == "mosquitto":
            from host_tools.broker import Broker

            if self._mosq is None:
                self._mosq = Broker()
            self._mosq.start()
            self.port = self._mosq.port
        else:
            from host_tools.minibroker import MiniBroker

            self._mini = MiniBroker(port=self.port).start()
            self.port = self._mini.port
        self.up = True
        return self

    def stop(self) -> None:
        if self._mosq is not None:
            self._mosq.stop()
        if self._mini is not None:
            self._mini.stop()
            self._mini = None
        self.up = False

    def close(self) -> None:
        self.stop()
        if self._mosq is not None:
            self._mosq.close()
            self._mosq = None

    def pid(self) -> int | None:
        if self._mosq is not None and self._mosq.proc is not None:
            return self._mosq.proc.pid
        return None

    def describe(self) -> str:
        if self.kind == "mosquitto":
            return f"Mosquitto ({mosquitto_setup.find()}) on 127.0.0.1:{self.port}"
        return (f"MiniBroker (pure Python, in this process; Mosquitto is not installed) on "
                f"127.0.0.1:{self.port}")


def _pick_broker(want: str, say) -> str:
    if want in ("mosquitto", "mini"):
        if want == "mosquitto" and not mosquitto_setup.find():
            raise SystemExit("--broker mosquitto: Mosquitto is not installed")
        return "mosquitto" if want == "mosquitto" else "mini"
    if mosquitto_setup.find():
        return "mosquitto"
    if apt.can_install():
        try:
            mosquitto_setup.ensure()
            return "mosquitto"
        except (SystemExit, OSError, subprocess.CalledProcessError) as e:
            say(f"could not install Mosquitto ({e}); using the MiniBroker")
    return "mini"


class Device:
    """One device process and what it printed (drained by a thread: a full pipe would stop
    the device)."""

    def __init__(self, dev_id: str, role: str, folder: Path, proc: subprocess.Popen):
        self.id, self.role, self.folder, self.proc = dev_id, role, folder, proc
        self.lines: deque = deque(maxlen=400)
        self.summary: dict | None = None
        self.cpu_s = 0.0
        self.started_ns = time.time_ns()
        self.ended_ns: int | None = None
        self._reader = threading.Thread(target=self._read, name=f"out:{dev_id}", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            if line.startswith("SUMMARY "):
                try:
                    self.summary = json.loads(line[len("SUMMARY "):])
                except ValueError:
                    self.lines.append(line)
                continue
            self.lines.append(line)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def sample_cpu(self) -> None:
        cpu = proc_cpu_s(self.proc.pid)
        if cpu is not None:
            self.cpu_s = cpu

    def interrupt(self) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGINT)

    def wait(self, timeout_s: float) -> None:
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()  # by its own PID
            self.proc.wait()
            self.lines.append(f"(killed: no exit {timeout_s:.0f} s after Ctrl-C)")
        self._reader.join(5)
        if self.ended_ns is None:
            self.ended_ns = time.time_ns()
        (self.folder / "console.log").write_text("\n".join(self.lines) + "\n")

    def history(self, end_wall: float) -> dict | None:
        """The device's history cut at the scenario's end (a device runs a few scenario
        minutes past it: its boot's); the device's own file is kept as history.full.json."""
        path = self.folder / "history.json"
        try:
            h = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        if h.get("end_wall", 0) <= end_wall:
            return h
        path.rename(self.folder / "history.full.json")
        h = trim_history(h, end_wall)
        path.write_text(json.dumps(h))
        return h


def trim_history(h: dict, end: float) -> dict:
    """A history (simstreet.py) as it stood at wall time `end`."""
    h = dict(h, end_wall=end)
    for key in ("lamp", "levels", "requests", "link"):
        if key in h:
            h[key] = [e for e in h[key] if e[0] <= end]
    if "detections" in h:
        h["detections"] = [t for t in h["detections"] if t <= end]
    if "opens" in h:
        late = [o for o in h["opens"] if o[0] > end]
        h["opens"] = [[o[0], o[1] if o[1] is None or o[1] <= end else None]
                      for o in h["opens"] if o[0] <= end]
        # simbin counts a discharge when an opening empties the bin: one per late opening
        h["discharges"] = max(0, h.get("discharges", 0) - len(late))
    return h


def encounters_while_behind(encounters: list, late: list) -> list:
    """The dark encounters at a pole during a minute in which that pole fell behind (its
    telemetry gap [at, at + gap_s] held one): the simulation's doing, perhaps, not the
    agent's."""
    spans: dict = {}
    for x in late:
        spans.setdefault(x["device"], []).append((x["at"], x["at"] + x["gap_s"]))
    return [e for e in encounters
            if any(a <= e["dark_from"] <= b + 1 for a, b in spans.get(e["pole"], ()))]


class Options:
    def __init__(self, scenario=scn.DEFAULT, speed=DEFAULT_SPEED, poles=DEFAULT_POLES,
                 inlets=DEFAULT_INLETS, seed=0, hours=None, out="out", broker="auto",
                 heap=DEVICE_HEAP, in_process=False, telemetry_s=LIVE_TELEMETRY_S):
        self.scenario, self.speed, self.poles, self.inlets = scenario, speed, poles, inlets
        self.seed, self.hours, self.out, self.broker, self.heap = seed, hours, out, broker, heap
        # The firmware's decision modules under CPython, every agent in this process
        # (host_tools/street/inprocess.py; docs/street.md says what differs from the boards).
        self.in_process = in_process
        self.telemetry_s = telemetry_s  # None: the firmware's default (make bench's airtime)


class Run:
    """One run of a street. run() -> result dict; stop() from any thread ends it early."""

    def __init__(self, opts: Options, say=print):
        self.opts = opts
        self.say = say
        self.out = Path(opts.out)
        self._stop = threading.Event()
        self.stopped_early = False
        self.scenario = scn.load(opts.scenario, poles=opts.poles, inlets=opts.inlets,
                                 seed=opts.seed, hours=opts.hours)
        self.world = world.build(self.scenario)
        self.devices: dict[str, Device] = {}
        self.inproc = None  # the in-process street (opts.in_process)
        self.broker: BrokerBox | None = None
        self.station = None
        self.watcher: Watcher | None = None
        self.clock: ScenarioClock | None = None
        self.outage_log: list[dict] = []
        self.cpu: dict = {}
        self.phase = "setting up"

    def stop(self) -> None:
        """End the run now (Ctrl-C): devices still write what they have."""
        self.stopped_early = True
        self._stop.set()

    def run(self, on_tick=None) -> dict:
        """on_tick(run): called about 4 times a second from this thread while it runs."""
        try:
            self._start()
            self._loop(on_tick)
        finally:
            self._finish()
        return self._result()

    # ---- start ----

    def _start(self) -> None:
        s = self.scenario
        opts = self.opts
        dev_dir = self.out / "devices"
        self.out.mkdir(parents=True, exist_ok=True)
        self.broker = BrokerBox(opts.broker, self.say)
        self.broker.start()
        self.say(f"broker: {self.broker.describe()}")
        folders = devices.write(s, dev_dir, "127.0.0.1", self.broker.port,
                                telemetry_s=opts.telemetry_s)
        for dev_id, folder in folders.items():
            (folder / "stimuli.json").write_text(json.dumps(self.world.stimuli_for(dev_id)))
            for stale in ("history.json", "history.full.json", "console.log"):
                (folder / stale).unlink(missing_ok=True)
        n = len(folders)
        lead_s = 1.0 + BOOT_CPU_S * n / max(1, os.cpu_count() or 1)
        real0 = time.time_ns() + int(lead_s * 1e9)
        self.clock = clock = ScenarioClock(s["start_wall"], opts.speed, real0)
        prefix = self._prefix()
        self.watcher = Watcher("127.0.0.1", self.broker.port, prefix, s["site"], clock,
                               self.world.poles, self.world.inlets)
        self.watcher.start()
        self._start_station(prefix)
        self.phase = "booting devices"
        self._cpu0 = host_busy_s()
        self._t0 = time.monotonic()
        if opts.in_process:
            from . import inprocess

            self.inproc = inprocess.InProcessStreet(s, self.world, "127.0.0.1",
                                                    self.broker.port, opts.speed,
                                                    real0_ns=real0, station=False).start()
            return
        roles = {d: "streetlight" for d, _ in self.world.poles}
        roles.update({d: "inlet" for d, _ in self.world.inlets})
        for dev_id, folder in folders.items():
            if self._stop.is_set():
                break
            # It ends by itself at the scenario's end (plus the few scenario minutes its boot
            # took): a run that ends is a clean end; Ctrl-C only for stragglers and on request.
            run_s = max(1.0, s["end_wall"] - clock.wall())
            proc = vdevice.start(folder, run_s=run_s, heap=opts.heap, pace=1 / opts.speed,
                                 wall0=s["start_wall"], real0=real0, stimuli="stimuli.json",
                                 history="history.json")
            self.devices[dev_id] = Device(dev_id, roles[dev_id], folder, proc)

    def _prefix(self) -> str:
        from agent import config

        raw = json.loads((self.out / "devices" / self.world.device_ids()[0] /
                          "config.json").read_text())
        return config.load(raw)["mqtt"]["prefix"]

    def _start_station(self, prefix: str) -> None:
        if not self.world.inlets:
            return
        from host_tools.station.coordinator import Coordinator
        from host_tools.station.service import StationService

        clock = self.clock
        assert clock is not None and self.broker is not None
        # A 100 ms stall of the host is a minute or more of scenario time: give an inlet's
        # confirmation that much more room (as tests/broker/test_inlet_day.py does).
        margin_s = max(15.0, 0.4 * clock.speed)
        coord = Coordinator(first_cycle=1000, confirm_margin_s=margin_s)
        self.station = StationService("127.0.0.1", self.broker.port, prefix,
                                      self.scenario["site"], coordinator=coord,
                                      clock_ms=clock.station_ms, wall_s=clock.wall,
                                      client_id="demo-station")
        # paho's reconnect delays are real seconds: after an outage, come back within a
        # scenario minute or so, not hours.
        self.station.client.reconnect_delay_set(1, 2)
        self.station.start()

    # ---- while it runs ----

    def _loop(self, on_tick) -> None:
        clock = self.clock
        assert clock is not None
        s = self.scenario
        outages = sorted(self.world.outages)
        pending = [(t, t + minutes * 60) for t, minutes in outages]
        down_until = None
        next_cpu = 0.0
        while not self._stop.is_set():
            now = clock.wall()
            if now >= s["end_wall"]:
                break
            self.phase = "running" if now >= s["start_wall"] else "booting devices"
            if down_until is None and pending and now >= pending[0][0]:
                t_from, down_until = pending.pop(0)
                self._outage_begin(t_from, down_until)
            if down_until is not None and now >= down_until:
                self._outage_end(down_until)
                down_until = None
            if time.monotonic() >= next_cpu:
                next_cpu = time.monotonic() + CPU_SAMPLE_S
                for d in self.devices.values():
                    d.sample_cpu()
            gone = [d for d in self.devices.values() if not d.alive() and d.ended_ns is None]
            for d in gone:
                d.ended_ns = time.time_ns()
                self.say(f"{d.id}: ended early (exit {d.proc.returncode}); last lines:\n  " +
                         "\n  ".join(list(d.lines)[-5:]))
            if on_tick is not None:
                on_tick(self)
            self._stop.wait(0.25)
        if down_until is not None:
            self._outage_end(clock.wall())

    def _outage_begin(self, t_from: float, t_to: float) -> None:
        assert self.broker is not None
        self.broker.stop()
        self.outage_log.append({"from": t_from, "to": t_to, "real_from": time.monotonic()})
        self.say(f"broker outage: stopped for {(t_to - t_from) / 60:.0f} scenario minutes")

    def _outage_end(self, t_to: float) -> None:
        assert self.broker is not None
        self.broker.start()
        self.outage_log[-1]["restarted_wall"] = self.clock.wall() if self.clock else t_to
        self.say("broker outage: back")

    # ---- the end ----

    def _finish(self) -> None:
        self.phase = "stopping devices"
        end_ns = time.time_ns()
        for d in self.devices.values():
            d.sample_cpu()
        if not self._stop.is_set():  # the scenario's end: give each a moment to end itself
            deadline = time.monotonic() + END_GRACE_S
            while time.monotonic() < deadline and any(d.alive() for d in self.devices.values()):
                time.sleep(0.1)
        if self.inproc is not None:
            self.inproc.stop()
            self.inproc.join()
        for d in self.devices.values():
            d.interrupt()
        for d in self.devices.values():
            d.wait(STOP_WAIT_S)
        self._wall_s = time.monotonic() - getattr(self, "_t0", time.monotonic())
        cpu1 = host_busy_s()
        cpu0 = getattr(self, "_cpu0", None)
        self._end_ns = end_ns
        if self.station is not None:
            try:
                self.station.stop()
            except (OSError, RuntimeError):
                pass
        if self.watcher is not None:
            self.watcher.stop()
        if self.broker is not None:
            self.broker.close()
        if cpu0 and cpu1:
            self.cpu["host_busy_cores"] = round((cpu1[0] - cpu0[0]) / max(1e-9, self._wall_s),
                                                2)
        self.phase = "done"

    def _result(self) -> dict:
        s, clock = self.scenario, self.clock
        histories = {d.id: h for d in self.devices.values()
                     if (h := d.history(s["end_wall"])) is not None}
        if self.inproc is not None:
            histories = {k: trim_history(h, s["end_wall"])
                         for k, h in self.inproc.histories().items()}
            for k, h in histories.items():  # where a board writes its own: one place to look
                (self.out / "devices" / k / "history.json").write_text(json.dumps(h))
        score = account.score(s, self.world, histories)
        run_wall = self._wall_s
        reached_wall = min(s["end_wall"], clock.wall(self._end_ns)) if clock else s["start_wall"]
        covered_s = max(0.0, reached_wall - s["start_wall"])
        per_dev = {}
        for d in self.devices.values():
            up_s = ((d.ended_ns or self._end_ns) - d.started_ns) / 1e9
            per_dev[d.id] = {"role": d.role, "cpu_s": round(d.cpu_s, 2),
                             "cores": round(d.cpu_s / up_s, 3) if up_s > 0 else None,
                             "exit": d.proc.returncode,
                             "loop_max_s": round((d.summary or {}).get("loop_us_max", 0) / 1e6,
                                                 1),
                             "reconnects": (d.summary or {}).get("reconnects"),
                             "history": d.id in histories}
        watch = self.watcher.report() if self.watcher else {}
        behind_enc = encounters_while_behind(score["encounters"], watch.get("late", []))
        dev_cores = sum(v["cores"] or 0 for v in per_dev.values())
        return {
            "scenario": {"name": Path(s["source"]).stem, "title": s["title"],
                         "seed": s["seed"], "hours": s["hours"], "start_wall": s["start_wall"],
                         "end_wall": s["end_wall"], "place": s["place"]["name"],
                         "utc_offset_min": s["utc_offset_min"],
                         "poles": s["poles"]["count"], "inlets": s["inlets"]["count"]},
            "broker": self.broker.describe() if self.broker else None,
            "broker_kind": self.broker.kind if self.broker else None,
            "speed": {"asked": self.opts.speed,
                      "wall_s": round(run_wall, 1),
                      "scenario_s": round(covered_s, 1),
                      # startup and the stop included: scenario time per real second
                      "reached": round(covered_s / run_wall, 1) if run_wall > 0 else None,
                      "stopped_early": self.stopped_early,
                      "stopped_at_wall": reached_wall},
            "behind": watch,
            "cpu": dict(self.cpu, devices_cores=round(dev_cores, 2),
                        per_device=per_dev, host_cores=os.cpu_count()),
            "outages": [{"from": o["from"], "to": o["to"]} for o in self.outage_log],
            "score": score,
            "encounters_while_behind": behind_enc,
            "encounter_ramp_s": s["encounter"]["ramp_s"],
            "histories": histories,
            "world": {"passages": self.world.passages, "nights": self.world.nights,
                      "deposits": self.world.deposits, "poles": self.world.poles,
                      "inlets": self.world.inlets},
            "station": self._station_figures(),
        }

    def exact_clock(self) -> dict:
        """The same street with the firmware's decision modules on one exact clock (the
        in-process mode, unpaced, its own bus and station): at hundreds of times real time
        every real millisecond a board's loop pass takes becomes most of a scenario second,
        which a 2 s ramp grace cannot absorb; this run has no such stretch, so the two
        together tell the firmware's doing from the simulation's speed."""
        from .inprocess import InProcessStreet

        t0 = time.monotonic()
        histories = InProcessStreet(self.scenario, self.world).run()
        tot = account.score(self.scenario, self.world, histories)["totals"]
        return {"encounters": tot["encounters"], "people_in_the_dark":
                tot["people_in_the_dark"], "wh": tot["wh"],
                "overflow_minutes": tot["overflow_minutes"],
                "real_s": round(time.monotonic() - t0, 1)}

    def _station_figures(self) -> dict | None:
        if self.station is None:
            return None
        snap = self.station.snapshot()
        return {"grants": len(snap["grants"]), "alarms": [list(a[1:]) for a in snap["alarms"]],
                "report": self.station.report()}
