"""A small MQTT 3.1.1 broker in pure Python (standard library only), so `make demo` and the
tests run on a machine without Mosquitto. Not for production: no TLS, no persistence, no
QoS 2 (docs/minibroker.md).

    from host_tools.minibroker import MiniBroker
    with MiniBroker(port=0) as b:   # port 0: a free port, then b.port
        ...
"""

from .broker import MAX_OUT_BYTES, MAX_PACKET_BYTES, MiniBroker

__all__ = ["MiniBroker", "MAX_PACKET_BYTES", "MAX_OUT_BYTES"]
