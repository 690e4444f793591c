"""The crash-loop decisions (agent.crashloop, pure) under CPython with hypothesis: which crashes
count, when safe mode starts, what forgives it, and a record that survives any bytes."""

from hypothesis import given
from hypothesis import strategies as st

from agent import config, crashloop

WHERE = st.sampled_from(crashloop.WHERE)
LINE = st.text(max_size=200)
LIMIT = st.integers(0, 20)
WINDOW = st.integers(10, 86400)


@st.composite
def records(draw):
    rec = crashloop.empty()
    rec.update(count=draw(st.integers(0, 30)), safe=draw(st.booleans()),
               new=draw(st.booleans()), up_s=draw(st.integers(0, 10**9)),
               where=draw(st.sampled_from(("",) + crashloop.WHERE)),
               line=draw(st.text(max_size=crashloop.LINE_MAX)))
    return rec


@given(LIMIT, WINDOW, st.lists(st.tuples(st.integers(0, 10**6), WHERE, LINE), max_size=30))
def test_safe_mode_comes_exactly_when_limit_early_crashes_came_in_a_row(limit, window, crashes):
    rec = crashloop.empty()
    early = 0
    for up_s, where, line in crashes:
        rec = crashloop.after_crash(rec, up_s, where, line, limit, window)
        early += up_s < window
        assert rec["count"] == early  # a late crash never counts, never resets
        assert rec["safe"] == (limit > 0 and early >= limit)
        assert rec["new"] and rec["where"] == where and rec["up_s"] == up_s
        assert rec["line"] == line[:crashloop.LINE_MAX]


@given(records(), st.integers(0, 10**6), WHERE, LINE, LIMIT, WINDOW)
def test_safe_mode_once_on_stays_on_through_more_crashes(rec, up_s, where, line, limit, window):
    rec["safe"] = True
    assert crashloop.after_crash(rec, up_s, where, line, limit, window)["safe"]


@given(records())
def test_a_stable_run_forgives_the_count_but_never_ends_safe_mode(rec):
    out = crashloop.forgive(rec)
    assert out["safe"] == rec["safe"]
    assert out["count"] == (rec["count"] if rec["safe"] else 0)
    assert out["line"] == rec["line"]  # the evidence stays


@given(records())
def test_the_technician_clears_count_and_safe_mode_and_keeps_the_evidence(rec):
    out = crashloop.clear(rec)
    assert out["count"] == 0 and not out["safe"] and out["line"] == rec["line"]
    assert rec == crashloop.decode(crashloop.encode(rec))  # the input was not changed


@given(records(), st.integers(1, 20), WINDOW, st.integers(0, 10**6))
def test_an_operator_retry_is_one_more_early_crash_from_safe_mode(rec, limit, window, up_s):
    rec["safe"] = True
    again = crashloop.retry(rec, limit)
    assert not again["safe"]
    after = crashloop.after_crash(again, up_s, "run", "x", limit, window)
    assert after["safe"] == (up_s < window)


@given(records())
def test_a_record_survives_rtc_memory(rec):
    raw = crashloop.encode(rec)
    assert len(raw) <= 2048  # the ESP32's user RTC memory
    assert crashloop.decode(raw) == rec
    assert crashloop.decode(bytearray(raw)) == rec


@given(st.binary(max_size=300))
def test_any_bytes_decode_to_a_valid_record_never_an_exception(raw):
    for data in (raw, b"crash1:" + raw):
        rec = crashloop.decode(data)
        assert set(rec) == set(crashloop.empty())
        assert type(rec["count"]) is int and rec["count"] >= 0
        assert type(rec["safe"]) is bool and rec["where"] in ("",) + crashloop.WHERE
        assert len(rec["line"]) <= crashloop.LINE_MAX


def test_wrong_types_in_a_record_fall_back_field_by_field():
    raw = b'crash1:{"count": -2, "safe": 1, "new": true, "up_s": "9", "where": "x", "line": 3}'
    rec = crashloop.decode(raw)
    assert rec == dict(crashloop.empty(), new=True)


def test_a_crash_line_is_one_short_line():
    assert crashloop.crash_line("ZeroDivisionError", "boom") == "ZeroDivisionError: boom"
    assert crashloop.crash_line("KeyError", "") == "KeyError"
    long = crashloop.crash_line("OSError", "a\nb" + "c" * 300)
    assert "\n" not in long and len(long) == crashloop.LINE_MAX and long.endswith("...")


def test_the_config_schema_carries_the_limits_and_their_defaults():
    cfg = config.load({"device": {"id": "p", "role": "streetlight"}, "mqtt": {"host": "h"}})
    assert crashloop.limits(cfg) == (crashloop.LIMIT, crashloop.WINDOW_S, crashloop.STABLE_S)
    assert crashloop.limits(None) == (3, 600, 3600)
    cfg = config.load({"device": {"id": "p", "role": "inlet"}, "mqtt": {"host": "h"},
                       "inlet": {"branch": "b"},
                       "crash": {"limit": 0, "window_s": 60, "stable_s": 120}})
    assert crashloop.limits(cfg) == (0, 60, 120)
    _, errors = config.check(config.CONFIG, {"device": {"id": "p", "role": "inlet"},
                                             "mqtt": {"host": "h"}, "inlet": {"branch": "b"},
                                             "crash": {"limit": -1, "window": 5}})
    assert "crash.limit: -1 is below the minimum 0" in errors
    assert any(e.startswith("crash.window: unknown field") for e in errors)
