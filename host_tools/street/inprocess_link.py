"""What an in-process agent says and hears (host side of agent.link + agent.comms).

The firmware's link and comms are shells (sockets, umqtt, the flash); here their behaviour
as the rest of the agent sees it is re-created on the host, with the firmware's own pure
modules for everything they decide or encode:
  agent.topics.Topics      the device's topics and subscriptions
  agent.message.Encoder    the envelope {"v","seq","ts"} of every payload
  agent.message.Reporter   retained state on change (the role's deadbands) or heartbeat
  agent.outbox.Outbox      events kept through outages, delivered in order (QoS 1)
  agent.backoff.Backoff    reconnect delays (exponential with full jitter)
  agent.sched.Uptime       uptime past the ticks wrap
Re-created (the difference from a real agent): the session state machine without Wi-Fi,
TLS or socket timeouts (the wire reports up/lost); state and telemetry as QoS 0 when up;
one QoS 1 event in flight (umqtt waits for each PUBACK); the inbox of at most 8 messages;
service every 250 ms while up, as agent.link asks. Commands (<device>/cmd) are received and
counted but not run: the command path (agent.commands, agent.sign, the flash) is the real
agents' (tests/broker/test_street_cmd.py).
"""

import random

from agent.backoff import Backoff, uniform_from_bits
from agent.message import Encoder, Reporter, diag_fields
from agent.outbox import Outbox
from agent.sched import Uptime
from agent.topics import Topics

INBOX_MAX = 8  # agent.link._INBOX_MAX
UP_SERVICE_MS = 250  # agent.link: _serve returns 250 with nothing queued
BUSY_SERVICE_MS = 20  # waiting for a PUBACK or a CONNACK
FLUSH_PER_SERVICE = 4  # agent.link._FLUSH_PER_SERVICE


class HostLink:
    """One agent's session, seen from the agent. `wire` (inprocess_mqtt) carries it."""

    def __init__(self, cfg, topics, now_ms, wire, rng_seed):
        m = cfg["mqtt"]
        self.topics = topics
        self.client_id = cfg["device"]["id"]
        self.keepalive_s = m["keepalive_s"]
        rand = uniform_from_bits(random.Random(rng_seed).getrandbits)
        self.backoff = Backoff(base_ms=1000, cap_ms=m["backoff_max_s"] * 1000, rand=rand)
        self.outbox = Outbox(m["queue_len"])
        self.inbox = []
        self.inbox_dropped = 0
        self.wire = wire
        self.up = False
        self.connecting = False
        self.retry_at = now_ms
        self.in_flight = False
        self.connects = 0
        self.reconnects = 0
        self.last_error = ""
        self.on_up = None  # fn(now_ms), set by HostComms
        self.acked = 0
        self._came_up = False  # the wire came up: on_up at the next service
        self._lost = False  # the wire went down: back off before the next attempt

    # ---- what the wire calls ----

    def wire_up(self):
        self.connecting = False
        self.up = True
        self.in_flight = False
        self._came_up = True

    def wire_lost(self, why):
        was = self.up or self.connecting
        if self.up:
            self.reconnects += 1
        self.up = self.connecting = self.in_flight = False
        self.last_error = why
        if was:
            self._lost = True

    def wire_message(self, topic, payload, retained):
        if len(self.inbox) >= INBOX_MAX:
            self.inbox_dropped += 1
            return
        self.inbox.append((topic, payload, retained))

    def wire_acked(self):
        if self.in_flight:
            self.in_flight = False
            self.outbox.pop()  # only now: a lost PUBACK means the event is sent again
            self.acked += 1

    # ---- what comms calls ----

    def publish(self, topic, payload, retain=False):
        if not self.up:
            return False
        return self.wire.send(topic, payload, retain, 0)

    def send_event(self, topic, payload):
        self.outbox.put(topic, payload)

    def service(self, now_ms):
        if self._lost:
            self._lost = False
            self.backoff.failed()
            self.retry_at = now_ms + self.backoff.next_delay()
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
            return BUSY_SERVICE_MS if self.in_flight or len(self.outbox) else UP_SERVICE_MS
        if self.connecting:
            return BUSY_SERVICE_MS
        if now_ms - self.retry_at >= 0:
            self.connecting = True
            self.wire.connect(self)
            return BUSY_SERVICE_MS
        return self.retry_at - now_ms


def publish_events(comms, events, now_ms):
    """agent.comms.publish_events: drain (name, fields) into event messages."""
    if not events:
        return False
    while events:
        name, fields = events.pop(0)
        fields["event"] = name
        comms.event(fields, now_ms)
    return True


class HostComms:
    """agent.comms.Comms as the role sees it: event, peer, telemetry, state, diag."""

    def __init__(self, agent, cfg, now_ms, wire, rng_seed):
        self.agent = agent
        dev, m = cfg["device"], cfg["mqtt"]
        self.device_id = dev["id"]
        group = m["group"] or cfg.get("inlet", {}).get("branch", "")
        self.topics = Topics(m["prefix"], dev["site"], dev["role"], self.device_id, group)
        self.link = HostLink(cfg, self.topics, now_ms, wire, rng_seed)
        self.link.on_up = self._on_up
        self.enc = Encoder()
        self.up = Uptime(now_ms)
        self.state_reporter = Reporter(agent.state_deadbands(),
                                       cfg["loop"]["heartbeat_s"] * 1000)
        self.commands_ignored = 0

    def _stamp(self, fields, now_ms):
        return self.enc.encode(fields, self.agent.wall_s(), self.up.at(now_ms))

    def event(self, fields, now_ms):
        self.link.send_event(self.topics.event, self._stamp(fields, now_ms))

    def peer(self, fields, now_ms):
        if self.topics.group_peer is not None and self.link.up:
            self.link.publish(self.topics.group_peer, self._stamp(fields, now_ms))

    def telemetry(self, fields, now_ms):
        if not self.link.up:
            return False
        return self.link.publish(self.topics.telemetry, self._stamp(fields, now_ms))

    def publish_state(self, now_ms, force=False):
        st = self.agent.state()
        if (force or self.state_reporter.due(st, now_ms)) and \
                self.link.publish(self.topics.state, self._stamp(st, now_ms), True):
            self.state_reporter.sent(st, now_ms)

    def publish_diag(self, now_ms):
        fields = diag_fields(self.up.at(now_ms) // 1000, None, None, None, "host", 0,
                             self.link.reconnects, self.link.outbox.dropped)
        fields["inbox_dropped"] = self.link.inbox_dropped
        fields["link_error"] = self.link.last_error
        fields["in_process"] = True
        return self.link.publish(self.topics.diag, self._stamp(fields, now_ms))

    def _on_up(self, now_ms):
        self.publish_state(now_ms, force=True)
        self.publish_diag(now_ms)

    def service(self, now_ms):
        wait = self.link.service(now_ms)
        inbox = self.link.inbox
        while inbox:
            topic, payload, _ = inbox.pop(0)
            if topic == self.topics.group_peer:
                self.agent.peer_message(payload, now_ms)
            else:
                self.commands_ignored += 1
        if self.link.up:
            self.publish_state(now_ms)
        return wait
