# What the agent says and hears on MQTT (shell): retained status/state, telemetry, diag,
# events through the outbox, and commands -> verify -> validate -> apply -> ack.
# The decisions are in the pure modules (commands, sign, message); this wires them to the
# link, the files on flash and the agent.
import hashlib

from micropython import const

from agent import sign
from agent.clock import wall_s
from agent.link import UP, Link
from agent.message import Encoder, Reporter, clock_diag, diag_fields
from agent.sched import Uptime, ticks_add, ticks_diff
from agent.timesync import TimeSync
from agent.topics import Topics

RESTART_GRACE_MS = const(1500)  # time for the ack to leave before a commanded restart
# diag: what only goes along with a report (uptime, clock age) or moves a lot before it
# matters; the counters and the link error make it due at once.
DIAG_DEADBANDS = {"uptime_s": None, "clock_age_s": None, "loop_us_max": None, "rssi": 10,
                  "heap_free": 4096, "heap_max_block": 4096, "clock_offset_ms": 1000}
COUNTDOWN = ("ttf_s",)  # state fields counting down by themselves (agent.vacuum)


def publish_events(comms, events, now_ms):
    """Drain a role's events, (name, fields) pairs, into event messages (QoS 1, kept through
    outages, in order). Without comms (no usable config) they are dropped all the same, so
    the list never grows. True if there were any."""
    if not events:
        return False
    while events:
        name, fields = events.pop(0)
        if name == "motion":
            # Each one already went to the neighbours (peer, light-ahead); the operator gets
            # the count in the next telemetry summary rather than an event per passer-by.
            if comms is not None:
                comms.motions += 1
            continue
        if comms is not None:
            fields["event"] = name
            comms.event(fields, now_ms)
    return True


class Comms:
    """One per agent. `agent` provides: cfg, secrets, root, role, state(), diag_numbers(),
    restart_in(ms), and role_command(cmd) -> (ok, error, state) for role commands."""

    def __init__(self, agent, now_ms, ca_data=None, wlan=None):
        self.agent = agent
        cfg = agent.cfg
        dev, m = cfg["device"], cfg["mqtt"]
        self.device_id = dev["id"]
        self.role = dev["role"]
        # An inlet's group is its pipe branch unless set otherwise: the station grants there.
        group = m["group"] or cfg.get("inlet", {}).get("branch", "")
        self.topics = Topics(m["prefix"], dev["site"], self.role, self.device_id, group)
        self.link = Link(cfg, agent.secrets, self.topics, now_ms, wlan=wlan, ca_data=ca_data,
                         on_up=self._on_up)
        self.enc = Encoder()
        self.up = Uptime(now_ms)
        loop = cfg["loop"]
        # State is retained by the broker: no heartbeat, only real changes (settled).
        self.state_reporter = Reporter(agent.state_deadbands(), 0, loop["settle_s"] * 1000,
                                       COUNTDOWN)
        self.diag_reporter = Reporter(DIAG_DEADBANDS, loop["diag_s"] * 1000)
        self.tele_period = loop["telemetry_s"] * 1000
        self.tele_at = now_ms
        self.motions = 0  # own-sensor detections since boot (telemetry "motions")
        key = sign.key_from_hex(agent.secrets["cmd"]["key"]) if agent.secrets else None
        from agent import files  # boot and commands only: let go of after (Agent.shed)

        self.verifier = sign.Verifier(key, m["signed_cmds"], files.load_counter(agent.root))
        self.acks = 0
        self.retained_refused = None  # digest of the last retained command refused
        ck = cfg.get("clock")  # SNTP (agent.timesync); no servers: a lab without sync
        self.clock = TimeSync(ck, now_ms, self._clock_set) if ck and ck["servers"] else None

    # ---- outgoing ----

    def _stamp(self, fields, now_ms):
        return self.enc.encode(fields, wall_s(), self.up.at(now_ms))

    def event(self, fields, now_ms):
        """An event: stamped now, kept through outages, delivered in order (QoS 1)."""
        self.link.send_event(self.topics.event, self._stamp(fields, now_ms))

    def peer(self, fields, now_ms):
        """To the group's neighbours (light-ahead): now or never, so QoS 0 and not queued."""
        if self.topics.group_peer is not None:
            self.link.publish(self.topics.group_peer, self._stamp(fields, now_ms))

    def telemetry(self, fields, now_ms):
        """One summary per loop.telemetry_s: the role's latest reading (its counters run
        since boot, so nothing is lost between summaries). QoS 0, now or never: with the link
        down, or between summaries, nothing is encoded (no garbage)."""
        if not self.link.up or ticks_diff(now_ms, self.tele_at) < self.tele_period:
            return False
        if self.role == "streetlight":
            fields["motions"] = self.motions
        if not self.link.publish(self.topics.telemetry, self._stamp(fields, now_ms)):
            return False
        # The next one a period after this one was due, not after it came (a reading that
        # comes every minute keeps the summaries on a steady period).
        late = ticks_diff(now_ms, self.tele_at) - self.tele_period
        self.tele_at = now_ms if late >= self.tele_period or late < 0 else \
            ticks_add(now_ms, -late)
        return True

    def publish_state(self, now_ms, force=False):
        rep = self.state_reporter
        if not rep.deadbands:
            # The role is built after comms: its deadbands are asked for once it exists
            # (taken at boot they were none, so every 0.001 of fill was a change).
            rep.deadbands = self.agent.state_deadbands()
        st = self.agent.state()
        if (force or self.state_reporter.due(st, now_ms)) and \
                self.link.publish(self.topics.state, self._stamp(st, now_ms), True):
            self.state_reporter.sent(st, now_ms)

    def publish_diag(self, now_ms, force=False):
        """diag when a counter, the link error or the clock changed, else every loop.diag_s
        (the heartbeat asks each time; force: at once, e.g. the clock was just set)."""
        if not self.link.up:
            return False
        n = self.agent.diag_numbers()
        fields = diag_fields(n["uptime_s"], self.link.rssi(), n["heap_free"],
                             n["heap_max_block"], n["reset_cause"], n["loop_us_max"],
                             self.link.reconnects, self.link.outbox.dropped)
        fields["inbox_dropped"] = self.link.inbox_dropped
        fields["in_oversize"] = self.link.oversize
        fields["link_error"] = self.link.last_error
        # A sender that lost count signs its next command above this (agent.sign).
        fields["cmd_ctr"] = self.verifier.last_ctr
        clock_diag(fields, self.clock.status(now_ms) if self.clock is not None else None)
        more = getattr(self.agent, "diag_more", None)  # the crash record (agent.app)
        if more is not None:
            fields.update(more())
        if not force and not self.diag_reporter.due(fields, now_ms):
            return False
        if not self.link.publish(self.topics.diag, self._stamp(fields, now_ms)):
            return False
        self.diag_reporter.sent(fields, now_ms)
        return True

    def _on_up(self, now_ms):
        # After every (re)connect, the state once: a broker restarted without persistence
        # has lost the retained copy, and an operator's view must not stay empty until the
        # next change (one message per reconnect; a healthy link reconnects rarely). diag
        # goes because the reconnect count changed.
        self.publish_state(now_ms, force=True)
        self.publish_diag(now_ms)
        up = getattr(self.agent, "link_up", None)  # e.g. the last crash, published once
        if up is not None:
            up(now_ms)
        m = self.agent.cfg["mqtt"]
        if m["ha_discovery"]:
            from agent import discovery

            dev = self.agent.cfg["device"]
            for topic, doc in discovery.documents(m["ha_prefix"], self.topics, self.device_id,
                                                  self.role, dev["name"],
                                                  self.agent.ha_entities()):
                self.link.publish(topic, doc, True)

    # ---- the loop calls this ----

    def service(self, now_ms):
        wait = self.link.service(now_ms)
        inbox = self.link.inbox
        while inbox:
            topic, payload, retained = inbox.pop(0)
            self._handle(topic, payload, now_ms, retained)
            if len(self.link.outbox):
                wait = 0  # an ack is queued: send it on the next pass, not in 250 ms
        if self.link.up:
            self.publish_state(now_ms)
        clock = self.clock
        if clock is not None:  # SNTP only while the link is up: the uplink works then
            w = clock.service(now_ms, self.link.state == UP)
            if w < wait:
                wait = w
        return wait

    def _clock_set(self, fields, now_ms):
        # The clock was set (or jumped): say so, and diag at once, not at the next heartbeat.
        self.event(fields, now_ms)
        self.publish_diag(now_ms, True)

    # ---- commands ----

    def _handle(self, topic, payload, now_ms, retained=False):
        if topic == self.topics.group_peer:
            self.agent.peer_message(payload, now_ms)
            return
        self._command(topic, payload, now_ms, retained)
        # The schema, validators and file store a command loaded: let go of them again (on
        # a stock image their bytecode sits in the heap).
        shed = getattr(self.agent, "shed", None)
        if shed is not None:
            shed()

    def _command(self, topic, payload, now_ms, retained):
        from agent import commands, files
        if retained:
            # Kept by the broker and handed to every new session: run, it would reboot or
            # rewrite the flash at each boot. Refused, and acked once, not at each reconnect.
            digest = hashlib.sha256(payload).digest()
            if digest == self.retained_refused:
                return
            self.retained_refused = digest
            body, err = None, "retained: a command kept by the broker is never run; clear it" \
                " (publish an empty retained message on this topic) and send it unretained"
        else:
            body, err = self.verifier.check(payload, self.device_id)
        cid = commands.command_id(body if body is not None else payload)
        cmd = None
        if err is None:
            cmd, err = commands.decode_command(body, role=self.role)
        if err is None and self.verifier.ctr is not None:
            # An authentic command uses up its counter before it acts: a replay after a
            # crash mid-apply is refused too.
            if self.verifier.accept(self.verifier.ctr):
                files.save_counter(self.agent.root, self.verifier.last_ctr)
        if err is None:
            ok, err, state = self._apply(cmd, now_ms)
        else:
            ok, state = False, None
        self.acks += 1
        self.link.send_event(self.topics.cmd_ack,
                             self._stamp(commands.ack(cid, ok, err, state), now_ms))

    def _apply(self, cmd, now_ms):
        name, args = cmd["cmd"], cmd["args"]
        if name == "ping":
            return True, None, self.agent.state()
        if name == "get_config":
            return True, None, {"config": self.agent.cfg}  # never the secrets
        if name == "set":
            return self.set_config(args["field"], args["value"])
        if name == "reboot":
            delay = max(RESTART_GRACE_MS, args["delay_s"] * 1000)
            self.agent.restart_in(delay)
            return True, None, {"restart_in_ms": delay}
        return self.agent.role_command(cmd, now_ms)

    def set_config(self, field, value):
        """Change one config field (validated against the whole schema, saved atomically),
        then restart so it applies from a clean boot. (ok, error, state) as an ack wants.
        A value already in force writes nothing and restarts nothing (no flash wear)."""
        from agent import commands, config, files, store

        path = self.agent.root + files.CONFIG_FILE
        raw, _, _ = store.load_json(path)
        new, errors = commands.check_set(raw, field, value)
        if new is None:
            return False, "; ".join(errors), None
        cfg = config.load(new)
        if cfg != config.check(config.CONFIG, raw)[0]:
            store.save_json(path, new, config.load)
        if cfg == self.agent.cfg:
            return True, None, {"field": field, "value": value, "unchanged": True}
        self.agent.restart_in(RESTART_GRACE_MS)
        return True, None, {"field": field, "value": value, "restart_in_ms": RESTART_GRACE_MS}

    def goodbye(self):
        """Before a commanded restart: say offline ourselves, then leave cleanly."""
        self.link.publish(self.topics.status, b"offline", True)
        self.link.close()
