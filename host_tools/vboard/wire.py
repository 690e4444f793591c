"""What the board's interpreter prints, made into what an ESP32 sends on its serial line.

The unix port writes a bare LF where the chip's console writes CR LF for text; it starts
every new interpreter in the friendly REPL, where a chip soft-reset in the raw REPL comes back
in the raw REPL; the host must know which REPL is up to restart in it; and it must know when
a new interpreter's boot.py and main.py are done (a Ctrl-C typed meanwhile interrupts them, and
then the REPL reads what is typed). ChipOutput does all four on the byte stream, chunk by chunk
(a marker may be split across reads)."""

RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"  # printed on entering the raw REPL
FRIENDLY_BANNER = b'Type "help()" for more information.\r\n'  # ... the friendly REPL
PROMPT = b">>> "
BOOTED_MARK = b"\x00vboard: booted\x00"  # chip/_vboard.py prints it after boot.py/main.py
CTRL_A = b"\x01"

LIVE, BOOT, BANNER, WAIT_RAW = range(4)


class ChipOutput:
    def __init__(self) -> None:
        self.raw = False  # the raw REPL is up (else the friendly one, or code is running)
        self._phase = LIVE
        self._raw_start = False
        self._held = b""
        self._cr = False  # the last byte passed on was a CR
        self._tail = b""  # the last bytes passed on, to find a banner split across chunks

    def restart(self, raw: bool) -> None:
        """A new interpreter starts and boots (its output is passed on up to BOOTED_MARK); raw:
        it must come up in the raw REPL, as the chip's does after a soft reset there (then the
        friendly banner is not passed on)."""
        self._phase = BOOT
        self._raw_start = raw
        self._held = b""
        self._cr = False
        self._tail = b""
        self.raw = False

    @property
    def live(self) -> bool:
        """The interpreter has booted (boot.py and main.py are done, or it was not restarted)."""
        return self._phase == LIVE

    @property
    def booting(self) -> bool:
        """A new interpreter runs boot.py and main.py: a Ctrl-C typed is for them."""
        return self._phase == BOOT

    @property
    def holding_input(self) -> bool:
        """Input must wait: the host is to type Ctrl-A for the user into the new interpreter."""
        return self._raw_start and self._phase != LIVE

    def feed(self, data: bytes) -> tuple[bytes, bytes]:
        """(bytes for the serial line, bytes the host must send to the interpreter)."""
        out, reply = b"", b""
        if self._phase == BOOT:
            self._held += data
            i = self._held.find(BOOTED_MARK)
            if i < 0:
                keep = _split_mark(self._held)  # what may be the start of a split marker
                cut = len(self._held) - keep
                out, self._held = self._held[:cut], self._held[cut:]
                return self._wire(out), b""
            out = self._wire(self._held[:i])
            data, self._held = self._held[i + len(BOOTED_MARK):], b""
            self._phase = BANNER if self._raw_start else LIVE
        if self._phase == BANNER:  # the friendly REPL's banner: swallowed up to its prompt
            self._held += data
            i = self._held.find(PROMPT)
            if i < 0:
                return out, b""
            data, self._held, self._phase = self._held[i + len(PROMPT):], b"", WAIT_RAW
            reply = CTRL_A
        if self._phase == WAIT_RAW:
            self._held += data
            i = self._held.find(RAW_BANNER)
            if i < 0:
                return out, reply
            data, self._held, self._phase = self._held[i:], b"", LIVE
        return out + self._wire(data), reply

    def _wire(self, data: bytes) -> bytes:
        """Pass output on, piece by piece between REPL banners: the friendly REPL's gets CR LF
        for a bare LF, as the chip's console writes text; the raw REPL's goes as it is, since
        there a tool reads it, and `mpremote mount` sends binary frames through it."""
        out = b""
        while data:
            seen = self._tail + data
            cut, raw = len(data), None
            for banner, is_raw in ((RAW_BANNER, True), (FRIENDLY_BANNER, False)):
                i = seen.find(banner)
                end = i + len(banner) - len(self._tail)  # in data; <= 0: seen before
                if i >= 0 and 0 < end <= cut:
                    cut, raw = end, is_raw
            piece, data = data[:cut], data[cut:]
            out += piece if self.raw else self._crlf(piece)
            self._cr = piece.endswith(b"\r")
            self._tail = seen[:len(seen) - len(data)][-len(FRIENDLY_BANNER):]
            if raw is not None:
                self.raw = raw
        return out

    def _crlf(self, data: bytes) -> bytes:
        head = b""
        if self._cr and data[:1] == b"\n":  # a CR LF split across two pieces
            head, data = b"\n", data[1:]
        return head + data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _split_mark(data: bytes) -> int:
    """How many of data's last bytes begin BOOTED_MARK (0 if none: nothing need wait)."""
    for n in range(min(len(data), len(BOOTED_MARK) - 1), 0, -1):
        if BOOTED_MARK.startswith(data[-n:]):
            return n
    return 0
