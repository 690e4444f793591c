"""`street demo`: run a simulated street (host_tools.street.run), show it live, write the
report (host_tools.street.report). Ctrl-C stops every device by its PID and still writes
what the run has so far."""

import signal
import sys
import threading
from pathlib import Path

from . import scenario as scn

MIN_SPEED, MAX_SPEED = 1.0, 5000.0


def add_parser(sub) -> None:
    p = sub.add_parser("demo", help="a simulated street through a night and a day, live, "
                                    "with a report (docs/demo.md)")
    p.add_argument("--scenario", default=scn.DEFAULT,
                   help=f"a scenario name ({', '.join(scn.names())}) or a JSON file "
                        f"(default {scn.DEFAULT})")
    p.add_argument("--speed", type=float, default=None,
                   help="scenario seconds per real second (default 720: 24 h in 2 minutes)")
    p.add_argument("--poles", type=int, default=None, help="number of poles (default 4)")
    p.add_argument("--inlets", type=int, default=None, help="number of inlets (default 2)")
    p.add_argument("--seed", type=int, default=0, help="the world's random seed (default 0)")
    p.add_argument("--hours", type=float, default=None,
                   help="scenario hours (default: the scenario's, 24 for residential)")
    p.add_argument("--out", default="out", help="where the report goes (default out/)")
    p.add_argument("--no-live", action="store_true",
                   help="no live view: a status line every few seconds instead")
    p.add_argument("--monitor", action="store_true",
                   help="open the fleet monitor on the street's broker instead of the view")
    p.add_argument("--in-process", action="store_true",
                   help="every agent's decision modules under CPython in this process, for "
                        "streets too large for one MicroPython per device (docs/street.md)")
    p.add_argument("--broker", choices=("auto", "mosquitto", "mini"), default="auto",
                   help="auto (default): Mosquitto if installed or installable, else the "
                        "pure-Python MiniBroker")


def run(args) -> int:
    from . import report
    from .live import LiveView
    from .run import DEFAULT_INLETS, DEFAULT_POLES, DEFAULT_SPEED, Options, Run

    speed = DEFAULT_SPEED if args.speed is None else args.speed
    if not MIN_SPEED <= speed <= MAX_SPEED:
        print(f"--speed: must be within {MIN_SPEED:.0f}..{MAX_SPEED:.0f}, got {speed:g}")
        return 2
    opts = Options(scenario=args.scenario, speed=speed,
                   poles=DEFAULT_POLES if args.poles is None else args.poles,
                   inlets=DEFAULT_INLETS if args.inlets is None else args.inlets,
                   seed=args.seed, hours=args.hours, out=args.out, broker=args.broker,
                   in_process=args.in_process)
    view = LiveView(every_s=5.0) if not args.no_live and not args.monitor else \
        LiveView(out=_NotATty(sys.stdout), every_s=5.0)
    try:
        r = Run(opts, say=view.say)
    except ValueError as e:  # ScenarioError, DeviceError: one line
        print(f"error: {e}")
        return 2
    s = r.scenario
    print(f"street demo: {s['title']}, seed {s['seed']}, {s['poles']['count']} poles, "
          f"{s['inlets']['count']} inlets, {s['hours']:g} h at {speed:g}x "
          f"(about {s['hours'] * 3600 / speed:.0f} s); Ctrl-C stops and still writes the "
          "report", flush=True)

    asked = []

    def on_sigint(signum, frame):
        # A flag, not an exception: raised inside paho's or a device thread's locks, an
        # exception could leave the run hanging. The devices get the terminal's Ctrl-C too.
        asked.append(signum)
        r.stop()

    previous = signal.signal(signal.SIGINT, on_sigint)

    def tick(run):
        if run.watcher is None or run.clock is None:
            return
        info = {"title": f"{s['title']} (seed {s['seed']})", "phase": run.phase,
                "now": run.clock.wall(), "start": s["start_wall"], "end": s["end_wall"],
                "offset_min": s["utc_offset_min"], "speed": run.clock.speed,
                "broker": run.broker.kind if run.broker else "-"}
        view.draw(run.watcher.snapshot(), info)

    result = None
    try:
        if args.monitor:
            result = _with_monitor(r, tick)
        else:
            result = r.run(tick)
    except SystemExit as e:
        print(f"error: {e}")
        return 2
    except (OSError, RuntimeError) as e:
        print(f"error: {e}")
        return 1
    finally:
        view.close()
        signal.signal(signal.SIGINT, previous)
    if not args.in_process and not asked:
        print("the same street on an exact clock (in-process), for comparison ...", flush=True)
        result["exact_clock"] = r.exact_clock()
    path = report.write(Path(args.out), result)
    sp = result["speed"]
    print(f"{'stopped early (Ctrl-C)' if sp['stopped_early'] else 'done'}: "
          f"{sp['scenario_s'] / 3600:.1f} scenario hours in {sp['wall_s']:.0f} s "
          f"({sp['reached']:.0f}x); fell behind {result['behind']['late_count']} times")
    print(f"report: {path}")
    return 130 if asked else 0


class _NotATty:
    """stdout, seen as a pipe (status lines, no redraw)."""

    def __init__(self, out):
        self._out = out

    def isatty(self) -> bool:
        return False

    def write(self, s):
        return self._out.write(s)

    def flush(self):
        self._out.flush()


def _with_monitor(r, tick):
    """The fleet monitor in the foreground (it owns the terminal), the run in a thread; quitting
    the monitor ends the run early."""
    try:
        from host_tools.fleet import monitor
    except ImportError:
        print("--monitor: the fleet monitor (host_tools.fleet.monitor) is not here; running "
              "without it")
        return r.run(tick)
    box: dict = {}
    t = threading.Thread(target=lambda: box.setdefault("result", r.run(tick)), daemon=True)
    t.start()
    while r.broker is None or not r.broker.up or not r.devices:
        if not t.is_alive():
            break
        t.join(0.2)
    if t.is_alive():
        monitor.main(["--host", "127.0.0.1", "--port", str(r.broker.port),
                      "--keys", str(r.out / "devices")])
        r.stop()
    t.join()
    if "result" not in box:
        raise RuntimeError("the run ended without a result (see the lines above)")
    return box["result"]
