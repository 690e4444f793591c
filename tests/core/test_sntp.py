"""SNTP packets and the clock-step policy (agent.sntp, pure) under CPython with hypothesis:
any reply never crashes and never steps the clock unless it is a valid answer to our request;
NTP's 2036 era wrap; the large-jump policy; the clock.servers syntax in the config schema."""

import struct

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from agent import config, sntp

NTP_1900 = 2208988800
Y2024 = sntp.VALID_AFTER
WRAP_S = (1 << 32) - NTP_1900  # 2036-02-07 06:28:16 UTC: NTP seconds start again at 0
Y2104 = 4229280000  # the end of NTP era 1 (2104-02-07 is 2**33 s after 1900); before it


def ntp(unix_ms):
    s = unix_ms // 1000 + NTP_1900
    return struct.pack(">II", s & 0xFFFFFFFF, ((unix_ms % 1000) << 32) // 1000)


def request(nonce=b"\x12\x34\x56\x78\x9a\xbc\xde\xf1"):
    req = sntp.request()
    req[40:48] = nonce
    return req


def reply(req, tx_ms, rx_ms=None, b0=0x24, stratum=2):
    out = bytearray(48)
    out[0], out[1] = b0, stratum
    out[24:32] = req[40:48]
    out[32:40] = ntp(tx_ms if rx_ms is None else rx_ms)
    out[40:48] = ntp(tx_ms)
    return out


def valid(buf, n, req):
    """An independent reading of RFC 4330's rules for a reply we may believe."""
    if n < 48:
        return False
    b0, stratum = buf[0], buf[1]
    tx_s = struct.unpack(">I", bytes(buf[40:44]))[0]
    unix = tx_s - NTP_1900 + (0 if tx_s >= 1 << 31 else 1 << 32)
    return (b0 & 7 == 4 and (b0 >> 3) & 7 in (3, 4) and b0 >> 6 != 3
            and 1 <= stratum <= 15 and bytes(buf[24:32]) == bytes(req[40:48])
            and any(buf[40:48]) and unix >= Y2024)


def test_the_request_is_a_version_4_client_packet_with_a_fresh_nonzero_nonce():
    req = sntp.request()
    assert len(req) == 48 and req[0] == 0x23 and not any(req[1:])
    sntp.stamp(req, lambda bits: 0)
    assert any(req[40:48])  # never zero, even from a stuck generator
    sntp.stamp(req, lambda bits: 0xAB)
    assert bytes(req[40:47]) == b"\xab" * 7


@given(st.binary(max_size=68), st.booleans(), st.integers(0, 255), st.integers(0, 255),
       st.integers(0, 5000), st.booleans())
def test_any_bytes_never_crash_and_never_step_unless_valid(data, echo, b0, stratum, rtt,
                                                          clock_set):
    req = request()
    buf = bytearray(data) + bytearray(max(0, 48 - len(data)))
    if echo:  # most random replies fail at the originate check: let many get past it
        buf[24:32] = req[40:48]
        buf[0], buf[1] = b0, stratum
    n = len(data)
    act, off, why = sntp.judge(buf, n, req, rtt, 1000, clock_set, 1000_000, None)
    if act in (sntp.REJECT, sntp.BACK_OFF):
        assert why and off == 0
    else:
        assert valid(buf, n, req), (act, why)
    if not valid(buf, n, req):
        assert act in (sntp.REJECT, sntp.BACK_OFF)
        assert (act == sntp.BACK_OFF) == why.startswith(sntp.KOD)


@given(st.integers(Y2024 * 1000, Y2104 * 1000 - 1))
def test_times_from_2024_to_2104_read_back_to_the_millisecond_across_the_2036_wrap(t_ms):
    assume(t_ms != WRAP_S * 1000)  # all zero bits there: "no time" in NTP (next test)
    req = request()
    why, rx, tx = sntp.read_reply(reply(req, t_ms), 48, req)
    assert why is None and rx == tx == t_ms


def test_the_era_wrap_itself():
    req = request()
    for t in (WRAP_S * 1000 - 1, WRAP_S * 1000 + 1, WRAP_S * 1000 + 1000):
        assert sntp.read_reply(reply(req, t), 48, req)[2] == t
    assert struct.unpack(">I", bytes(reply(req, WRAP_S * 1000 + 1)[40:44]))[0] == 0  # era 1
    # The very instant of the wrap is all zero bits, which NTP reserves for "no time".
    assert sntp.read_reply(reply(req, WRAP_S * 1000), 48, req)[0] == "no transmit time"


@given(st.integers(0, Y2024 * 1000 - 1))
def test_times_before_2024_are_refused(t_ms):
    assume(t_ms // 1000 + NTP_1900 >= 1 << 31)  # earlier ones read as era 1 (after 2036)
    req = request()
    why, _, _ = sntp.read_reply(reply(req, t_ms), 48, req)
    assert why in ("transmit time before 2024", "no transmit time")


@given(st.integers(Y2024 * 1000, Y2104 * 1000), st.integers(0, 3000), st.integers(0, 3000),
       st.integers(-10**12, 10**12))
def test_the_offset_takes_half_the_round_trip_less_the_servers_own_time(t, busy, rtt, local):
    req = request()
    act, off, _ = sntp.judge(reply(req, t + busy, rx_ms=t), 48, req, rtt, local, False,
                             1000_000, None)
    assert act == sntp.STEP
    held = busy if busy <= rtt else 0  # a server claiming more than the round trip: ignored
    assert off == t + busy + (rtt - held) // 2 - local


@given(st.integers(-10**13, 10**13))
def test_an_unset_clock_takes_the_first_valid_answer_whatever_the_jump(off):
    req = request()
    t = 1772366400000
    act, got, _ = sntp.judge(reply(req, t), 48, req, 0, t - off, False, 1000_000, None)
    assert act == sntp.STEP and got == off


class Shell:
    """What agent.timesync keeps between answers: the pending jump (sntp.judge's contract)."""

    def __init__(self, jump_s):
        self.jump_ms, self.pending = jump_s * 1000, None

    def answer(self, buf, req, local, clock_set=True):
        act, off, why = sntp.judge(buf, 48, req, 0, local, clock_set, self.jump_ms,
                                   self.pending)
        if act == sntp.CONFIRM:
            self.pending = off
        elif act == sntp.STEP:
            self.pending = None
        return act, off


@given(st.integers(-10**10, 10**10), st.integers(-10**10, 10**10), st.integers(1, 86400))
def test_a_set_clock_jumps_only_when_two_answers_agree(first, second, jump_s):
    req = request()
    t = 1772366400000
    sh = Shell(jump_s)
    a1, o1 = sh.answer(reply(req, t + first), req, t)
    assert o1 == first
    if abs(first) <= jump_s * 1000:
        assert a1 == sntp.STEP
        return
    assert a1 == sntp.CONFIRM
    a2, _ = sh.answer(reply(req, t + second), req, t)
    if abs(second) <= jump_s * 1000 or abs(second - first) <= sntp.AGREE_MS:
        assert a2 == sntp.STEP  # the old time confirmed, or the jump
    else:
        assert a2 == sntp.CONFIRM and sh.pending == second  # a new candidate to confirm


def test_a_refused_reply_leaves_a_pending_jump_alone():
    req = request()
    sh = Shell(1000)
    t = 1772366400000
    assert sh.answer(reply(req, t + 5_000_000), req, t)[0] == sntp.CONFIRM
    assert sh.answer(reply(req, t, b0=0x23), req, t)[0] == sntp.REJECT
    assert sh.answer(reply(req, t + 5_000_100), req, t)[0] == sntp.STEP


def test_the_shell_mirrors_the_actions():
    from agent import timesync

    assert (timesync._STEP, timesync._CONFIRM, timesync._BACK_OFF) == (
        sntp.STEP, sntp.CONFIRM, sntp.BACK_OFF)


@pytest.mark.parametrize("b0, stratum, why", [
    (0x23, 2, "not a server reply (mode 3)"),
    (0x14, 2, "version 2"),
    (0x24, 0, "kiss-o'-death RATE"),
    (0x24, 16, "stratum 16: server not synchronised"),
    (0xE4, 2, "leap indicator 3: server not synchronised"),
])
def test_each_refusal_names_its_reason(b0, stratum, why):
    req = request()
    buf = reply(req, 1772366400000, b0=b0, stratum=stratum)
    buf[12:16] = b"RATE"
    assert sntp.read_reply(buf, 48, req)[0] == why


def test_a_kiss_of_death_not_meant_for_us_is_not_obeyed():
    req = request()
    buf = reply(req, 1772366400000, stratum=0)
    buf[24] ^= 1  # someone else's originate: a forged kiss must not silence us
    assert sntp.read_reply(buf, 48, req)[0].startswith("not an answer")


hosts = st.text("abcdefghijklmnopqrstuvwxyz0123456789-.", min_size=1, max_size=20)


@given(st.lists(st.tuples(hosts, st.one_of(st.none(), st.integers(1, 65535))), min_size=1,
                max_size=4))
def test_servers_parse_back(entries):
    text = ", ".join(h if p is None else f"{h}:{p}" for h, p in entries)
    assert sntp.servers(text) == [(h, 123 if p is None else p) for h, p in entries]


MINIMAL = {"device": {"id": "pole-1", "role": "streetlight"}, "mqtt": {"host": "b"}}


def test_the_clock_section_defaults_and_refuses_a_bad_server_by_name():
    cfg = config.load(MINIMAL)
    assert cfg["clock"] == {"servers": "pool.ntp.org", "sync_h": 6, "timeout_ms": 2000,
                            "retry_max_s": 600, "jump_s": 1000}
    assert config.load(dict(MINIMAL, clock={"servers": ""}))["clock"]["servers"] == ""
    with pytest.raises(config.ConfigError, match=r"clock.servers: '10.0.0.1:0' is not host"):
        config.load(dict(MINIMAL, clock={"servers": "pool.ntp.org,10.0.0.1:0"}))
    with pytest.raises(config.ConfigError, match=r"clock.sync_h: 100 is above the maximum 72"):
        config.load(dict(MINIMAL, clock={"sync_h": 100}))
