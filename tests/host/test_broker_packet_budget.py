"""The broker's packet limit (`street broker init --max-packet-bytes`, default
MAX_PACKET_BYTES_DEFAULT) against the largest message each part of the project sends, built
with the project's own code and the longest ids the config schema allows. A sender over the
limit is disconnected by the broker, so every legitimate message must fit with room to spare."""

from agent import commands, config, discovery, message, sign, topics, vacuum
from host_tools.security.conf import MAX_PACKET_BYTES_DEFAULT, MAX_PACKET_BYTES_MIN
from host_tools.station.coordinator import Coordinator
from host_tools.station.service import state_fields

LONGEST = "x" * 32  # device id, site, prefix, group, branch: "id" fields of at most 32
TS, UP_MS = 2**31, 2**40  # wide numbers in the envelope
BRANCHES = 64  # a large vacuum network; 16 KiB holds about twice as many


def packet_bytes(topic: bytes, payload: bytes) -> int:
    """A QoS 1 PUBLISH: fixed header, remaining length, topic, packet id, payload."""
    remaining = 2 + len(topic) + 2 + len(payload)
    length_bytes = 1 + (remaining >= 128) + (remaining >= 128**2) + (remaining >= 128**3)
    return 1 + length_bytes + remaining


def device_topics(role: str) -> topics.Topics:
    return topics.Topics(LONGEST, LONGEST, role, LONGEST, LONGEST)


def largest_signed_command() -> int:
    return packet_bytes(device_topics("streetlight").cmd, b"s" * sign.WRAPPER_MAX_BYTES)


def largest_discovery_document() -> int:
    sizes = []
    for role in config.ROLES:
        docs = discovery.documents(LONGEST, device_topics(role), LONGEST, role, "n" * 64)
        sizes += [packet_bytes(t.encode(), doc) for t, doc in docs]
    return max(sizes)


def largest_get_config_ack() -> int:
    """The ack of get_config carries the whole config: the largest message a device sends."""
    sizes = []
    for role, extra in (("streetlight", {}), ("inlet", {"inlet": {"branch": LONGEST}})):
        cfg = config.load({"device": {"id": LONGEST, "role": role, "site": LONGEST,
                                      "name": "n" * 64},
                           "mqtt": {"host": "h" * 253, "prefix": LONGEST, "group": LONGEST},
                           **extra})
        payload = message.Encoder().encode(commands.ack("i" * 32, True, None,
                                                        {"config": cfg}), TS, UP_MS)
        sizes.append(packet_bytes(device_topics(role).cmd_ack, payload))
    return max(sizes)


def largest_station_state(branches: int) -> int:
    coord = Coordinator({("b%03d" % i).ljust(32, "x"): {} for i in range(branches)})
    worst = {b: {**phase, "phase": "vacuum_lost", "inlet": LONGEST, "cycle": vacuum.CYCLE_MAX}
             for b, phase in coord.summary().items()}
    payload = message.Encoder().encode(state_fields(worst, coord.cost.report(1e12)), TS, UP_MS)
    return packet_bytes(f"{LONGEST}/{LONGEST}/station/state".encode(), payload)


def test_every_legitimate_message_fits_the_default_limit():
    sizes = {"signed command": largest_signed_command(),
             "discovery document": largest_discovery_document(),
             "get_config ack": largest_get_config_ack(),
             f"station state, {BRANCHES} branches": largest_station_state(BRANCHES)}
    assert all(size <= MAX_PACKET_BYTES_DEFAULT // 2 for size in sizes.values()), sizes


def test_the_lowest_allowed_limit_still_admits_every_device_message():
    assert max(largest_signed_command(), largest_discovery_document(),
               largest_get_config_ack()) <= MAX_PACKET_BYTES_MIN


def test_oversize_commands_are_over_the_default_limit():
    for size in (100_000, 1_000_000):
        assert packet_bytes(device_topics("inlet").cmd, b"x" * size) > MAX_PACKET_BYTES_DEFAULT
