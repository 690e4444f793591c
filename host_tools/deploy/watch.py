"""After a deploy: wait on the broker for the device's `online` status and its first state.

Subscribed before the board is reset, and retained messages are passed over: a retained
"online" left from the device's previous life would otherwise pass for the new one."""

import queue
import ssl
import time
import uuid

import paho.mqtt.client as mqtt

from agent.topics import Topics


class WatchError(Exception):
    pass


class Watcher:
    def __init__(self, host: str, port: int, cfg: dict, user: str | None = None,
                 password: str | None = None, ca: str | None = None):
        dev, m = cfg["device"], cfg["mqtt"]
        t = Topics(m["prefix"], dev["site"], dev["role"], dev["id"])
        self.status, self.state = t.status.decode(), t.state.decode()
        self.where = f"{host}:{port}"
        self.events: queue.Queue = queue.Queue()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                  client_id=f"street-deploy-{uuid.uuid4().hex[:8]}")
        if user:
            self.client.username_pw_set(user, password)
        if ca:
            self.client.tls_set(ca_certs=ca, cert_reqs=ssl.CERT_REQUIRED)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *a: self.events.put(("subscribed", None))
        self.client.on_message = self._on_message
        self.host, self.port = host, port

    def _on_connect(self, client, userdata, flags, reason, props):
        if reason.is_failure:
            self.events.put(("refused", str(reason)))
            return
        client.subscribe([(self.status, 1), (self.state, 1)])

    def _on_message(self, client, userdata, msg):
        if not msg.retain:  # a retained copy is from before this boot
            self.events.put((msg.topic, msg.payload))

    def start(self, timeout_s: float) -> None:
        """Connected and subscribed, or WatchError."""
        try:
            self.client.connect(self.host, self.port, keepalive=30)
        except (OSError, ssl.SSLError) as e:
            raise WatchError(f"--watch: cannot reach the broker at {self.where}: {e}") from None
        self.client.loop_start()
        kind, detail = self._next(time.monotonic() + timeout_s)
        if kind != "subscribed":
            self.stop()
            raise WatchError(f"--watch: the broker at {self.where} "
                             + (f"refused the login: {detail}" if kind == "refused"
                                else f"did not answer within {timeout_s:.0f} s"))

    def _next(self, deadline: float):
        try:
            return self.events.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            return None, None

    def wait(self, timeout_s: float) -> tuple[bytes, bytes]:
        """(status payload, first state payload) seen live, or WatchError saying what was
        missing after timeout_s."""
        deadline = time.monotonic() + timeout_s
        online, state = None, None
        while online is None or state is None:
            topic, payload = self._next(deadline)
            if topic is None:
                missing = "no \"online\" status" if online is None else "no first state"
                topic = self.status if online is None else self.state
                raise WatchError(f"--watch: {missing} on {self.where} ({topic}) within "
                                 f"{timeout_s:.0f} s; check the Wi-Fi and broker in its files, "
                                 "or watch it boot: mpremote connect PORT repl")
            if topic == self.status and payload == b"online":
                online = payload
            elif topic == self.state:
                state = payload
        return online, state

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
