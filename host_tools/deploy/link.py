"""The serial connection to a board, over mpremote's SerialTransport (mpremote is pinned in
pyproject.toml), with each way it can fail said in one line.

Why the transport API and not `mpremote` subprocesses: one connection for the whole deploy.
Each mpremote run opens the port, interrupts the board and soft-resets it again (on the
virtual board a soft reset restarts the interpreter), so probe + hashes + N copies + renames +
verify would pay that a dozen times; and the temp-name/rename/verify sequence needs to run
our own code on the board between steps, which one raw-REPL session gives directly. mpremote
says its transport API may change: everything that touches it is in this file."""

import base64
import contextlib
import io
import os
import stat
import time
from pathlib import Path

import serial
import serial.tools.list_ports
from mpremote.transport import TransportError, TransportExecError
from mpremote.transport_serial import SerialTransport

RAW_CHUNK = 1024  # bytes per write call on the board; a few per exec (see write_file)
CALLS_PER_EXEC = 3
READ_TIMEOUT_S = 2


class DeployError(Exception):
    """A problem said in one line; nothing more is done."""


def _ports_here() -> str:
    found = sorted(p.device for p in serial.tools.list_ports.comports())
    return ", ".join(found) if found else "none found"


def _is_local_path(port: str) -> bool:
    return "://" not in port and not port.upper().startswith("COM")


def _holders(port: str) -> list[str]:
    """Other processes that have a real serial port open (Linux /proc), as 'name (pid N)'.
    Not for a pseudo-terminal: there the board's own process holds the other side."""
    try:
        target = os.stat(port).st_rdev
    except OSError:
        return []
    out = []
    for pid_dir in Path("/proc").glob("[0-9]*"):
        if int(pid_dir.name) == os.getpid():
            continue
        try:
            fds = list((pid_dir / "fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                st = os.stat(fd)
            except OSError:
                continue
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == target:
                name = (pid_dir / "comm").read_text().strip()
                out.append(f"{name} (pid {pid_dir.name})")
                break
    return out


def _why_not_open(port: str) -> str:
    """Open failed inside mpremote (it says only 'failed to access'): find out why."""
    try:
        s = serial.Serial(port, exclusive=True)
        s.close()
    except serial.SerialException as e:
        text = str(e)
        if "exclusively lock" in text:
            return (f"port busy: {port} is held by another program (mpremote, screen, a serial "
                    "monitor?): close it first")
        return f"cannot open {port}: {text}"
    return f"cannot open {port}"


class Link:
    """A board in the raw REPL, the agent stopped. Use as a context manager."""

    def __init__(self, port: str, timeout_s: float = 5):
        self.port = port
        self.virtual = False
        if _is_local_path(port):
            if not os.path.exists(port):
                raise DeployError(f"no such port: {port} (serial ports here: {_ports_here()})")
            is_pty = os.path.realpath(port).startswith("/dev/pts/")
            holders = [] if is_pty else _holders(port)
            if holders:
                raise DeployError(f"port busy: {port} is open in {', '.join(holders)}: "
                                  "close it first")
        quiet = io.StringIO()
        try:
            with contextlib.redirect_stdout(quiet):  # mpremote prints what it read on failure
                # A read timeout: on a pseudo-terminal mpremote reads without polling first,
                # and a silent one would otherwise block it for ever.
                self.t = SerialTransport(port, baudrate=115200, timeout=READ_TIMEOUT_S)
        except TransportError:
            raise DeployError(_why_not_open(port)) from None
        try:
            self._interrupt()
            with contextlib.redirect_stdout(quiet):
                self.t.enter_raw_repl(soft_reset=True, timeout_overall=timeout_s)
        except (TransportError, OSError, serial.SerialException):
            self.t.close()
            raise DeployError(f"not a MicroPython board: {port} gave no raw REPL answer "
                              "(is MicroPython flashed? another program on the port?)") from None

    def _interrupt(self) -> None:
        """Stop a running agent: Ctrl-C, twice (the first may land in its Ctrl-C handler),
        apart enough for the first to be handled."""
        for _ in range(2):
            self.t.serial.write(b"\r\x03")
            time.sleep(0.3)
        while self.t.serial.in_waiting:
            self.t.serial.read(self.t.serial.in_waiting)

    def __enter__(self) -> "Link":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.t.close()

    def exec(self, code: str) -> bytes:
        """Run code on the board; its printed output. DeployError with the board's last line."""
        try:
            return self.t.exec(code)
        except TransportExecError as e:
            last = (e.error_output.strip().splitlines() or ["?"])[-1]
            raise DeployError(f"the board said: {last}") from None
        except (TransportError, OSError, serial.SerialException) as e:
            raise DeployError(f"the board stopped answering on {self.port}: {e}") from None

    def write_file(self, path: str, data: bytes, on_bytes=None) -> None:
        """Write `data` to `path` on the board (base64 chunks: a third the bytes of repr())."""
        self.exec(f"import binascii\nf=open({path!r},'wb')\nw=f.write\na=binascii.a2b_base64")
        step = RAW_CHUNK * CALLS_PER_EXEC
        for i in range(0, len(data), step):
            block = data[i:i + step]
            calls = "\n".join(
                f"w(a({base64.b64encode(block[j:j + RAW_CHUNK])!r}))"
                for j in range(0, len(block), RAW_CHUNK))
            self.exec(calls)
            if on_bytes:
                on_bytes(len(block))
        self.exec("f.close()\ndel f,w,a")

    def reset(self) -> None:
        """Start the board afresh (machine.reset(): boot.py, then main.py runs the agent)."""
        try:
            self.t.exec_raw_no_follow("import machine\nmachine.reset()")
            time.sleep(0.2)
        except (TransportError, OSError, serial.SerialException):
            pass  # the board went away to reset, as asked
