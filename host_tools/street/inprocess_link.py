"""What an in-process agent says and hears (host side of agent.link + agent.comms).

The firmware's link and comms are shells (sockets, umqtt, the flash) that cannot be
imported here; their behaviour as the rest of the agent sees it is re-created, with the
firmware's own pure modules for everything they decide or encode:
  agent.topics.Topics      the device's topics and subscriptions
  agent.message.Encoder    the envelope {"v","seq","ts"} of every payload
  agent.message.Reporter   state on a settled real change vs the last sent (the role's
                           deadbands, loop.settle_s, the countdown fields), no heartbeat;
                           diag on a change (comms.DIAG_DEADBANDS) or every loop.diag_s
  agent.message.diag_fields / clock_diag   the diag message's fields
  agent.outbox.Outbox      events kept through outages, delivered in order (QoS 1)
  agent.backoff.Backoff    reconnect delays (exponential with full jitter)
  agent.sched              Uptime, ticks_diff/ticks_add
The shells' constants and tables (comms.DIAG_DEADBANDS, comms.COUNTDOWN, link._INBOX_MAX,
link._FLUSH_PER_SERVICE) are read from the firmware's source, not copied.

As agent.comms now does: telemetry at most one summary per loop.telemetry_s (a pole's with
its motion count), a motion counted rather than sent as an event, state checked at every
service but sent only when due, and once after each (re)connect (a broker restarted without
persistence lost it), diag at each (re)connect if it changed and at each heartbeat if due.

Re-created (the difference from a real agent): the session state machine without Wi-Fi,
TLS or socket timeouts (the wire reports up/lost/acked/arrived); one QoS 1 event in flight
(umqtt waits for each PUBACK); the inbox of at most 8 messages. WHEN the link service runs:
on the chip the loop polls the session socket while idle (agent.app._idle) and serves the
link at once when bytes arrive, plus every 250 ms while up. Here a wire event (a message,
a PUBACK, the session up or lost) wakes the agent at once the same way, and the 250 ms
turn is replaced by a service right after each role task ran (the only other source of
new state or events) and at the end of a settle period: nothing else could change what a
250 ms turn sends, so the same messages go, up to 250 ms sooner, and a quiet agent wakes
once a second (its control step) instead of five times. Commands (<device>/cmd) are
received and counted but not run (tests/broker/test_street_cmd.py runs the real ones).
"""

import ast
import random
from pathlib import Path

import agent as _agent_pkg
from agent.backoff import Backoff, uniform_from_bits
from agent.message import Encoder, Reporter, clock_diag, diag_fields
from agent.outbox import Outbox
from agent.sched import Uptime, ticks_add, ticks_diff
from agent.topics import Topics

FIRMWARE = Path(_agent_pkg.__file__).resolve().parent


def firmware_literals(module_file, names):
    """{name: value} of top-level `NAME = literal` / `NAME = const(literal)` lines in a
    firmware shell module (which cannot be imported under CPython): one source of truth."""
    tree = ast.parse((FIRMWARE / module_file).read_text())
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and \
                isinstance(node.targets[0], ast.Name) and node.targets[0].id in names:
            v = node.value
            if isinstance(v, ast.Call) and getattr(v.func, "id", "") == "const":
                v = v.args[0]
            out[node.targets[0].id] = ast.literal_eval(v)
    missing = set(names) - set(out)
    if missing:
        raise LookupError("firmware/agent/%s: no literal %s" % (module_file, sorted(missing)))
    return out


def firmware_method_literal(module_file, cls, method):
    """The literal a firmware shell method returns (e.g. Pole.state_deadbands)."""
    tree = ast.parse((FIRMWARE / module_file).read_text())
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == cls:
            for f in node.body:
                if isinstance(f, ast.FunctionDef) and f.name == method:
                    for st in f.body:
                        if isinstance(st, ast.Return):
                            return ast.literal_eval(st.value)
    raise LookupError("firmware/agent/%s: %s.%s returns no literal" % (module_file, cls, method))


_COMMS = firmware_literals("comms.py", ("DIAG_DEADBANDS", "COUNTDOWN"))
_LINK = firmware_literals("link.py", ("_INBOX_MAX", "_FLUSH_PER_SERVICE"))
DIAG_DEADBANDS = _COMMS["DIAG_DEADBANDS"]
COUNTDOWN = _COMMS["COUNTDOWN"]
INBOX_MAX = _LINK["_INBOX_MAX"]
FLUSH_PER_SERVICE = _LINK["_FLUSH_PER_SERVICE"]
# With nothing to send and nothing arriving, the link's own next turn (a wire event or a
# role task wakes it sooner): only a backstop, the wire keeps the session alive by itself.
IDLE_SERVICE_MS = 60000
WIFI_POLL_MS = 250  # agent.link._wifi while an association attempt runs


class HostLink:
    """One agent's session, seen from the agent. `wire` (inprocess_mqtt) carries it; every
    wire event calls `poke()` (set by the agent: serve the link now)."""

    def __init__(self, cfg, topics, now_ms, wire, rng_seed):
        m = cfg["mqtt"]
        self.topics = topics
        self.client_id = cfg["device"]["id"]
        self.keepalive_s = m["keepalive_s"]
        self.connect_timeout_ms = m["connect_timeout_s"] * 1000
        rand = uniform_from_bits(random.Random(rng_seed).getrandbits)
        self.backoff = Backoff(base_ms=1000, cap_ms=m["backoff_max_s"] * 1000, rand=rand)
        self.outbox = Outbox(m["queue_len"])
        self.inbox = []
        self.inbox_dropped = 0
        self.oversize = 0  # nothing is oversize on the host's wire
        self.wire = wire
        self.up = False
        self.connecting = False
        self.since = now_ms
        self.retry_at = now_ms
        self.in_flight = False
        self.connects = 0
        self.reconnects = 0
        self.last_error = ""
        self.on_up = None  # fn(now_ms), set by HostComms
        self.poke = _nothing  # fn(), set by the agent
        self.acked = 0
        # No access point (NoNetwork): agent.link._wifi's association attempts instead,
        # polled every 250 ms until the radio gives up, then its own backoff.
        self.no_ap_ms = getattr(wire, "no_ap_ms", None)
        self.wifi_backoff = Backoff(base_ms=2000, cap_ms=60000, rand=rand)
        self.wifi_started = None
        self.wifi_retry_at = now_ms
        self._came_up = False  # the wire came up: on_up at the next service
        self._lost = False  # the wire went down: back off before the next attempt

    # ---- what the wire calls ----

    def wire_up(self):
        self.connecting = False
        self.up = True
        self.in_flight = False
        self._came_up = True
        self.poke()

    def wire_lost(self, why):
        was = self.up or self.connecting
        if self.up:
            self.reconnects += 1
        self.up = self.connecting = self.in_flight = False
        self.last_error = why
        if was:
            self._lost = True
        self.poke()

    def wire_message(self, topic, payload, retained):
        if len(self.inbox) >= INBOX_MAX:
            self.inbox_dropped += 1
            return
        self.inbox.append((topic, payload, retained))
        self.poke()

    def wire_acked(self):
        if self.in_flight:
            self.in_flight = False
            self.outbox.pop()  # only now: a lost PUBACK means the event is sent again
            self.acked += 1
            if len(self.outbox):
                self.poke()

    # ---- what comms calls ----

    def publish(self, topic, payload, retain=False):
        if not self.up:
            return False
        return self.wire.send(topic, payload, retain, 0)

    def send_event(self, topic, payload):
        self.outbox.put(topic, payload)

    def _wifi(self, now_ms):
        """agent.link._wifi with no access point: an attempt fails after no_ap_ms."""
        if self.wifi_started is None:
            if ticks_diff(now_ms, self.wifi_retry_at) < 0:
                return ticks_diff(self.wifi_retry_at, now_ms)
            self.wifi_started = now_ms
            return WIFI_POLL_MS
        if ticks_diff(now_ms, self.wifi_started) < self.no_ap_ms:
            return WIFI_POLL_MS
        self.wifi_started = None
        self.wifi_backoff.failed()
        self.wifi_retry_at = ticks_add(now_ms, self.wifi_backoff.next_delay())
        self.last_error = "wifi: access point not found"
        return ticks_diff(self.wifi_retry_at, now_ms)

    def service(self, now_ms):
        if self.no_ap_ms is not None:
            return self._wifi(now_ms)
        if self._lost:
            self._lost = False
            self.backoff.failed()
            self.retry_at = ticks_add(now_ms, self.backoff.next_delay())
        if self.up:
            if self._came_up:
                self._came_up = False
                self.connects += 1
                self.backoff.connected(now_ms)
                if self.on_up is not None:
                    self.on_up(now_ms)
            self.backoff.maybe_reset(now_ms)
            for _ in range(FLUSH_PER_SERVICE):
                item = self.outbox.peek()
                if item is None or self.in_flight:
                    break
                self.in_flight = True  # before the send: an in-process wire acks at once
                if not self.wire.send(item[0], item[1], False, 1):
                    self.in_flight = False
                    break
            if self.in_flight:
                return IDLE_SERVICE_MS  # the PUBACK pokes
            return 0 if len(self.outbox) else IDLE_SERVICE_MS
        if self.connecting:
            # agent.link: connect_timeout_s for TCP + CONNECT + CONNACK, then back off
            left = self.connect_timeout_ms - ticks_diff(now_ms, self.since)
            if left > 0:
                return left
            self.connecting = False
            close = getattr(self.wire, "close", None)
            if close is not None:
                close()
            self.last_error = "session: timed out"
            self._lost = True
            return 0
        if ticks_diff(now_ms, self.retry_at) >= 0:
            self.connecting = True
            self.since = now_ms
            self.wire.connect(self)  # may answer at once (bus): up or lost, poked
            return 0 if (self.up or self._lost) else self.connect_timeout_ms
        return ticks_diff(self.retry_at, now_ms)


def _nothing():
    pass


def publish_events(comms, events, now_ms):
    """agent.comms.publish_events: drain (name, fields) into event messages; a motion is
    counted for the next telemetry summary (it already went to the neighbours)."""
    if not events:
        return False
    while events:
        name, fields = events.pop(0)
        if name == "motion":
            if comms is not None:
                comms.motions += 1
            continue
        if comms is not None:
            fields["event"] = name
            comms.event(fields, now_ms)
    return True


class HostComms:
    """agent.comms.Comms as the role sees it: event, peer, telemetry, state, diag."""

    def __init__(self, agent, cfg, now_ms, wire, rng_seed):
        self.agent = agent
        dev, m = cfg["device"], cfg["mqtt"]
        self.device_id = dev["id"]
        self.role = dev["role"]
        group = m["group"] or cfg.get("inlet", {}).get("branch", "")
        self.topics = Topics(m["prefix"], dev["site"], dev["role"], self.device_id, group)
        self.link = HostLink(cfg, self.topics, now_ms, wire, rng_seed)
        self.link.on_up = self._on_up
        self.enc = Encoder()
        self.up = Uptime(now_ms)
        loop = cfg["loop"]
        self.state_reporter = Reporter(agent.state_deadbands(), 0, loop["settle_s"] * 1000,
                                       COUNTDOWN)
        self.diag_reporter = Reporter(DIAG_DEADBANDS, loop["diag_s"] * 1000)
        self.tele_period = loop["telemetry_s"] * 1000
        self.tele_at = now_ms
        self.motions = 0
        self.commands_ignored = 0
        self.served_ms = now_ms
        self.counts = {"state": 0, "diag": 0, "telemetry": 0}

    def _stamp(self, fields, now_ms):
        return self.enc.encode(fields, self.agent.wall_s(), self.up.at(now_ms))

    def event(self, fields, now_ms):
        self.link.send_event(self.topics.event, self._stamp(fields, now_ms))

    def peer(self, fields, now_ms):
        if self.topics.group_peer is not None:
            self.link.publish(self.topics.group_peer, self._stamp(fields, now_ms))

    def telemetry(self, fields, now_ms):
        """agent.comms.Comms.telemetry: one summary per loop.telemetry_s, nothing encoded
        between summaries or with the link down."""
        if not self.link.up or ticks_diff(now_ms, self.tele_at) < self.tele_period:
            return False
        if self.role == "streetlight":
            fields["motions"] = self.motions
        if not self.link.publish(self.topics.telemetry, self._stamp(fields, now_ms)):
            return False
        self.counts["telemetry"] += 1
        late = ticks_diff(now_ms, self.tele_at) - self.tele_period
        self.tele_at = now_ms if late >= self.tele_period or late < 0 else \
            ticks_add(now_ms, -late)
        return True

    def publish_state(self, now_ms, force=False):
        rep = self.state_reporter
        if not rep.deadbands:  # taken once the role exists (agent.comms)
            rep.deadbands = self.agent.state_deadbands()
        st = self.agent.state()
        if (force or rep.due(st, now_ms)) and \
                self.link.publish(self.topics.state, self._stamp(st, now_ms), True):
            rep.sent(st, now_ms)
            self.counts["state"] += 1

    def publish_diag(self, now_ms, force=False):
        """agent.comms.Comms.publish_diag; what the host has no figure for (rssi, heap) is
        None, the reset cause "host", and in_process marks it."""
        link = self.link
        if not link.up:
            return False
        fields = diag_fields(self.up.at(now_ms) // 1000, None, None, None, "host", 0,
                             link.reconnects, link.outbox.dropped)
        fields["inbox_dropped"] = link.inbox_dropped
        fields["in_oversize"] = link.oversize
        fields["link_error"] = link.last_error
        fields["cmd_ctr"] = 0  # commands are not run here: the counter keeps its boot value
        clock_diag(fields, None)  # no SNTP: the board's clock is the scenario's
        fields.update({"safe_mode": False, "crashes": 0, "last_crash": ""})
        fields["in_process"] = True
        if not force and not self.diag_reporter.due(fields, now_ms):
            return False
        if not link.publish(self.topics.diag, self._stamp(fields, now_ms)):
            return False
        self.diag_reporter.sent(fields, now_ms)
        self.counts["diag"] += 1
        return True

    def _on_up(self, now_ms):
        # agent.comms._on_up: the state once after every (re)connect (a broker restarted
        # without persistence lost its retained copy); diag: the reconnect count changed.
        self.publish_state(now_ms, force=True)
        self.publish_diag(now_ms)

    def service(self, now_ms):
        self.served_ms = now_ms
        wait = self.link.service(now_ms)
        inbox = self.link.inbox
        while inbox:
            topic, payload, _ = inbox.pop(0)
            if topic == self.topics.group_peer:
                self.agent.peer_message(payload, now_ms)
            else:
                self.commands_ignored += 1
        # (The wire may come up between services; the session counts as up once on_up ran,
        # as in the firmware, where both happen in one link.service.)
        if self.link.up and not self.link._came_up:
            self.publish_state(now_ms)
            rep = self.state_reporter
            if rep.moved_ms is not None:  # a change settling: look again when it may be due
                left = rep.settle_ms - ticks_diff(now_ms, rep.moved_ms)
                if left < wait:
                    wait = left if left > 0 else 0
        return wait
