"""Ring 3 groundwork: the device's MQTT client (umqtt.simple on the MicroPython unix port)
talks to a real Mosquitto that the test starts and stops itself."""

import subprocess
import threading

import paho.mqtt.client as mqtt

from host_tools.broker import Broker, pid_alive
from host_tools.upy import micropython_env, micropython_exe

DEVICE_SCRIPT = """
from umqtt.simple import MQTTClient
c = MQTTClient("pole-1", "127.0.0.1", port={port}, keepalive=30)
c.set_last_will(b"city/main/streetlight/pole-1/status", b"offline", retain=True)
c.connect()
c.publish(b"city/main/streetlight/pole-1/status", b"online", retain=True)
c.disconnect()
print("published")
"""


def test_umqtt_on_micropython_publishes_retained_to_our_broker(broker):
    out = subprocess.run(
        [micropython_exe(), "-c", DEVICE_SCRIPT.format(port=broker.port)],
        env=micropython_env(), capture_output=True, text=True, timeout=30,
    )
    assert out.returncode == 0, out.stdout + out.stderr

    got = threading.Event()
    seen = {}
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="monitor")

    def on_message(client, userdata, msg):
        seen[msg.topic] = (msg.payload, msg.retain)
        got.set()

    sub.on_message = on_message
    sub.connect("127.0.0.1", broker.port, keepalive=30)
    sub.subscribe("city/+/streetlight/+/status")
    sub.loop_start()
    try:
        assert got.wait(5), "retained status never arrived"
    finally:
        sub.loop_stop()
        sub.disconnect()
    assert seen["city/main/streetlight/pole-1/status"] == (b"online", True)


def test_broker_is_private_and_stopped_by_pid():
    with Broker() as b:
        pid = b.proc.pid
        assert pid_alive(pid)
    assert not pid_alive(pid)
