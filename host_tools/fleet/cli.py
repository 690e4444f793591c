"""`street cmd` and `street monitor`: signed commands and the live fleet table."""

import argparse
import sys

USAGE = """a command is VERB TARGET [ARGS]:
  street cmd ping pole-1
  street cmd set pole-1 light.boost_pct 90
  street cmd override group:north level_pct=80 duration_s=600
  street cmd restart kind:inlet
TARGET: a device id, ids joined by commas, group:G, kind:streetlight|inlet, site:S, all.
`street cmd help` lists the commands (from the firmware's own table).
Exit status: 0 every device acked ok, 1 a device refused or did not answer (or the broker
failed), 2 nothing was sent (a bad command, target, key or option)."""


def add_parser(sub) -> None:
    from .connect import add_broker_options

    c = sub.add_parser("cmd", help="send a signed command to devices and show their acks",
                       epilog=USAGE, formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_argument("words", nargs="*", metavar="VERB TARGET [ARGS]")
    c.add_argument("--watch", action="store_true",
                   help="instead: the live fleet table (read only; Ctrl-C ends it)")
    c.add_argument("--for", dest="for_s", type=float, default=0, metavar="S",
                   help="with --watch: stop after S seconds (default: until Ctrl-C)")
    add_broker_options(c)
    m = sub.add_parser("monitor", help="the live fleet table with a command line")
    add_monitor_options(m)


def add_monitor_options(m) -> None:
    from .connect import add_broker_options

    m.add_argument("--for", dest="for_s", type=float, default=0, metavar="S",
                   help="stop after S seconds (default: until quit or Ctrl-C)")
    add_broker_options(m)


def _out(line: str) -> None:
    print(line, flush=True)


def run_cmd(args) -> int:
    from host_tools.station.service import BrokerRefused

    from . import build, cmdline, dispatch, table
    from .connect import SetupError, open_session, settings

    if args.watch:
        if args.words:
            _out("error: --watch takes no command (it only shows the fleet)")
            return 2
        from . import monitor

        return monitor.run(args, interactive=False)
    req = cmdline.parse_words(args.words)
    if req is None:
        _out("error: no command given\n" + USAGE)
        return 2
    if isinstance(req, cmdline.Help):
        _out("\n".join(build.usage_lines()))
        return 0
    if isinstance(req, cmdline.Quit):
        return 0
    if isinstance(req, cmdline.LineError):
        _out("error: %s\nnothing sent" % req.message)
        return 2
    try:
        # What is wrong for any device is said before connecting.
        build.build(req.verb, req.args)
        s = settings(args, "operator")
    except (build.CommandError, SetupError) as e:
        _out("error: %s\nnothing sent" % e)
        return 2
    try:
        view, session = open_session(s)
    except (OSError, RuntimeError) as e:  # BrokerRefused is a RuntimeError
        why = str(e) if isinstance(e, BrokerRefused) else "%s:%d: %s" % (s.host, s.port, e)
        _out("error: %s\nnothing sent" % why)
        return 1
    try:
        planned, err = dispatch.plan(view, s.known, req, s.unsigned)
        if err:
            _out("error: %s\nnothing sent" % err)
            return 2
        names = ", ".join(p.device.id for p in planned)
        _out("%s to %d device%s (%s), waiting up to %g s for acks" % (
            build.canonical(req.verb), len(planned), "s" if len(planned) > 1 else "",
            table.clip(names, 40), s.timeout))
        _out(table.ack_header())
        rows = dispatch.send(session, s.store, planned, s.timeout,
                             on_row=lambda r: [_out(line) for line in table.ack_lines(r)])
    finally:
        session.stop()
    bad = [r for r in rows if r.result != "ok"]
    if bad:
        _out("%d of %d did not ack ok" % (len(bad), len(rows)))
    return 1 if bad else 0


def run(args) -> int:
    if args.cmd == "monitor":
        from . import monitor

        return monitor.run(args, interactive=True)
    return run_cmd(args)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="street")
    sub = ap.add_subparsers(dest="cmd", required=True)
    add_parser(sub)
    return run(ap.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
