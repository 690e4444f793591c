"""A virtual ESP32 on a pseudo-terminal: MicroPython (the chip-like build by default) runs the
board's flash folder, and a bridge thread makes it look like the chip on a serial line.

    with VBoard(Path("dev1")) as vb:
        subprocess.run(["mpremote", "connect", vb.port, "exec", "print(1)"])
        vb.wait_for("agent: board=")

The interpreter talks to the bridge over pipes, not a terminal: the unix port flushes a
terminal's pending input each time it switches between running code and reading the REPL,
and a chip keeps those bytes (mpremote sends Ctrl-C and Ctrl-A back to back). So Ctrl-C is a
signal from the bridge: when the interpreter runs code with Ctrl-C armed (SIGINT caught, as
the unix port arms it exactly when the chip's console would raise KeyboardInterrupt), the
bridge sends SIGINT; otherwise the byte goes to the REPL, which reads it as the chip does.
When the interpreter ends (Ctrl-D, sys.exit, or a reset that chip/_vboard.py reports in the
state folder), the bridge starts a new one as the chip would start again.

What the client types while an interpreter restarts is kept, as a chip's UART keeps it for
the REPL: what the old interpreter left unread in its input pipe (its reset, in chip/_vboard.py,
drops what came before it up to a Ctrl-C, as a reset loses the chip's buffer) and what arrives
meanwhile go to the new one. Until its boot.py and main.py are done (a mark on its output), a
Ctrl-C among them waits to be a signal until the interpreter catches SIGINT (it interrupts boot
code, as on the chip), and what follows it waits with it."""

import atexit
import os
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import tty
import weakref
from pathlib import Path

from host_tools.upy import FIRMWARE, MPLIB, SIMBOARD, micropython_exe
from host_tools.vboard import heap
from host_tools.vboard.wire import ChipOutput

CHIP_DIR = Path(__file__).resolve().parent / "chip"
START = CHIP_DIR / "start.py"
IMAGES = ("stock", "frozen", "unix")
PWRON, HARD, WDT, DEEPSLEEP, SOFT = 1, 2, 3, 4, 5  # machine.*_RESET
SOFT_REBOOT = b"MPY: soft reboot\r\n"
INTERRUPT_GAP_S = 0.25  # a second SIGINT before the first is handled kills the unix port
CLIENT_QUEUE_MAX = 256 * 1024  # like a UART with nobody reading: the oldest output is lost
CONSOLE_MAX = 8 * 1024 * 1024


# An interpreter dies with the thread that started it, even if this process is killed.
_ORPHAN_GUARD = ["setpriv", "--pdeathsig", "KILL", "--"] if shutil.which("setpriv") else []
_running: "weakref.WeakSet[VBoard]" = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    for vb in list(_running):
        vb.stop()


class VBoardError(Exception):
    """A virtual board cannot start; the message is one line for the user."""


def _chip_builds() -> dict[str, Path]:
    """The chip-like builds, refrozen once per process if firmware/ or the simboard changed."""
    global _built
    if _built is None:
        from host_tools.setup import chipport

        try:
            _built = chipport.build()
        except SystemExit as e:
            first = str(e.code).strip().splitlines()[0] if e.code else "failed"
            raise VBoardError(f"the chip-like build could not be brought up to date: {first}"
                              ) from None
    return _built


_built: dict[str, Path] | None = None


def interpreter(image: str) -> tuple[str, dict]:
    """(the interpreter for an image, the environment the start script needs for it)."""
    if image == "unix":
        try:
            exe = micropython_exe()
        except RuntimeError as e:
            raise VBoardError(str(e)) from None
        return exe, {"VBOARD_FIRMWARE": str(FIRMWARE), "VBOARD_PATH": f"{SIMBOARD}:{MPLIB}"}
    if image not in IMAGES:
        raise VBoardError(f"unknown image {image!r}: one of {', '.join(IMAGES)}")
    from host_tools.setup.chipport import BIN

    exe = BIN / f"micropython-{image}"
    if not exe.exists():
        raise VBoardError(f"the chip-like build is missing ({exe}): run `make chip`, "
                          "or use --image unix (the 64-bit port)")
    exe = _chip_builds()[image]
    # The stock image has no agent frozen in; the simulated board reads agent.chips.
    return str(exe), ({"VBOARD_FIRMWARE": str(FIRMWARE)} if image == "stock" else {})


def _board_chip(flash: Path) -> str:
    import json

    try:
        chip = json.loads((flash / "board.json").read_text()).get("chip")
    except (OSError, ValueError, AttributeError):
        return "esp32"
    return chip if isinstance(chip, str) else "esp32"


def _sigint_armed(pid: int) -> bool:
    """Whether the interpreter catches SIGINT now: it runs code that Ctrl-C may interrupt."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("SigCgt:"):
                    return bool(int(line.split()[1], 16) & (1 << (signal.SIGINT - 1)))
    except (OSError, ValueError):
        pass
    return False


class VBoard:
    def __init__(self, flash: Path, image: str = "stock", heap_kb: int | None = None):
        self.flash = Path(flash).resolve()
        self.image = image
        self.heap_kb = heap_kb
        self.port: str | None = None
        self.restarts = 0  # interpreters started after the first (resets of any kind)
        self._lock = threading.Condition()
        self._console = bytearray()
        self._console_base = 0
        self._thread: threading.Thread | None = None
        self._proc: subprocess.Popen | None = None

    # ---- life cycle ----

    def start(self) -> "VBoard":
        """Power on: a fresh RTC (unset), boot.py and main.py from the flash folder."""
        if self._thread is not None:
            raise VBoardError("this virtual board is already running")
        if not self.flash.is_dir():
            raise VBoardError(f"{self.flash}: no such folder (the board's flash)")
        if self.heap_kb is not None and self.heap_kb <= 0:
            raise VBoardError(f"heap {self.heap_kb} KB: give a positive size")
        exe, env = interpreter(self.image)
        self._state = Path(tempfile.mkdtemp(prefix="vboard-"))
        self._env = {**os.environ, **env,
                     "MICROPYPATH": ".frozen", "HOME": str(self._state),
                     "SIMBOARD_RTC_FILE": str(self._state / "rtc"),
                     "VBOARD_STATE": str(self._state), "VBOARD_IMAGE": self.image}
        try:
            if self.heap_kb is None:
                self.heap_kb = heap.board_kb(self.flash)
            extra = heap.overhead(exe, START, self.flash, self._env)
        except heap.HeapError as e:
            shutil.rmtree(self._state, ignore_errors=True)
            raise VBoardError(str(e)) from None
        self._exe, self.heap_bytes = exe, self.heap_kb * 1024 + extra
        self._master, slave = os.openpty()
        tty.setraw(slave)  # no echo or line editing on the serial line: a client sets its own
        self.port = os.ttyname(slave)
        os.close(slave)  # nobody on the line until a client opens it (the master sees HUP)
        os.set_blocking(self._master, False)
        self._wake_r, self._wake_w = os.pipe()
        self._out = ChipOutput()
        self._to_chip = bytearray()  # what the client typed, for the interpreter
        self._in_r = self._in_w = -1  # the interpreter's input pipe (the bridge keeps both ends)
        self._reply = b""  # what the bridge types into the interpreter itself (Ctrl-A)
        self._to_client = bytearray()
        self._stopping = False
        self._last_sigint = 0.0
        # The bridge thread starts every interpreter, the first too: it is their parent, and
        # its end (or this process's, however it ends) ends them (setpriv --pdeathsig).
        self._due: tuple[float, int, bool, bool] | None = (time.monotonic(), PWRON, False, False)
        _running.add(self)
        self._thread = threading.Thread(target=self._run, name=f"vboard {self.port}",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Power off: the interpreter is ended by its PID, the serial port goes away."""
        if self._thread is None:
            return
        self._stopping = True
        os.write(self._wake_w, b"x")
        self._thread.join(30)
        self._thread = None
        self._kill()
        for fd in (self._master, self._wake_r, self._wake_w):
            os.close(fd)
        shutil.rmtree(self._state, ignore_errors=True)
        self.port = None
        _running.discard(self)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> "VBoard":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---- what the board printed (its serial console, as sent on the line) ----

    def output(self, since: int = 0) -> str:
        """Everything the board sent on its serial line from offset `since` (see wait_for),
        whether or not a client was connected to read it."""
        with self._lock:
            data = bytes(self._console[max(0, since - self._console_base):])
        return data.decode("utf-8", "replace")

    def mark(self) -> int:
        """The console's current offset: output(since=mark()) is what comes next."""
        with self._lock:
            return self._console_base + len(self._console)

    def wait_for(self, text: str, timeout: float = 30.0, since: int = 0) -> int:
        """Wait until `text` appears on the console after offset `since`; returns the offset
        just past it. TimeoutError (with the console's tail) if it does not in `timeout` s."""
        needle = text.encode()
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                start = max(0, since - self._console_base)
                i = self._console.find(needle, start)
                if i >= 0:
                    return self._console_base + i + len(needle)
                left = deadline - time.monotonic()
                if left <= 0 or not self.alive:
                    tail = bytes(self._console[-600:]).decode("utf-8", "replace")
                    raise TimeoutError(f"{text!r} not on the console after {timeout} s; "
                                       f"its end:\n{tail}")
                self._lock.wait(min(left, 0.5))

    # ---- the interpreter ----

    def _spawn(self, cause: int, raw: bool, wake: bool) -> None:
        env = {**self._env, "VBOARD_CAUSE": str(cause), "VBOARD_RAW": "1" if raw else "0",
               "VBOARD_WAKE": "1" if wake else "0", "VBOARD_CHIP": _board_chip(self.flash)}
        if cause == PWRON:
            for name in ("rtc", "rtc.mem"):  # power lost: the RTC and its memory are gone
                (self._state / name).unlink(missing_ok=True)
        # The bridge keeps the read end too: what the interpreter leaves unread when it ends
        # stays in the pipe for the next one (and a write never fails for want of a reader).
        self._in_r, self._in_w = os.pipe()
        os.set_blocking(self._in_w, False)  # the write end only: the read end is the child's too
        self._proc = subprocess.Popen(
            [*_ORPHAN_GUARD, self._exe, "-X", f"heapsize={self.heap_bytes}", "-i", str(START)],
            stdin=self._in_r, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            cwd=self.flash, env=env, bufsize=0, start_new_session=True)
        assert self._proc.stdout is not None
        os.set_blocking(self._proc.stdout.fileno(), False)
        self._out.restart(raw)

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
        for fd in (self._in_r, self._in_w):
            os.close(fd)
        self._in_r = self._in_w = -1

    def _unread(self) -> bytes:
        """What the ended interpreter left in its input pipe (nobody else reads it now)."""
        data = b""
        p = select.poll()
        p.register(self._in_r, select.POLLIN)
        while p.poll(0):
            data += os.read(self._in_r, 65536)
        return data

    def _ended(self) -> None:
        """The interpreter is gone: start the next one as the chip would start again."""
        proc = self._proc
        assert proc is not None
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:  # its output closed but it lives on: end it
            proc.kill()
            proc.wait(10)
        unread = self._unread()  # typed after its reset (or soft reboot): kept
        self._kill()
        cause, sleep_ms, intr = SOFT, 0, 0
        note = self._state / "reset"
        try:
            cause, sleep_ms, intr = (int(x) for x in note.read_text().split())
            note.unlink()
        except (OSError, ValueError):
            if proc.returncode is not None and proc.returncode < 0:
                self._emit(f"\r\n[vboard: the interpreter ended by signal "
                           f"{-proc.returncode}: soft reboot]\r\n".encode())
        # A Ctrl-C its reset took in (note) comes first: it was typed before what is unread.
        self._to_chip[:0] = b"\x03" * intr + unread
        raw = False
        if cause == SOFT:
            raw = self._out.raw  # a soft reset comes back in the REPL it left
            self._emit(SOFT_REBOOT)
        self._reply = b""  # what the bridge typed was for the old interpreter
        self.restarts += 1
        self._due = (time.monotonic() + sleep_ms / 1000, cause, raw, sleep_ms > 0)

    # ---- the bridge ----

    def _emit(self, data: bytes) -> None:
        """Bytes on the serial line: into the console record, and to a connected client."""
        if not data:
            return
        with self._lock:
            self._console += data
            if len(self._console) > CONSOLE_MAX:
                cut = len(self._console) // 2
                del self._console[:cut]
                self._console_base += cut
            self._lock.notify_all()
        self._to_client += data
        if len(self._to_client) > CLIENT_QUEUE_MAX:
            del self._to_client[:len(self._to_client) - CLIENT_QUEUE_MAX]

    def _from_client(self, data: bytes) -> None:
        self._to_chip += data  # in order; a Ctrl-C among it is decided by _route_ctrl_c

    def _route_ctrl_c(self, proc: subprocess.Popen) -> None:
        """The first Ctrl-C in line, once what was typed before it has gone in (at once while
        a raw restart holds the input back): a signal if the interpreter runs code (catches
        SIGINT), else a byte for the REPL; while boot.py and main.py run it waits until they
        can be interrupted, and it waits out INTERRUPT_GAP_S after the last signal."""
        i = self._to_chip.find(b"\x03")
        if i < 0 or not (self._out.booting or self._out.live):
            return  # (after a raw restart's boot, the REPL gets it once it is up)
        if i > 0 and not self._out.holding_input:
            return  # what comes before it goes in first
        if _sigint_armed(proc.pid):
            now = time.monotonic()
            if now - self._last_sigint < INTERRUPT_GAP_S:
                return  # a second SIGINT before the first is handled kills the unix port
            self._last_sigint = now
            os.kill(proc.pid, signal.SIGINT)
        elif self._out.booting or not self._write(b"\x03"):
            return  # (the REPL reads it once boot code is done; or the pipe is full)
        del self._to_chip[i]

    def _client_here(self) -> bool:
        p = select.poll()
        p.register(self._master, select.POLLIN)
        return not any(ev & select.POLLHUP for _, ev in p.poll(0))

    def _run(self) -> None:
        try:
            while not self._stopping:
                self._step()
        finally:
            self._kill()

    def _step(self) -> None:
        if self._proc is None and self._due is not None and time.monotonic() >= self._due[0]:
            _, cause, raw, wake = self._due
            self._due = None
            self._spawn(cause, raw, wake)
        client = self._client_here()
        if not client:
            self._to_client.clear()  # nobody on the line: what the chip sends is lost
        proc = self._proc
        if proc is not None and b"\x03" in self._to_chip:
            self._route_ctrl_c(proc)
        p = select.poll()
        p.register(self._wake_r, select.POLLIN)
        if client:
            p.register(self._master, select.POLLIN | (select.POLLOUT if self._to_client else 0))
        if proc is not None:
            assert proc.stdout is not None
            p.register(proc.stdout, select.POLLIN)
            if self._reply or self._passable():
                p.register(self._in_w, select.POLLOUT)
        timeout_ms = 1000
        if b"\x03" in self._to_chip:
            timeout_ms = 10  # (a Ctrl-C waits: /proc is read again soon)
        elif not client or self._due is not None:
            timeout_ms = 50
        for fd, ev in p.poll(timeout_ms):
            if fd == self._wake_r:
                os.read(self._wake_r, 64)
            elif fd == self._master:
                self._client_io(ev)
            elif proc is not None and proc.stdout is not None and fd == proc.stdout.fileno():
                self._chip_output(proc)
            elif proc is not None and fd == self._in_w:
                self._chip_input()

    def _client_io(self, ev: int) -> None:
        if ev & select.POLLIN:
            try:
                data = os.read(self._master, 4096)
            except OSError:  # the client just went away
                data = b""
            self._from_client(data)
        if ev & select.POLLOUT and self._to_client:
            try:
                n = os.write(self._master, self._to_client)
            except BlockingIOError:
                n = 0
            except OSError:  # the client just went away
                n = len(self._to_client)
            del self._to_client[:n]

    def _chip_output(self, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None
        try:
            data = os.read(proc.stdout.fileno(), 4096)
        except BlockingIOError:
            return
        if not data:
            self._ended()
            return
        wire, reply = self._out.feed(data)
        self._emit(wire)
        self._reply += reply

    def _passable(self) -> int:
        """How much of the client's input may go into the pipe now: what comes before the
        first Ctrl-C (_route_ctrl_c decides that one); none while a raw restart holds it back
        for the bridge's Ctrl-A."""
        if self._out.holding_input:
            return 0
        i = self._to_chip.find(b"\x03")
        return len(self._to_chip) if i < 0 else i

    def _chip_input(self) -> None:
        if self._reply:
            self._reply = self._reply[self._write(self._reply):]
        else:
            n = self._passable()
            if n:
                del self._to_chip[:self._write(self._to_chip[:n])]

    def _write(self, data) -> int:
        try:
            return os.write(self._in_w, data)
        except BlockingIOError:
            return 0
