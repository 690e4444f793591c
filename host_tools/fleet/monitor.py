"""`street monitor` (the live fleet table and a command line) and `street cmd --watch` (the
table alone). On a terminal the screen is redrawn in place with plain ANSI codes and typed
lines are read key by key; through a pipe the table is appended whenever it changes and
command lines are read from stdin. screen_lines() is pure; the rest moves bytes.

For another program (the demo) on its own broker:
    from host_tools.fleet import monitor
    monitor.main(["--host", "127.0.0.1", "--port", str(port), "--keys", str(devices_dir),
                  "--state-dir", str(state_dir)])            # returns the exit status
"""

import argparse
import collections
import os
import queue
import select
import signal
import sys
import termios
import threading
import time
import tty

from . import build, cmdline, dispatch, table
from .connect import SetupError, open_session, settings

HELP_TARGETS = ("TARGET: an id, ids joined by commas, group:G, kind:streetlight|inlet,",
                "site:S or all.   quit (or Ctrl-C, Ctrl-D) leaves the monitor.")
MIN_LOG = 3
READ_ONLY = "monitor"  # the broker login that may publish nothing (docs/broker.md)


def screen_lines(title: str, fleet: list[str], log: list[str], prompt: str | None,
                 width: int, height: int) -> list[str]:
    """The whole screen, at most `height` lines of at most `width` characters: the title,
    the fleet table (cut with a '... N more' line if the screen is short), the latest log
    lines, and the prompt line last."""
    width, height = max(table.MIN_WIDTH, width), max(4 + MIN_LOG, height)
    out = [table.clip(title, width)]
    room = height - 1 - 1 - MIN_LOG - (1 if prompt is not None else 0)
    if len(fleet) > room:
        more = len(fleet) - (room - 1)
        fleet = fleet[:room - 1] + ["... %d more device%s (a taller window shows them)"
                                    % (more, "s" if more > 1 else "")]
    out += [table.clip(line, width) for line in fleet]
    out.append("")
    log_room = height - len(out) - (1 if prompt is not None else 0)
    out += [table.clip(line, width) for line in log[-log_room:]] if log_room > 0 else []
    if prompt is not None:
        out += [""] * (height - 1 - len(out))
        out.append(table.clip(prompt, width))
    return out


class Monitor:
    def __init__(self, s, view, session, interactive: bool, inp, out):
        self.s, self.view, self.session = s, view, session
        self.interactive = interactive
        self.inp, self.out = inp, out
        self.tty = out.isatty() and (not interactive or inp.isatty())
        self.log: collections.deque = collections.deque(maxlen=500)
        self.buf = ""
        self.events: queue.Queue = queue.Queue()  # log lines from the command thread
        self.stop = False
        self.input_open = interactive
        self._esc = False

    # ---- commands ----

    def say(self, line: str) -> None:
        self.log.append(line)
        if not self.tty:
            print(line, file=self.out, flush=True)

    def enter(self, line: str) -> None:
        req = cmdline.parse(line)
        if req is None:
            return
        self.say("> " + line.strip())
        if isinstance(req, cmdline.Quit):
            self.stop = True
        elif isinstance(req, cmdline.Help):
            for u in build.usage_lines():
                self.say("  " + u)
            for h in HELP_TARGETS:
                self.say("  " + h)
        elif isinstance(req, cmdline.LineError):
            self.say("! " + req.message)
        else:
            self._send(req)  # while earlier commands still wait for acks, too

    def _send(self, req) -> None:
        if self.s.user == READ_ONLY:
            self.say("! the monitor login is read only: connect as operator to send commands")
            return
        with self.session.cond:
            planned, err = dispatch.plan(self.view, self.s.known, req, self.s.unsigned)
        if err:
            self.say("! %s (nothing sent)" % err)
            return
        self.say("  %s to %d device%s, acks within %g s:" % (
            build.canonical(req.verb), len(planned), "s" if len(planned) > 1 else "",
            self.s.timeout))

        def work():
            try:
                rows = dispatch.send(self.session, self.s.store, planned, self.s.timeout,
                                     on_row=lambda r: [self.events.put("  " + line) for line
                                                       in table.ack_lines(r, self.width() - 2)])
                bad = sum(r.result != "ok" for r in rows)
                self.events.put("  %s" % ("all %d ok" % len(rows) if not bad else
                                          "%d of %d did not ack ok" % (bad, len(rows))))
            except Exception as e:  # the screen must survive whatever one command does
                self.events.put("! %s: %s" % (type(e).__name__, e))

        threading.Thread(target=work, name="command", daemon=True).start()

    # ---- the terminal ----

    def width(self) -> int:
        try:
            return os.get_terminal_size(self.out.fileno()).columns
        except (OSError, ValueError):
            return 80

    def height(self) -> int:
        try:
            return os.get_terminal_size(self.out.fileno()).lines
        except (OSError, ValueError):
            return 24

    def title(self) -> str:
        who = " as %s" % self.s.user if self.s.user else ""
        return "street %s  %s/%s  %s:%d%s  %s" % (
            "monitor" if self.interactive else "watch", self.s.prefix, self.s.site,
            self.s.host, self.s.port, who, time.strftime("%H:%M:%S"))

    def draw(self) -> None:
        with self.session.cond:
            fleet = table.fleet_lines(self.view, time.time(), self.width())
        prompt = "> " + self.buf if self.interactive else "(Ctrl-C ends)"
        lines = screen_lines(self.title(), fleet, list(self.log), prompt, self.width(),
                             self.height())
        # Home, each line then clear to its end, clear below; the cursor ends on the prompt.
        text = "\x1b[H" + "\x1b[K\n".join(lines) + "\x1b[K\x1b[J"
        self.out.write(text)
        self.out.flush()

    def print_table(self) -> None:
        with self.session.cond:
            fleet = table.fleet_lines(self.view, time.time(), 80)
        print("--- %s" % self.title(), file=self.out)
        print("\n".join(fleet), file=self.out, flush=True)

    def key(self, ch: str) -> None:
        if self._esc:  # the rest of an escape sequence (arrow keys...): ignored
            self._esc = not (ch.isalpha() or ch == "~")
            return
        if ch == "\x1b":
            self._esc = True
        elif ch in ("\r", "\n"):
            line, self.buf = self.buf, ""
            self.enter(line)
        elif ch in ("\x7f", "\b"):
            self.buf = self.buf[:-1]
        elif ch == "\x15":  # Ctrl-U
            self.buf = ""
        elif ch == "\x04" and not self.buf:  # Ctrl-D on an empty line
            self.stop = True
        elif ch.isprintable() and len(self.buf) < 400:
            self.buf += ch

    def read_input(self, wait_s: float) -> None:
        fd = self.inp.fileno()
        ready, _, _ = select.select([fd] if self.input_open else [], [], [], wait_s)
        if not ready:
            return
        data = os.read(fd, 1024)
        if not data:
            self.input_open = False  # a pipe that ended: keep watching
            return
        text = data.decode(errors="replace")
        if self.tty:
            for ch in text:
                self.key(ch)
        else:
            self.buf += text
            while "\n" in self.buf:
                line, self.buf = self.buf.split("\n", 1)
                self.enter(line)

    def loop(self, for_s: float) -> None:
        end = time.monotonic() + for_s if for_s > 0 else None
        drawn_version, drawn_at, drawn_state = -1, 0.0, None
        while not self.stop and (end is None or time.monotonic() < end):
            self.read_input(0.1)
            while not self.events.empty():
                self.say(self.events.get())
            now = time.monotonic()
            if self.tty:
                state = (self.view.version, len(self.log), self.buf)
                if state != drawn_state or now - drawn_at >= 1.0:
                    self.draw()
                    drawn_state, drawn_at = state, now
            elif self.view.version != drawn_version and now - drawn_at >= 1.0:
                self.print_table()
                drawn_version, drawn_at = self.view.version, now


def run(args, interactive: bool, inp=None, out=None) -> int:
    inp, out = inp or sys.stdin, out or sys.stdout
    try:
        s = settings(args, "operator" if interactive else "monitor")
    except SetupError as e:
        print("error: %s" % e, file=out)
        return 2
    print("connecting to %s:%d ..." % (s.host, s.port), file=out, flush=True)
    try:
        view, session = open_session(s)
    except (OSError, RuntimeError) as e:
        print("error: %s:%d: %s" % (s.host, s.port, e), file=out, flush=True)
        return 1
    mon = Monitor(s, view, session, interactive, inp, out)
    # Ctrl-C only sets a flag, checked between waits (see station.service.run_forever).
    previous = signal.signal(signal.SIGINT, lambda signum, frame: setattr(mon, "stop", True))
    saved = None
    try:
        if mon.tty:
            if interactive:
                saved = termios.tcgetattr(inp.fileno())
                tty.setcbreak(inp.fileno())
            out.write("\x1b[?1049h\x1b[H\x1b[2J")  # the alternate screen: restored at the end
        mon.say("%s devices known; %s" % (len(view.devices), "type help for the commands"
                                          if interactive else "Ctrl-C ends"))
        mon.loop(args.for_s)
    finally:
        signal.signal(signal.SIGINT, previous)
        if mon.tty:
            out.write("\x1b[?1049l")
            out.flush()
        if saved is not None:
            termios.tcsetattr(inp.fileno(), termios.TCSADRAIN, saved)
        session.stop()
    print("%s stopped" % ("monitor" if interactive else "watch"), file=out, flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    """`street monitor` with these arguments (see `street monitor --help`)."""
    from .cli import add_monitor_options

    ap = argparse.ArgumentParser(prog="street monitor", description=__doc__.split("\n")[0])
    add_monitor_options(ap)
    return run(ap.parse_args(argv), interactive=True)


if __name__ == "__main__":
    sys.exit(main())
