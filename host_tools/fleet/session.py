"""The fleet tools' MQTT connection (paho, thin): everything heard goes into a FleetView,
acks are kept for whoever waits for them. start() returns once the broker has handed over
every retained status and state: the broker answers a second SUBSCRIBE only after the
retained messages of the first, so the tool knows the fleet without guessing a delay."""

import os
import threading
import time

import paho.mqtt.client as mqtt

from host_tools.station.service import FINAL_REFUSALS, BrokerRefused

from .fleetview import Ack, FleetView

QOS = 1


class FleetSession:
    def __init__(self, view: FleetView, host: str, port: int, user: str | None = None,
                 password: str | None = None, ca: str | None = None,
                 client_id: str | None = None, keepalive: int = 30, clock=time.time):
        self.view, self.host, self.port, self.user = view, host, port, user
        self.clock = clock
        self.cond = threading.Condition()
        self.acks: list[tuple[float, Ack]] = []  # (monotonic arrival, ack)
        self.synced = False
        self.refusal: str | None = None
        self._mids: dict[int, str] = {}
        # A broker made by `street broker init` replaces the id with the login's name.
        cid = client_id or "street-%s-%d" % (os.uname().nodename[:16], os.getpid())
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=cid,
                                  clean_session=True)
        if user:
            self.client.username_pw_set(user, password)
        if ca:
            self.client.tls_set(ca_certs=ca)
        self.client.reconnect_delay_set(1, 10)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.keepalive = keepalive

    # ---- paho's thread ----

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            if str(reason_code) in FINAL_REFUSALS:
                with self.cond:
                    self.refusal = str(reason_code)
                    self.cond.notify_all()
                client.disconnect()
            return
        _, mid = client.subscribe([(f, QOS) for f in self.view.filters()])
        self._mids[mid] = "fleet"

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties):
        if self._mids.pop(mid, None) == "fleet":
            # Anything: its SUBACK comes after the first subscription's retained messages.
            _, mid2 = client.subscribe("%s/street-sync/%s" % (self.view.prefix,
                                                               client._client_id.decode()),
                                       QOS)
            self._mids[mid2] = "sync"
            return
        with self.cond:
            self.synced = True
            self.cond.notify_all()

    def _on_message(self, client, userdata, msg):
        with self.cond:
            ack = self.view.on_message(msg.topic, bytes(msg.payload), bool(msg.retain),
                                       self.clock())
            if ack is not None:
                self.acks.append((time.monotonic(), ack))
            self.cond.notify_all()

    # ---- the caller's thread ----

    def start(self, wait_s: float = 10.0) -> "FleetSession":
        """Connect and learn the fleet; OSError if the broker is not there, BrokerRefused
        for a login it refuses, RuntimeError if it does not answer within wait_s."""
        self.client.connect(self.host, self.port, self.keepalive)
        self.client.loop_start()
        ok = self.wait(lambda: self.synced or self.refusal is not None, wait_s)
        if self.refusal is not None:
            self.client.loop_stop()
            raise BrokerRefused(self.refusal, self.user)
        if not ok:
            self.client.loop_stop()
            raise RuntimeError("no answer from %s:%d within %g s" % (self.host, self.port,
                                                                      wait_s))
        return self

    def wait(self, pred, timeout_s: float) -> bool:
        """Wait until pred() (called under the lock) or timeout_s passed; pred()'s value.
        In short steps: a Ctrl-C must not land inside a wait paho's thread needs."""
        deadline = time.monotonic() + timeout_s
        with self.cond:
            while not pred():
                left = deadline - time.monotonic()
                if left <= 0:
                    return bool(pred())
                self.cond.wait(min(left, 0.2))
            return True

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=QOS)

    def stop(self) -> None:
        if self.client.is_connected():
            self.client.disconnect()
        self.client.loop_stop()
