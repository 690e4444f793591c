"""Light-ahead through a real broker: a walker passes pole A; its neighbour B, 30 m further
on in the same group, raises its level ahead of the walker, scaled by distance."""

from host_tools import vdevice
from host_tools.broker import Broker

SECRETS = {"wifi": {"ssid": "street", "password": "pw"}}


def pole(port, dev_id, position_m):
    return {"device": {"id": dev_id, "role": "streetlight"},
            "mqtt": {"host": "127.0.0.1", "port": port, "group": "elm", "keepalive_s": 10},
            "light": {"position_m": position_m, "ahead_reach_m": 90, "boost_pct": 100,
                      "hold_s": 2, "fade_s": 1, "ramp_ms": 200, "curve": "linear",
                      "profile": [["00:00", 30]], "min_level_pct": 10}}


def test_a_neighbour_lights_ahead_of_the_walker(tmp_path):
    with Broker() as broker:
        a = vdevice.make_device(tmp_path / "a", pole(broker.port, "pole-a", 0), SECRETS)
        b = vdevice.make_device(tmp_path / "b", pole(broker.port, "pole-b", 30), SECRETS)
        pa = vdevice.start(a, run_s=10, motion_ms=4000)  # dark street (0 lx), walker at 4 s
        pb = vdevice.start(b, run_s=10)
        sa, out_a = vdevice.finish(pa)
        sb, out_b = vdevice.finish(pb)
    assert sa["lamp_max_pct"] == 100, out_a  # own sensor: full boost
    # 30 m of a 90 m reach: 100 % * (1 - 30/90) = 66.7 %, above its 30 % profile level
    assert abs(sb["lamp_max_pct"] - 66.7) < 1.0, out_b
    # both back to the profile level (within the PWM's resolution)
    assert abs(sb["lamp_last_pct"] - 30) < 0.1 and abs(sa["lamp_last_pct"] - 30) < 0.1
    assert sb["state"]["on"] and sb["state"]["control"] == "photocell"
