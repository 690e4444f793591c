"""The in-process street against a real Mosquitto (started here on a free loopback port and
stopped by its PID): one MQTT session per agent, so light-ahead goes pole 1 -> broker ->
pole 2, and the broker holds each device's retained status and state. Paced at 30x: the
broker's round trip is real time, a few virtual ms here; what is asserted is the order of
things and what the broker holds, not how fast."""

import threading

import paho.mqtt.client as mqtt

from host_tools.broker import Broker
from host_tools.street import account, inprocess, scenario
from tests.host.test_inprocess import _pole_stim, _World

SPEED = 30.0
RUN_S = 90


def _retained(port, filt, wait_s=3.0):
    got = {}
    done = threading.Event()
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-retained")
    c.on_connect = lambda cl, u, f, rc, p: cl.subscribe(filt, 1)
    c.on_message = lambda cl, u, m: got.__setitem__(m.topic, bytes(m.payload))
    c.connect("127.0.0.1", port, 30)
    c.loop_start()
    done.wait(wait_s)  # retained messages arrive right after the subscription
    c.loop_stop()
    c.disconnect()
    return got


def test_light_ahead_reaches_pole_2_through_mosquitto():
    s = scenario.load("residential", poles=2, hours=1)
    t0 = scenario.wall_at(s, "22:30")
    dark = [[t0 - 60, 0.2]]
    seen_at = t0 + 40
    stim = {"pole-01": _pole_stim("pole-01", t0, RUN_S, dark, [[seen_at, 3000]]),
            "pole-02": _pole_stim("pole-02", t0, RUN_S, dark, [])}
    broker = Broker().start()
    try:
        s2 = dict(s, start_wall=t0, end_wall=t0 + RUN_S)
        street = inprocess.InProcessStreet(s2, _World(stim), "127.0.0.1", broker.port,
                                           speed=SPEED, lead_s=2, boot_spread_s=0,
                                           station=False)
        hist = street.run()
        held = _retained(broker.port, "city/#")
    finally:
        broker.close()
    assert street.sessions.connects == 2 and street.sessions.failures == 0
    boost = scenario.light_settings(s)["boost_pct"]
    lamp2 = account.Steps(hist["pole-02"]["lamp"])
    assert lamp2.at(seen_at - 0.1) < boost, hist["pole-02"]["lamp"]
    up = [t for t, pct in hist["pole-02"]["lamp"] if pct >= boost and t >= seen_at]
    assert up and up[0] <= seen_at + s["encounter"]["ramp_s"], hist["pole-02"]["lamp"]
    assert not hist["pole-02"]["detections"]  # its own sensor saw nobody
    for pid in ("pole-01", "pole-02"):
        root = f"city/{s['site']}/streetlight/{pid}/"
        assert held.get(root + "status") == b"online", sorted(held)
        assert b'"role":"streetlight"' in held.get(root + "state", b""), sorted(held)
