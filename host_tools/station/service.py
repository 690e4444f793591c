"""The vacuum station on MQTT: feeds the Coordinator what the inlets say, publishes what it
decides. Thin on purpose: every decision is in coordinator.py.

Subscribes (QoS 1) to <prefix>/<site>/inlet/+/state, .../+/event and .../+/status. Publishes:
  <prefix>/<site>/inlet/group/<branch>/peer   grants, vacuum, revokes (QoS 1, envelope)
  <prefix>/<site>/station/status              "online"/"offline" (retained, the last will)
  <prefix>/<site>/station/alarm               the latest alarm (retained, QoS 1, envelope)
  <prefix>/<site>/station/state               branches' phases and the energy report
                                              (retained, on change)

The clocks are injectable so a simulation can run the station faster than real time:
clock_ms() is monotonic ms, wall_s() epoch seconds or None for the envelope's ts.

A broker made by `street broker init` binds the client id to the login: whatever id is asked
for, the station's session is the station login's own (so its persistent session survives
restarts under that name, and no other login can take it over).
"""

import json
import queue
import signal
import threading
import time
from collections import deque

import paho.mqtt.client as mqtt

from agent import message, topics, vacuum
from host_tools.security.acl import station_root

from .coordinator import Coordinator

QOS = 1
_KEPT = 10000
# CONNACK refusals (paho's reason names) that the same login will get again on every retry:
# the station gives up on these at once instead of retrying for ever in silence.
FINAL_REFUSALS = frozenset({"Unsupported protocol version", "Client identifier not valid",
                            "Bad user name or password", "Not authorized", "Banned",
                            "Bad authentication method"})
_REFUSAL_HINTS = {
    # Mosquitto answers a wrong password with this one on MQTT 3.1.1.
    "Not authorized": "wrong user name or password, or this login may not connect",
    "Bad user name or password": "wrong user name or password",
    "Client identifier not valid": "the broker refuses the client id",
    "Unsupported protocol version": "the broker does not take MQTT 3.1.1",
}


def refusal_text(reason: str) -> str:
    """A CONNACK reason with what it usually means."""
    hint = _REFUSAL_HINTS.get(reason)
    return f"{reason} ({hint})" if hint else reason


class BrokerRefused(RuntimeError):
    """The broker refused the login for a reason retrying cannot fix."""

    def __init__(self, reason: str, user: str | None):
        self.reason = reason
        who = f" as {user}" if user else " (no user name)"
        super().__init__(f"the broker refused the login{who}: {refusal_text(reason)}; "
                         "retrying cannot fix this")


def _monotonic_ms() -> float:
    return time.monotonic() * 1000


class StationService:
    def __init__(self, host: str, port: int, prefix: str = "city", site: str = "main",
                 user: str | None = None, password: str | None = None, ca: str | None = None,
                 coordinator: Coordinator | None = None, clock_ms=None, wall_s=None,
                 client_id: str | None = None, poll_s: float = 0.2, keepalive: int = 30,
                 on_record=None):
        """on_record(kind, now_ms, data) is called for each grant/alarm/fan/publish done
        (from the service's thread), and for each "connected" and retried "refused" login
        (from paho's thread), e.g. to print them with format_record. poll_s: the longest
        real-time wait between ticks (the coordinator's due times are in clock_ms, which may
        run fast)."""
        # Validate the topic segments once (raises ValueError on a bad prefix/site).
        topics.Topics(prefix, site, "inlet", "x")
        self.host, self.port, self.user = host, port, user
        self.prefix, self.site = prefix, site
        self.root = station_root(prefix, site)
        self.clock_ms = clock_ms or _monotonic_ms
        self.wall_s = wall_s or time.time
        if coordinator is None:
            coordinator = Coordinator(first_cycle=int(time.time()) % (vacuum.CYCLE_MAX + 1))
        self.coord = coordinator
        self.poll_s = poll_s
        self.on_record = on_record
        self.encoder = message.Encoder()
        self.t0_ms = self.clock_ms()
        # What it did, for tests and the CLI: (now_ms, ...) tuples.
        # (bounded: the CLI runs for months)
        self.grants: deque = deque(maxlen=_KEPT)  # (now_ms, branch, fields)
        self.alarms: deque = deque(maxlen=_KEPT)  # (now_ms, branch, inlet_id, kind, detail)
        self.published: deque = deque(maxlen=_KEPT)  # (now_ms, topic, fields)
        self.fans: deque = deque(maxlen=_KEPT)  # (now_ms, branch, on)
        self.bad_messages = 0
        self._q: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._ready = threading.Event()  # subscribed, or refused for good
        self.refusal: str | None = None  # the CONNACK reason that ended the run
        self._thread: threading.Thread | None = None
        self._summary = None
        self._lock = threading.Lock()
        cid = client_id or "station-%s-%s" % (prefix, site)
        # A persistent session: QoS 1 events sent while the station reconnects wait for it.
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=cid,
                                  clean_session=False)
        if user:
            self.client.username_pw_set(user, password)
        if ca:
            self.client.tls_set(ca_certs=ca)
        self.client.will_set(self.root + "status", b"offline", qos=QOS, retain=True)
        self.client.reconnect_delay_set(1, 30)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.keepalive = keepalive

    # ---- paho's thread: only queue what arrives ----

    def _filters(self) -> list[str]:
        base = "%s/%s/inlet/+/" % (self.prefix, self.site)
        return [base + "state", base + "event", base + "status"]

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            self._refused(client, str(reason_code))
            return
        client.publish(self.root + "status", b"online", qos=QOS, retain=True)
        client.subscribe([(f, QOS) for f in self._filters()])

    def _refused(self, client, reason: str) -> None:
        if reason not in FINAL_REFUSALS:
            self._record("refused", self.clock_ms(), (reason,))  # paho retries with backoff
            return
        self.refusal = reason
        client.disconnect()  # called in paho's callback: its loop ends instead of retrying
        self._stop.set()
        self._ready.set()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties):
        self._record("connected", self.clock_ms(),
                     (self.host, self.port, self.user, self.prefix, self.site))
        self._ready.set()

    def _on_message(self, client, userdata, msg):
        self._q.put(("msg", msg.topic, bytes(msg.payload)))

    # ---- the station's thread ----

    def start(self, wait_s: float = 10.0, give_up=lambda: False) -> "StationService":
        """Connect, subscribe and run in a thread. Raises OSError or RuntimeError if the
        broker is not there, BrokerRefused as soon as it refuses the login for good.
        give_up(): polled while waiting; True ends the wait (Ctrl-C in the CLI)."""
        self.client.connect(self.host, self.port, self.keepalive)
        self.client.loop_start()
        # Polled, not Event.wait(): a Ctrl-C raised inside Event.wait can leave the event's
        # lock held, and paho's thread then blocks for ever setting it.
        deadline = time.monotonic() + wait_s
        while not self._ready.is_set() and time.monotonic() < deadline and not give_up():
            time.sleep(0.05)
        ready = self._ready.is_set()
        if self.refusal is not None:
            self.client.loop_stop()
            raise BrokerRefused(self.refusal, self.user)
        if not ready and give_up():
            return self  # the caller stops (nothing runs yet)
        if not ready:
            self.client.loop_stop()
            raise RuntimeError("no subscription on %s:%d within %ss" % (self.host, self.port,
                                                                       wait_s))
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="station", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop deciding, say offline, disconnect. Safe to call twice."""
        self._stop.set()
        # Not started when Ctrl-C lands inside start(): then there is nothing to join.
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(5)
        self._thread = None
        if self.client.is_connected():
            info = self.client.publish(self.root + "status", b"offline", qos=QOS, retain=True)
            try:
                info.wait_for_publish(2)
            except (RuntimeError, ValueError):
                pass  # the link went away meanwhile: the will says offline instead
            self.client.disconnect()
        self.client.loop_stop()

    def run_forever(self) -> None:
        """For the CLI (main thread): run until stop() or Ctrl-C, then stop cleanly. Raises
        BrokerRefused when the broker refuses the login for good, at the start or on a
        reconnect. Ctrl-C only sets a flag, checked between waits: raised as an exception
        anywhere, it could land inside a lock paho's thread needs (then stop() hung)."""
        asked = []
        previous = signal.signal(signal.SIGINT, lambda signum, frame: asked.append(signum))
        try:
            self.start(give_up=lambda: bool(asked))
            while not asked and not self._stop.is_set():
                time.sleep(0.2)
        finally:
            signal.signal(signal.SIGINT, previous)
            self.stop()
        if self.refusal is not None:
            raise BrokerRefused(self.refusal, self.user)

    def _loop(self) -> None:
        while not self._stop.is_set():
            now = self.clock_ms()
            wait_s = min(self.poll_s, self.coord.next_due_ms(now) / 1000)
            try:
                item = self._q.get(timeout=max(0.0, wait_s))
            except queue.Empty:
                item = None
            while item is not None:
                self._handle(item)
                try:
                    item = self._q.get_nowait()
                except queue.Empty:
                    item = None
            now = self.clock_ms()
            for act in self.coord.tick(now):
                self._act(act, now)
            self._publish_summary(now)

    def vacuum_lost(self, branch: str) -> None:
        """The station's pressure sensor (or a test) says the branch lost vacuum."""
        self._q.put(("vacuum", branch, False))

    def vacuum_restored(self, branch: str) -> None:
        self._q.put(("vacuum", branch, True))

    def _handle(self, item) -> None:
        if item[0] == "vacuum":
            _, branch, ok = item
            if ok:
                self.coord.vacuum_restored(branch, self.clock_ms())
            else:
                self.coord.vacuum_lost(branch, self.clock_ms())
            return
        _, topic, payload = item
        now = self.clock_ms()
        parts = topics.parse(topic)
        if parts is None:
            self.bad_messages += 1
            return
        prefix, site, kind, dev, _, channel = parts
        if (prefix, site, kind) != (self.prefix, self.site, "inlet") or dev is None:
            return
        if channel == "status":
            word = payload.strip()
            if word in (b"online", b"offline"):
                self.coord.on_status(dev, word == b"online", now)
            else:
                self.bad_messages += 1
            return
        if channel == "state" and not payload:
            self.coord.on_state(dev, {}, now)  # retained state cleared: the inlet is gone
            return
        if channel not in ("state", "event"):
            return
        obj, err = message.decode(payload)
        if obj is None:
            self.bad_messages += 1
            return
        if channel == "state":
            self.coord.on_state(dev, obj, now)
        else:
            self.coord.on_event(dev, obj, now)

    def _act(self, act, now: float) -> None:
        kind = act[0]
        up_ms = int(max(0.0, now - self.t0_ms))
        if kind == "publish":
            _, branch, fields = act
            topic = "%s/%s/inlet/group/%s/peer" % (self.prefix, self.site, branch)
            self._publish(topic, fields, now, up_ms, retain=False)
            if fields.get("t") == "grant":
                self._record("grant", now, (branch, fields))
            else:
                self._record("publish", now, (topic, fields))
        elif kind == "alarm":
            _, branch, inlet_id, what, detail = act
            fields = {"alarm": what, "branch": branch, "inlet": inlet_id, "detail": detail}
            self._publish(self.root + "alarm", fields, now, up_ms, retain=True)
            self._record("alarm", now, (branch, inlet_id, what, detail))
        elif kind == "fan":
            self._record("fan", now, act[1:])

    def _publish(self, topic: str, fields: dict, now: float, up_ms: int, retain: bool) -> None:
        ts = self.wall_s()
        payload = self.encoder.encode(fields, None if ts is None else int(ts), up_ms)
        self.client.publish(topic, payload, qos=QOS, retain=retain)
        with self._lock:
            self.published.append((now, topic, fields))

    def _publish_summary(self, now: float) -> None:
        summary = self.coord.summary()
        if summary == self._summary:
            return
        self._summary = summary
        fields = state_fields(summary, self.coord.cost.report(now))
        self._publish(self.root + "state", fields, now, int(max(0.0, now - self.t0_ms)),
                      retain=True)

    def _record(self, kind: str, now: float, data: tuple) -> None:
        with self._lock:
            if kind == "grant":
                self.grants.append((now,) + data)
            elif kind == "alarm":
                self.alarms.append((now,) + data)
            elif kind == "fan":
                self.fans.append((now,) + data)
        if self.on_record is not None:
            self.on_record(kind, now, data)

    def report(self) -> dict:
        """The energy report so far (fans still running count up to now)."""
        return self.coord.cost.report(self.clock_ms())

    def snapshot(self) -> dict:
        """Copies of what it did, safe to read while it runs."""
        with self._lock:
            return {"grants": list(self.grants), "alarms": list(self.alarms),
                    "fans": list(self.fans), "published": list(self.published)}


def state_fields(summary: dict, cost_report: dict) -> dict:
    """The station's retained state: each branch's phase (Coordinator.summary) and the energy
    totals (its per-branch breakdown left out: the state must stay small, see
    docs/broker.md on the broker's packet limit)."""
    return {"branches": summary,
            "cost": {k: v for k, v in cost_report.items() if k != "by_branch"}}


def format_record(kind: str, now_ms: float, data: tuple) -> str | None:
    """One line for the CLI (without the time), or None for what it does not print."""
    if kind == "grant":
        branch, f = data
        return "grant  branch %s -> %s cycle %d (ttl %ss)" % (branch, f["id"], f["cycle"],
                                                            f["ttl_s"])
    if kind == "alarm":
        branch, inlet_id, what, detail = data
        who = "branch %s" % branch if inlet_id is None else "branch %s inlet %s" % (branch,
                                                                                   inlet_id)
        return "ALARM  %s: %s %s" % (who, what, json.dumps(detail))
    if kind == "fan":
        branch, on = data
        return "fan    branch %s %s" % (branch, "on" if on else "off")
    if kind == "connected":
        host, port, user, prefix, site = data
        return "connected to %s:%d as %s, listening for inlets of %s/%s" % (
            host, port, user or "(no user name)", prefix, site)
    if kind == "refused":
        return "broker refused the login: %s; retrying" % refusal_text(data[0])
    return None
