"""A simulated day on two pipe branches: four inlet agents under the MicroPython unix port
(bins filled by a day's deposits on the simulated board) and the vacuum station coordinator,
all through a real Mosquitto on a loopback port. Virtual time runs PACE times faster than
real time on one shared scenario clock, so the station and the devices agree on the hour."""

import time

from host_tools import vdevice
from host_tools.broker import Broker
from host_tools.station.coordinator import Coordinator
from host_tools.station.service import StationService

SPEEDUP = 600  # a day in 144 s
PACE = 1 / SPEEDUP
DAY_S = 24 * 3600
WALL0 = 1768435200  # 2026-01-15 00:00 UTC, a Thursday
SECRETS = {"wifi": {"ssid": "street", "password": "pw"}}
# id, branch, starting level, how busy against the day profile (about 2.3 bins a day at 1)
INLETS = (("n1", "north", 0.70, 1.2), ("n2", "north", 0.40, 1.0), ("n3", "north", 0.80, 0.8),
          ("s1", "south", 0.55, 1.4))


def inlet_config(port, dev_id, branch):
    return {"device": {"id": dev_id, "role": "inlet"},
            "mqtt": {"host": "127.0.0.1", "port": port, "keepalive_s": 60},
            # At 600x, a 10 ms stall of the host is 6 s on the board: no watchdog here.
            "loop": {"wdt_ms": 0, "heartbeat_s": 3600},
            "inlet": {"branch": branch, "tz_offset_min": 60, "dst": "eu"}}


def overlaps(intervals):
    spans = sorted(intervals)
    return [(a, b) for a, b in zip(spans, spans[1:], strict=False) if b[0] < a[1]]


def test_a_day_of_deposits_every_inlet_emptied_before_overflow(tmp_path):
    with Broker() as broker:
        real0 = time.time_ns()

        def clock_ms():
            return (time.time_ns() - real0) / 1e6 * SPEEDUP

        def wall_s():
            return WALL0 + (time.time_ns() - real0) / 1e9 * SPEEDUP

        # At 600x a 100 ms stall of this 2-core host is a minute on the scenario clock: the
        # station waits 5 minutes for an inlet's confirmation instead of 15 s.
        coordinator = Coordinator(first_cycle=1000, confirm_margin_s=300)
        station = StationService("127.0.0.1", broker.port, clock_ms=clock_ms, wall_s=wall_s,
                                 coordinator=coordinator).start()
        procs = []
        try:
            for seed, (dev, branch, level, scale) in enumerate(INLETS, 1):
                folder = vdevice.make_device(tmp_path / dev,
                                             inlet_config(broker.port, dev, branch), SECRETS)
                procs.append((dev, branch, vdevice.start(
                    folder, run_s=DAY_S, heap="4M", pace=PACE, wall0=WALL0, real0=real0,
                    bin_level=level, bin_scale=scale, bin_seed=seed)))
            results = {dev: (branch, *vdevice.finish(p, timeout_s=DAY_S * PACE + 120))
                       for dev, branch, p in procs}
        finally:
            for _, _, p in procs:
                if p.poll() is None:
                    p.kill()
            station.stop()
    report = station.report()
    opens_by_branch = {}
    for dev, (branch, summary, out) in results.items():
        b = summary["bin"]
        # deposits came all day, and each bin was emptied, more than once, never overflowing
        assert b["bags"] > 40, (dev, b)
        assert b["discharges"] >= 2, (dev, b, out[-2000:])
        assert b["overflow_ms"] == 0 and b["max_level"] < 1.0, (dev, b)
        assert all(close is not None for _, close in b["opens"]), (dev, b)
        # An opening cut short (on this loaded host a link may flap at 600x, and the valve
        # then closes at once) does not empty the bin: the inlet checks, asks again and
        # empties it later; it never reaches the suspected-jam alarm.
        assert b["discharges"] >= len(b["opens"]) - 2, (dev, b, summary["valve_stops"])
        assert summary["state"]["status"] == "ok", (dev, summary["state"])
        opens_by_branch.setdefault(branch, []).extend(b["opens"])
    for branch, spans in opens_by_branch.items():
        assert not overlaps(spans), (branch, overlaps(spans))  # one valve at a time per branch
    # A grant that never got an answer is only acceptable from an inlet whose broker session
    # was lost meanwhile (the grant went with it: grants are not queued for the offline).
    # At 600x a host hiccup of a few ms can cost a session; the station's timeout, revoke and
    # guard handle it, and the inlet asks again.
    relinked = {dev for dev, (_, s, _) in results.items() if s["reconnects"] > 0}
    unexplained = [a for a in station.alarms
                   if a[3] == "jam" or (a[3] == "no_confirm" and a[2] not in relinked)]
    assert not unexplained, (unexplained, {d: r[1]["reconnects"] for d, r in results.items()})
    total_opens = sum(len(s) for s in opens_by_branch.values())
    assert report["valve_openings"] == total_opens
    # batching: fewer fan runs than discharges on the branch with three inlets
    north = report["by_branch"]["north"]
    assert north["fan_starts"] < north["valve_openings"], report
