"""Broken networks for a device to meet: a tarpit, a broker that keeps its sessions across a
kill. Used by the ring-3 fault tests (tests/broker/test_link_faults.py) and by `make bench`
(the link-faults benchmark), so both run the agent against the same faults."""

import socket
import threading
from pathlib import Path

from host_tools.broker import Broker


class Tarpit:
    """Accepts TCP connections on a loopback port and never says a word."""

    def __init__(self, port: int):
        self.s = socket.socket()
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.s.bind(("127.0.0.1", port))
        self.s.listen(16)
        self.conns: list[socket.socket] = []
        self.stop = False
        self.t = threading.Thread(target=self._accept, daemon=True)
        self.t.start()

    def _accept(self) -> None:
        self.s.settimeout(0.2)
        while not self.stop:
            try:
                c, _ = self.s.accept()
                self.conns.append(c)
            except OSError:
                pass

    def close(self) -> None:
        if self.stop:
            return  # closed already
        self.stop = True
        self.t.join()
        for c in self.conns:
            c.close()
        self.s.close()


def persistent_broker(folder: Path, port: int | None = None) -> Broker:
    """A started broker that saves its sessions in `folder`: killed with SIGTERM and started
    again on the same port, it gives each persistent client what was queued for it."""
    conf = f"persistence true\npersistence_location {folder}/\nautosave_interval 1\n"
    return Broker(extra_conf=conf, port=port).start()
