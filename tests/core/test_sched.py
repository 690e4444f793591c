"""The loop's deadline scheduler: on time, no drift, no bursts, across tick wrap-around."""

from hypothesis import given
from hypothesis import strategies as st

from agent.sched import TICKS_PERIOD, Scheduler, ticks_add, ticks_diff

ticks = st.integers(0, TICKS_PERIOD - 1)
deltas = st.integers(-(TICKS_PERIOD // 2), TICKS_PERIOD // 2 - 1)


@given(ticks, deltas)
def test_ticks_diff_undoes_ticks_add_across_wrap(t, d):
    assert ticks_diff(ticks_add(t, d), t) == d
    assert 0 <= ticks_add(t, d) < TICKS_PERIOD


def run(sched, start, total_ms):
    """Drive the scheduler like the loop does: run due tasks, sleep until the next one."""
    now, elapsed = start, 0
    while elapsed < total_ms:
        wait = sched.run_due(now)
        assert wait >= 0
        step = max(1, wait)
        now, elapsed = ticks_add(now, step), elapsed + step


@given(ticks, st.lists(st.integers(1, 5000), min_size=1, max_size=4))
def test_each_task_runs_once_per_period_even_across_wrap(start, periods):
    log = {i: [] for i in range(len(periods))}
    s = Scheduler(start)
    for i, p in enumerate(periods):
        s.add(f"t{i}", p, lambda now, i=i: log[i].append(now))
    total = 20000
    run(s, start, total)
    for i, p in enumerate(periods):
        runs = log[i]
        assert len(runs) == total // p + (total % p > 0)
        gaps = {ticks_diff(b, a) for a, b in zip(runs, runs[1:], strict=False)}
        assert gaps <= {p}, f"period {p} drifted: {gaps}"


def test_a_long_stall_skips_missed_runs_instead_of_bursting():
    runs = []
    s = Scheduler(0)
    s.add("beat", 100, runs.append)
    s.run_due(0)
    assert s.run_due(1050) == 100  # stalled 10 periods: run once, next in a full period
    assert runs == [0, 1050]
    assert s.run_due(1100) == 50 and runs == [0, 1050]


def test_a_task_may_ask_to_run_sooner_while_busy():
    fading = [3]
    runs = []

    def fade(now):
        runs.append(now)
        if fading[0]:
            fading[0] -= 1
            return 20  # a ramp in progress: come back in 20 ms
        return None

    s = Scheduler(0)
    s.add("fade", 1000, fade)
    run(s, 0, 3000)
    assert runs[:5] == [0, 20, 40, 60, 1060]


def test_wake_makes_a_task_due_now():
    runs = []
    s = Scheduler(0)
    s.add("motion", 10000, runs.append)
    s.run_due(0)
    s.wake("motion", 123)
    assert s.run_due(123) == 10000 and runs == [0, 123]
