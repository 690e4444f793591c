"""Progress of a copy: a bar redrawn in place on a terminal, one plain line per file otherwise
(a log, CI, a pipe)."""

import sys
import time

WIDTH = 24


class Progress:
    def __init__(self, files: int, total_bytes: int, out=None, tty: bool | None = None):
        self.out = out or sys.stdout
        self.tty = self.out.isatty() if tty is None else tty
        self.files, self.total = files, max(total_bytes, 1)
        self.done_files = self.done_bytes = 0
        self.name = ""
        self.file_bytes = 0
        self.last_draw = 0.0

    def start_file(self, name: str, size: int) -> None:
        self.name, self.file_bytes = name, size
        self._draw(force=True)

    def add_bytes(self, n: int) -> None:
        self.done_bytes += n
        self._draw()

    def end_file(self) -> None:
        self.done_files += 1
        if self.tty:
            self._draw(force=True)
        else:
            print(f"  copied {self.name} ({self.file_bytes} B) "
                  f"[{self.done_files}/{self.files}]", file=self.out, flush=True)

    def close(self) -> None:
        if self.tty and self.files:
            print(file=self.out, flush=True)

    def _draw(self, force: bool = False) -> None:
        if not self.tty:
            return
        now = time.monotonic()
        if not force and now - self.last_draw < 0.1:
            return
        self.last_draw = now
        filled = WIDTH * self.done_bytes // self.total
        bar = "#" * filled + "-" * (WIDTH - filled)
        line = (f"\r[{bar}] {self.done_files}/{self.files} files "
                f"{self.done_bytes / 1024:.1f}/{self.total / 1024:.1f} KB  {self.name[:32]}")
        print(f"{line:<90}", end="", file=self.out, flush=True)
