"""`--in-process` (issue 13): a whole street in ONE CPython process, every agent the firmware's
own decision cores (agent.streetlight, agent.inlet, ...) behind a thin host shell, all on
one virtual clock; for streets too large for one MicroPython interpreter per device.

    histories = inprocess.run(scenario, world, broker_host, broker_port, speed, out_dir)

gives the same history dicts as the simulated board's history.json (simstreet.py), so
account.score counts them the same way. broker_host None: no broker (an in-process bus and
an in-process vacuum station in lockstep); else one MQTT session per agent against that
broker, and the station is the caller's (run.py starts one) unless station=True.
speed None: as fast as the host goes; a number: paced, `speed` times real time.

What runs of the firmware and what the host re-creates: inprocess_agents.py's docstring
and docs/street.md, "In-process mode".
"""

import json
import os
import threading
import time
from pathlib import Path

from agent import config

from . import devices
from .inprocess_agents import HostAgent
from .inprocess_engine import Engine
from .inprocess_mqtt import Bus, NoNetwork, Sessions

ROOT = Path(__file__).resolve().parents[2]
LEAD_S = 60.0  # agents boot in the scenario minute before its start, as run.py's lead
STATION_MARGIN_S = 15.0


class InProcessStreet:
    """The agents of one street on one engine. run() plays it to the end (or stop())."""

    def __init__(self, scenario, world, broker_host=None, broker_port=None, speed=None, *,
                 station=None, real0_ns=None, boot_spread_s=None, lead_s=LEAD_S,
                 network=True, config_of=None, say=print):
        s = scenario
        self.scenario, self.world, self.say = s, world, say
        self.speed = speed if speed else None
        self.wall0 = s["start_wall"] - lead_s  # scenario wall time at engine time 0
        mono0 = None
        if real0_ns is not None and self.speed:
            # real0_ns: time.time_ns() at which the scenario's start_wall is due (run.py's
            # ScenarioClock); the engine counts on the monotonic clock from wall0.
            mono0 = time.monotonic_ns() - (time.time_ns() - real0_ns) - \
                int(lead_s / self.speed * 1e9)
        self.engine = Engine(self.speed, mono0)
        self.end_ms = int((s["end_wall"] - self.wall0) * 1000)
        self.bus = None
        self.sessions = None
        host = broker_host or "127.0.0.1"
        port = broker_port or 1883
        if broker_host is None:
            self.bus = Bus()
        else:
            self.sessions = Sessions(broker_host, broker_port)
            self.engine.io = self.sessions.poll
        board = json.loads((ROOT / "boards" / f"{devices.BOARD}.json").read_text())
        ids = world.device_ids()
        spread_s = lead_s / 2 if boot_spread_s is None else boot_spread_s
        self.agents = []
        for i, dev_id in enumerate(ids):
            raw = config_of(dev_id) if config_of is not None else \
                devices.config_for(s, dev_id, host, port)
            cfg, errors = config.check(config.CONFIG, raw)
            if errors:
                raise devices.DeviceError(f"{dev_id}: config.json: {errors[0]}")
            cfg = config.load(raw)
            topics_ = _topics(cfg)
            if not network:
                wire = NoNetwork()
            elif self.bus is not None:
                wire = self.bus.wire(topics_)
            else:
                wire = self.sessions.wire(topics_, dev_id)
            boot_ms = int(spread_s * 1000 * i / max(1, len(ids)))
            self.agents.append(HostAgent(self.engine, cfg, board, world.stimuli_for(dev_id),
                                         wire, self.wall0, boot_ms, seed=f"{s['seed']}:{dev_id}"))
        self.prefix = self.agents[0].cfg["mqtt"]["prefix"] if self.agents else "city"
        self.station = None
        if station is None:
            station = self.bus is not None
        if station and world.inlets:
            self.station = self._make_station()
        if self.bus is not None:
            for t, minutes in world.outages:
                self.engine.at(int((t - self.wall0) * 1000), self._outage, True)
                self.engine.at(int((t + minutes * 60 - self.wall0) * 1000), self._outage, False)
        self._stop = threading.Event()
        self._thread = None
        self._histories = None
        self.cpu_s = None
        self.real_s = None

    def _outage(self, down):
        self.bus.outage(down)
        return False

    def _make_station(self):
        from .inprocess_station import LockstepStation, PacedStation

        s = self.scenario
        wall = lambda: self.wall0 + self.engine.now / 1000  # noqa: E731
        if self.bus is not None:
            return LockstepStation(self.engine, self.bus, self.prefix, s["site"], wall)
        margin = max(STATION_MARGIN_S, 0.4 * (self.speed or 1))
        return PacedStation(self.engine, self.sessions.host, self.sessions.port, self.prefix,
                            s["site"], wall, margin)

    # ---- running ----

    def run(self):
        """Play to the scenario's end (or stop()); returns the histories."""
        t0, c0 = time.monotonic(), time.process_time()
        if self.station is not None:
            self.station.start()
        try:
            self.engine.run_until(self.end_ms, stop=self._stop.is_set)
        finally:
            self.real_s = time.monotonic() - t0
            self.cpu_s = time.process_time() - c0
            self._histories = {a.id: a.history() for a in self.agents}
            if self.station is not None:
                self.station.stop()
            if self.sessions is not None:
                self.sessions.close()
        return self._histories

    def start(self):
        """run() in a thread (for run.py); histories() after it ends."""
        self._thread = threading.Thread(target=self.run, name="inprocess", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()

    def join(self, timeout_s=None):
        if self._thread is not None:
            self._thread.join(timeout_s)

    def histories(self):
        return self._histories

    def figures(self):
        """What the run cost and how it kept up (for the bench)."""
        e = self.engine
        out = {"agents": len(self.agents), "events": e.events,
               "wakes": sum(a.wakes for a in self.agents),
               "lateness": e.late.summary(), "real_s": self.real_s, "cpu_s": self.cpu_s}
        if self.bus is not None:
            out["messages"] = self.bus.messages
        if self.sessions is not None:
            ss = self.sessions
            out.update({"messages": ss.sent, "received": ss.received, "sessions": ss.connects,
                        "session_failures": ss.failures})
        if self.station is not None:
            out["station"] = self.station.figures()
        return out


def _topics(cfg):
    from agent.topics import Topics

    dev, m = cfg["device"], cfg["mqtt"]
    group = m["group"] or cfg.get("inlet", {}).get("branch", "")
    return Topics(m["prefix"], dev["site"], dev["role"], dev["id"], group)


def run(scenario, world, broker_host=None, broker_port=None, speed=None, out_dir=None,
        **kw):
    """Run the street in this process; returns {device id: history dict}. With out_dir,
    each history is also written to out_dir/devices/<id>/history.json as the runner does."""
    street = InProcessStreet(scenario, world, broker_host, broker_port, speed, **kw)
    hist = street.run()
    if out_dir is not None:
        for dev_id, h in hist.items():
            folder = Path(out_dir) / "devices" / dev_id
            os.makedirs(folder, exist_ok=True)
            (folder / "history.json").write_text(json.dumps(h))
    return hist
