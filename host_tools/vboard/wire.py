"""What the board's interpreter prints, made into what an ESP32 sends on its serial line.

The unix port writes a bare LF where the chip's console writes CR LF; it starts every new
interpreter in the friendly REPL, where a chip soft-reset in the raw REPL comes back in the
raw REPL; and the host must know which REPL is up to restart in it. ChipOutput does all three
on the byte stream, chunk by chunk (a marker may be split across reads)."""

RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"  # printed on entering the raw REPL
FRIENDLY_BANNER = b'Type "help()" for more information.\r\n'  # ... the friendly REPL
PROMPT = b">>> "
RAW_MARK = b"\x00vboard: raw REPL\x00"  # chip/_vboard.py prints it after boot.py (raw start)
CTRL_A = b"\x01"

LIVE, BOOT, BANNER, WAIT_RAW = range(4)


class ChipOutput:
    def __init__(self) -> None:
        self.raw = False  # the raw REPL is up (else the friendly one, or code is running)
        self._phase = LIVE
        self._held = b""
        self._cr = False  # the last byte passed on was a CR
        self._tail = b""  # the last bytes passed on, to find a banner split across chunks

    def restart(self, raw: bool) -> None:
        """A new interpreter starts; raw: it must come up in the raw REPL, as the chip's does
        after a soft reset there (boot.py's output is passed on, the friendly banner is not)."""
        self._phase = BOOT if raw else LIVE
        self._held = b""
        self._cr = False
        self._tail = b""
        self.raw = False

    @property
    def holding_input(self) -> bool:
        """Input must wait: the host is typing Ctrl-A for the user into the new interpreter."""
        return self._phase != LIVE

    def feed(self, data: bytes) -> tuple[bytes, bytes]:
        """(bytes for the serial line, bytes the host must send to the interpreter)."""
        out, reply = b"", b""
        if self._phase == BOOT:
            self._held += data
            i = self._held.find(RAW_MARK)
            if i < 0:
                keep = len(RAW_MARK) - 1  # what could be the start of a split marker
                if len(self._held) <= keep:
                    return b"", b""
                out, self._held = self._held[:-keep], self._held[-keep:]
                return self._wire(out), b""
            out = self._wire(self._held[:i])
            data, self._held, self._phase = self._held[i + len(RAW_MARK):], b"", BANNER
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
        if not data:
            return b""
        head = b""
        if self._cr and data[:1] == b"\n":  # a CR LF split across two chunks
            head, data = b"\n", data[1:]
        wire = head + data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        self._cr = wire.endswith(b"\r")
        seen = self._tail + wire
        r, f = seen.rfind(RAW_BANNER), seen.rfind(FRIENDLY_BANNER)
        if r >= 0 or f >= 0:
            self.raw = r > f
        self._tail = seen[-len(FRIENDLY_BANNER):]
        return wire
