"""A private Mosquitto for tests and the simulated street: its own config, a free loopback
port, stopped by its PID. Never touches a broker already running on the machine."""

import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from host_tools.setup.mosquitto import find


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening_inodes(port: int) -> set[str] | None:
    """'socket:[inode]' of every TCP socket listening on `port` (Linux /proc/net/tcp*)."""
    found, seen = set(), False
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        seen = True
        for line in lines:
            f = line.split()
            if f[3] == "0A" and int(f[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                found.add(f"socket:[{f[9]}]")
    return found if seen else None


class PortTaken(RuntimeError):
    pass


class Broker:
    """By default an open broker on one loopback port. With `conf`, the caller's full config
    instead (its listeners must be on `port` and, if given, `tls_port`, both on 127.0.0.1);
    only the log settings are added."""

    def __init__(self, extra_conf: str = "", port: int | None = None, conf: str | None = None,
                 tls_port: int | None = None):
        self.port = port or free_port()
        # A port we picked may be taken by someone else before Mosquitto binds it (free_port
        # closes its socket first): then start() picks another. A caller's port is kept.
        self.own_port = port is None and conf is None
        self.tls_port = tls_port
        self.extra_conf = extra_conf
        self.conf = conf
        self.proc: subprocess.Popen | None = None
        self.dir = tempfile.TemporaryDirectory(prefix="mosq-")
        self.log = Path(self.dir.name) / "mosquitto.log"

    def start(self, timeout_s: float = 10.0) -> "Broker":
        for attempt in range(3):
            try:
                return self._start(timeout_s)
            except PortTaken:
                if not self.own_port or attempt == 2:
                    raise
                self.port = free_port()
        raise AssertionError("unreachable")

    def _start(self, timeout_s: float) -> "Broker":
        exe = find()
        if not exe:
            raise RuntimeError("mosquitto not installed: run `make setup`")
        conf = Path(self.dir.name) / "mosquitto.conf"
        logging = (f"log_dest file {self.log}\n"
                   "log_type error\nlog_type warning\nlog_type notice\n")
        # Started as root, Mosquitto would drop to user "mosquitto", which can neither read
        # the caller's 0600 key and password files nor save sessions in the caller's
        # directories: stay the user that made them.
        run_as = "user root\n" if hasattr(os, "geteuid") and os.geteuid() == 0 else ""
        if self.conf is not None:
            conf.write_text(self.conf + "\n" + logging + run_as + self.extra_conf)
        else:
            conf.write_text(
                f"listener {self.port} 127.0.0.1\n"
                "allow_anonymous true\n"
                # Mosquitto keeps the first of two settings: a caller's own wins this way.
                + ("" if "persistence " in self.extra_conf else "persistence false\n")
                + logging
                + run_as
                + self.extra_conf
            )
        self.proc = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                why = f"mosquitto exited at start: {err}{self.log_text()}"
                self.stop()
                if "Address already in use" in why:
                    raise PortTaken(why)
                raise RuntimeError(why)
            # Ready when Mosquitto's own process listens on each port (a bare connect could
            # reach whoever else holds a port a moment before Mosquitto fails to bind it).
            if all(self._listens(port) for port in self.ports()):
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"mosquitto did not listen on ports {self.ports()} in {timeout_s}s")

    def _listens(self, port: int) -> bool:
        assert self.proc is not None
        inodes = _listening_inodes(port)
        if inodes is None:  # no /proc (not Linux): a connect is the best we can do
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return True
            except OSError:
                return False
        try:
            fds = os.listdir(f"/proc/{self.proc.pid}/fd")
        except OSError:
            return False
        for fd in fds:
            try:
                if os.readlink(f"/proc/{self.proc.pid}/fd/{fd}") in inodes:
                    return True
            except OSError:
                continue
        return False

    def ports(self) -> list[int]:
        return [self.port] + ([self.tls_port] if self.tls_port else [])

    def log_text(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()  # by our own PID, never by name
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc and self.proc.stderr:
            self.proc.stderr.close()
        self.proc = None

    def close(self) -> None:
        self.stop()
        self.dir.cleanup()

    def __enter__(self) -> "Broker":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False
