# Ring 2: an inlet agent boots through main.py on the simulated board, over a bin, with a
# DS18B20 in cold air and no broker in reach. It must measure the right level (the speed of
# sound corrected for 2 °C), ask must-go, and refuse a grant: with the broker link down the
# valve stays closed, and the refusal waits in the outbox for the station.
import json

import device
import simbin
import simclock
import simworld

from agent import app

VALVE = 23  # boards/esp32-devkitc.json
COLD_C = 2.0
INLET = {"device": {"id": "bin-1", "role": "inlet", "board": "esp32-devkitc"},
         "mqtt": {"host": "127.0.0.1"},
         "inlet": {"branch": "north", "temp_sensor": "ds18b20", "temp_c": 20, "sample_s": 60}}


def _grant(cycle):
    payload = json.dumps({"v": 1, "seq": 1, "ts": None, "up": 0, "t": "grant", "id": "bin-1",
                          "cycle": cycle, "ttl_s": 30, "vac": True}).encode()
    app.current.role_impl.peer_message(payload, simclock.now_ms())


def _outbox_has(text):
    box = app.current.comms.link.outbox
    return any(p is not None and text in p for p in box.payloads)


def test_inlet_measures_asks_and_keeps_its_valve_closed_without_a_link():
    d = device.make("inlet", config=INLET)
    pins = {"us_trig": 26, "us_echo": 27, "valve": VALVE, "valve_pos": 36, "vacuum_ready": 39}
    b = simbin.Bin(pins, ("valve_pos", "vacuum_ready"), level=0.9, bags_per_h=(0,) * 24,
                   temp_c=COLD_C)
    simworld.ds18b20(4, COLD_C)
    simclock.at_ms(5 * 60000, _grant, 7)
    device.power_on(d, 10 * 60000)
    st = app.current.state()
    # at 2 °C the echo is 3 % slower than at 20 °C: without the DS18B20 the level would
    # read about 0.03 low
    assert abs(st["fillingLevel"] - 0.9) < 0.01, st
    assert abs(st["temperature"] - COLD_C) < 0.1, st
    assert st["request"] == "must" and st["status"] == "ok" and st["discharge"] == "idle"
    assert [lv for _, lv in simworld.pin_history(VALVE)] == [0], "the valve moved"
    assert b.opens == [] and b.level == 0.9
    assert _outbox_has(b'"why":"link_lost"') and _outbox_has(b'"cycle":7')


def test_a_config_temperature_without_a_sensor_is_used_but_not_reported():
    cfg = json.loads(json.dumps(INLET))
    cfg["inlet"].update(temp_sensor="none", temp_c=COLD_C)
    d = device.make("inlet2", config=cfg)
    pins = {"us_trig": 26, "us_echo": 27, "valve": VALVE, "valve_pos": 36, "vacuum_ready": 39}
    simbin.Bin(pins, ("valve_pos", "vacuum_ready"), level=0.5, bags_per_h=(0,) * 24,
               temp_c=COLD_C)
    device.power_on(d, 3 * 60000)
    st = app.current.state()
    assert abs(st["fillingLevel"] - 0.5) < 0.01 and st["temperature"] is None, st
    assert st["request"] == "none"  # 0.5: below may_go, and no fill rate to look ahead with
