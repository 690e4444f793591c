"""What the fleet's topics say, kept per device (pure: the caller passes each message and
the wall-clock time it arrived). Retained `status` and `state` tell who exists the moment
a tool subscribes; `diag` carries the last command counter a device accepted (cmd_ctr);
`cmd/ack` answers commands and is handed back to the caller."""

from dataclasses import dataclass, field

from agent import message, topics


@dataclass
class Device:
    id: str
    kind: str
    site: str
    prefix: str
    group: str = ""  # from the device's config (keys) when known
    online: bool | None = None  # None: no status seen
    seen: float | None = None  # wall-clock seconds of the latest news from it
    state: dict = field(default_factory=dict)
    diag: dict = field(default_factory=dict)

    @property
    def root(self) -> str:
        return "%s/%s/%s/%s/" % (self.prefix, self.site, self.kind, self.id)

    @property
    def cmd_topic(self) -> str:
        return self.root + "cmd"

    def groups(self) -> set[str]:
        """The groups it belongs to: its config's, else an inlet's branch (the firmware's
        default group), and a group its state names, should the firmware say it."""
        out = {g for g in (self.group, self.state.get("group")) if isinstance(g, str) and g}
        if not self.group and isinstance(self.state.get("branch"), str):
            out.add(self.state["branch"])
        return out

    def cmd_ctr(self) -> int:
        v = self.diag.get("cmd_ctr")
        return v if type(v) is int and v >= 0 else 0


@dataclass(frozen=True)
class Ack:
    device: str
    id: str | None
    ok: bool
    error: str | None
    state: dict | None


class FleetView:
    def __init__(self, prefix: str = "city", site: str = "+"):
        self.prefix, self.site = prefix, site
        self.devices: dict[str, Device] = {}
        self.version = 0  # moves on every change: redraw when it did
        self.bad = 0  # payloads that did not decode

    def filters(self) -> list[str]:
        return [topics.fleet_filter(self.prefix, self.site)]

    def know(self, dev_id: str, prefix: str, site: str, kind: str, group: str = "") -> Device:
        """A device known from its folder before (or without) hearing from it."""
        d = self.devices.get(dev_id)
        if d is None or (d.prefix, d.site, d.kind) != (prefix, site, kind):
            d = self.devices[dev_id] = Device(dev_id, kind, site, prefix)
        d.group = group
        self.version += 1
        return d

    def on_message(self, topic: str, payload: bytes, retained: bool, now: float) -> Ack | None:
        parts = topics.parse(topic)
        if parts is None or parts[3] is None:
            return None  # group topics and anything else: not about one device
        prefix, site, kind, dev_id, _, channel = parts
        if prefix != self.prefix or self.site not in ("+", site):
            return None
        if channel not in ("status", "state", "diag", "cmd/ack"):
            return None
        d = self.devices.get(dev_id)
        if d is None or (d.prefix, d.site, d.kind) != (prefix, site, kind):
            d = self.devices[dev_id] = Device(dev_id, kind, site, prefix,
                                              group=d.group if d else "")
        self.version += 1
        if channel == "status":
            word = bytes(payload).strip()
            d.online = True if word == b"online" else False if word == b"offline" else None
            if not retained:
                d.seen = now
            return None
        if not payload:  # a retained message cleared
            if channel == "state":
                d.state = {}
            return None
        obj, err = message.decode(payload)
        if obj is None:
            self.bad += 1
            return None
        ts = obj.get("ts")
        when = ts if retained and type(ts) is int else None if retained else now
        if when is not None and (d.seen is None or when > d.seen):
            d.seen = when
        fields = {k: v for k, v in obj.items() if k not in ("v", "seq", "ts", "up")}
        if channel == "state":
            d.state = fields
        elif channel == "diag":
            d.diag = fields
        else:
            aid = fields.get("id")
            err_text = fields.get("error")
            st = fields.get("state")
            return Ack(dev_id, aid if isinstance(aid, str) else None, fields.get("ok") is True,
                       err_text if isinstance(err_text, str) else None,
                       st if isinstance(st, dict) else None)
        return None

    def select(self, target: str) -> tuple[list[Device], str | None]:
        """The devices a target names (cmdline.target_error has checked its form), or an
        error naming what is not known."""
        everyone = sorted(self.devices.values(), key=lambda d: (d.kind, d.site, d.id))
        where = "%s/%s" % (self.prefix, self.site)
        if target == "all":
            chosen = everyone
        elif ":" in target:
            kind, _, value = target.partition(":")
            if kind == "group":
                chosen = [d for d in everyone if value in d.groups()]
            elif kind == "kind":
                chosen = [d for d in everyone if d.kind == value]
            else:
                chosen = [d for d in everyone if d.site == value]
        else:
            chosen = []
            for one in target.split(","):
                if one not in self.devices:
                    return [], ("%s: unknown device (no retained status under %s, and no "
                                "device folder for it in --keys)" % (one, where))
                if self.devices[one] not in chosen:
                    chosen.append(self.devices[one])
        if not chosen:
            return [], "%s: no such devices under %s" % (target, where)
        return chosen, None
