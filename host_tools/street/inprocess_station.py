"""The reference vacuum station beside an in-process street.

LockstepStation (no broker): the real StationService and Coordinator, its paho client
never connected: what the inlets publish reaches StationService._handle through the bus,
its publishes go back onto the bus, and its ticks run on the engine's virtual clock as its
own _loop would run them (messages first, then coordinator.tick, then the summary).

PacedStation (a broker): the real StationService on its own thread and paho session, its
clocks read from the engine (virtual ms, scenario wall time), as run.py runs it.
"""

import time

from host_tools.station.coordinator import Coordinator
from host_tools.station.service import StationService

STATION_FILTERS = ("state", "event", "status")


class _BusClient:
    """What StationService._act/_publish call on its paho client, onto the bus."""

    def __init__(self, bus):
        self.bus = bus

    def publish(self, topic, payload, qos=0, retain=False):
        self.bus.publish(topic.encode() if isinstance(topic, str) else topic, payload, retain)

    def is_connected(self):
        return False

    def loop_stop(self):
        pass


class LockstepStation:
    def __init__(self, engine, bus, prefix, site, wall_s):
        self.engine = engine
        self.svc = StationService("in-process", 0, prefix, site,
                                  coordinator=Coordinator(first_cycle=1000),
                                  clock_ms=lambda: float(engine.now), wall_s=wall_s,
                                  client_id="inprocess-station")
        self.svc.client = _BusClient(bus)
        self.queue = []
        self.handled = 0
        self.ticks = 0
        self.handle_s = 0.0
        self._due = None
        for ch in STATION_FILTERS:
            bus.listen("%s/%s/inlet/+/%s" % (prefix, site, ch), self._arrived)

    def _arrived(self, topic, payload):
        self.queue.append(("msg", topic, bytes(payload)))
        self._wake(self.engine.now)

    def _wake(self, t):
        if self._due is None or t < self._due:
            self._due = t
            self.engine.at(t, self._tick, t)

    def _tick(self, t):
        if t != self._due:
            return False  # superseded by a sooner one
        self._due = None
        c0 = time.perf_counter()
        svc = self.svc
        q, self.queue = self.queue, []
        for item in q:
            svc._handle(item)
        now = float(self.engine.now)
        for act in svc.coord.tick(now):
            svc._act(act, now)
        svc._publish_summary(now)
        self.handled += len(q)
        self.ticks += 1
        self.handle_s += time.perf_counter() - c0
        self._wake(self.engine.now + max(1, int(svc.coord.next_due_ms(now))))
        return False

    def start(self):
        self._wake(self.engine.now)

    def stop(self):
        pass

    def figures(self):
        return {"messages": self.handled, "ticks": self.ticks,
                "cpu_s": round(self.handle_s, 3), "grants": len(self.svc.grants),
                "alarms": len(self.svc.alarms)}


class PacedStation:
    def __init__(self, engine, host, port, prefix, site, wall_s, margin_s):
        self.svc = StationService(host, port, prefix, site,
                                  coordinator=Coordinator(first_cycle=1000,
                                                          confirm_margin_s=margin_s),
                                  clock_ms=lambda: float(engine.now), wall_s=wall_s,
                                  client_id="inprocess-station")
        self.svc.client.reconnect_delay_set(1, 2)

    def start(self):
        self.svc.start()

    def stop(self):
        try:
            self.svc.stop()
        except (OSError, RuntimeError):
            pass

    def figures(self):
        snap = self.svc.snapshot()
        return {"grants": len(snap["grants"]), "alarms": len(snap["alarms"]),
                "queued": self.svc._q.qsize()}
