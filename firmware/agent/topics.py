# The MQTT topic scheme (pure), shared by the device, the host tools and the ACL generator.
#
#   <prefix>/<site>/<kind>/<device_id>/<channel>        one device's own topics
#   <prefix>/<site>/<kind>/group/<group>/<channel>      a light-ahead group / an inlet branch
#
# kind is the device's role. Every segment is a config "id" (letters, digits, _ - .), so no
# segment can hold '/', '+' or '#', and the device id "group" is reserved for group topics.
from micropython import const

from agent.config import RESERVED_IDS, ROLES

DEVICE_CHANNELS = ("status", "state", "telemetry", "event", "diag", "cmd", "cmd/ack")
GROUP_CHANNELS = ("cmd", "peer")
# Who may publish on a group's peer topic: poles tell their neighbours about motion. Inlets
# only listen there (the vacuum station grants on it), so an inlet cannot forge a grant.
PEER_WRITERS = ("streetlight",)

_ID_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-."
_MAX_SEGMENT = const(32)


def _is_id(s):
    if not isinstance(s, str) or not 0 < len(s) <= _MAX_SEGMENT:
        return False
    for c in s:
        if c not in _ID_CHARS:
            return False
    return True


def _need_id(what, s):
    if not _is_id(s):
        raise ValueError("topic %s %r: 1..32 letters, digits, '_', '-' or '.'" % (what, s))


def _device_root(prefix, site, kind, device_id):
    _need_id("prefix", prefix)
    _need_id("site", site)
    if kind not in ROLES:
        raise ValueError("topic kind %r: must be one of %s" % (kind, ", ".join(ROLES)))
    _need_id("device id", device_id)
    if device_id in RESERVED_IDS:
        raise ValueError("device id %r is reserved for group topics" % device_id)
    return "%s/%s/%s/%s/" % (prefix, site, kind, device_id)


def _group_root(prefix, site, kind, group):
    _need_id("group", group)
    return "%s/%s/%s/group/%s/" % (prefix, site, kind, group)


class Topics:
    """One device's topics as bytes, built once (umqtt.simple publishes bytes topics)."""

    def __init__(self, prefix, site, kind, device_id, group=""):
        root = _device_root(prefix, site, kind, device_id)
        self.status = (root + "status").encode()
        self.state = (root + "state").encode()
        self.telemetry = (root + "telemetry").encode()
        self.event = (root + "event").encode()
        self.diag = (root + "diag").encode()
        self.cmd = (root + "cmd").encode()
        self.cmd_ack = (root + "cmd/ack").encode()
        self.group_cmd = None
        self.group_peer = None
        if group:
            groot = _group_root(prefix, site, kind, group)
            self.group_cmd = (groot + "cmd").encode()
            self.group_peer = (groot + "peer").encode()

    def subscriptions(self):
        """The topics the device subscribes to (bytes)."""
        return [t for t in (self.cmd, self.group_cmd, self.group_peer) if t is not None]


def parse(topic):
    """(prefix, site, kind, device_or_None, group_or_None, channel) or None if `topic` (bytes
    or str, possibly hostile) does not fit the scheme. Never raises."""
    try:
        if not isinstance(topic, str):
            topic = bytes(topic).decode()
        parts = topic.split("/")
        n = len(parts)
        if n < 5 or n > 6:
            return None
        prefix, site, kind, who = parts[0], parts[1], parts[2], parts[3]
        if not (_is_id(prefix) and _is_id(site) and kind in ROLES and _is_id(who)):
            return None
        if who == "group":
            if n == 6 and _is_id(parts[4]) and parts[5] in GROUP_CHANNELS:
                return (prefix, site, kind, None, parts[4], parts[5])
            return None
        channel = "/".join(parts[4:])
        if channel in DEVICE_CHANNELS and who not in RESERVED_IDS:
            return (prefix, site, kind, who, None, channel)
        return None
    except Exception:  # hostile input: anything that is not a topic is just "no"
        return None


def device_filter(prefix, site, kind, device_id):
    """Subscription filter for everything one device publishes and receives."""
    return "%s/%s/%s/%s/#" % (prefix, site, kind, device_id)


def fleet_filter(prefix, site="+", kind="+"):
    """Subscription filter for a whole site (or every site) of one kind (or all kinds)."""
    return "%s/%s/%s/#" % (prefix, site, kind)


def acl_write(prefix, site, kind, device_id, group=""):
    """Topics a device may publish to (exact names: no wildcards, so nothing more)."""
    root = _device_root(prefix, site, kind, device_id)
    out = [root + c for c in DEVICE_CHANNELS if c != "cmd"]
    if group and kind in PEER_WRITERS:
        out.append(_group_root(prefix, site, kind, group) + "peer")
    return out


def acl_read(prefix, site, kind, device_id, group=""):
    """Topics a device may subscribe to and receive from."""
    out = [_device_root(prefix, site, kind, device_id) + "cmd"]
    if group:
        groot = _group_root(prefix, site, kind, group)
        out.append(groot + "cmd")
        out.append(groot + "peer")
    return out
