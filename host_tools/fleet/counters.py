"""The operator's command counters, one file per device, never handing out a counter twice.

A device runs a signed command only if its counter is above the last one it accepted
(agent.sign). The store keeps the last counter this machine used for each device in
<dir>/ctr-<id>.json; next() moves it on and writes it to disk (a temporary file, fsync,
rename) BEFORE the command is sent, under an exclusive lock on <dir>/.lock, so two tool runs
at once, a crash after sending, or a send that failed never lead to a counter reused."""

import fcntl
import json
import os
from pathlib import Path

from agent import sign

ENV = "STREET_STATE_DIR"


def default_dir() -> Path:
    if os.environ.get(ENV):
        return Path(os.environ[ENV]) / "counters"
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "street" / "counters"


class CounterError(RuntimeError):
    pass


class CounterStore:
    def __init__(self, folder: str | Path | None = None):
        self.dir = Path(folder) if folder else default_dir()

    def _path(self, device_id: str) -> Path:
        return self.dir / ("ctr-%s.json" % device_id)

    def last(self, device_id: str) -> int:
        """The last counter used for the device (0: none yet)."""
        p = self._path(device_id)
        try:
            obj = json.loads(p.read_text())
        except FileNotFoundError:
            return 0
        except (OSError, ValueError) as e:
            raise CounterError("%s: unreadable (%s); the device's diag cmd_ctr says where it "
                               "is: write {\"last_ctr\": N} there" % (p, e)) from e
        try:
            return sign.counter_from_doc(obj)
        except ValueError as e:
            raise CounterError("%s: %s" % (p, e)) from e

    def _write(self, device_id: str, value: int) -> None:
        p = self._path(device_id)
        tmp = p.with_name(p.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(sign.counter_doc(value), f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
        dfd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    def _locked(self, fn):
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self.dir / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                return fn()
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def next(self, device_id: str, floor: int = 0) -> int:
        """A counter never handed out before for this device, above `floor` too (what the
        device last reported accepting), saved before it is returned."""
        def take():
            ctr = max(self.last(device_id), floor) + 1
            self._write(device_id, ctr)
            return ctr
        return self._locked(take)

    def raise_to(self, device_id: str, value: int) -> bool:
        """The device says it accepted `value` already (its refusal, its diag): the next
        counter goes above it. True if the store moved."""
        def bump():
            if value > self.last(device_id):
                self._write(device_id, value)
                return True
            return False
        return self._locked(bump)
