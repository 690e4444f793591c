"""python -m host_tools.minibroker --port 1883: the mini broker in the foreground; Ctrl-C
(or SIGTERM) stops it."""

import argparse
import signal
import sys
import threading
import time

from . import MAX_PACKET_BYTES, MiniBroker


def read_users(path: str) -> dict[str, str]:
    """A file of `user:password` lines (blank lines and # comments skipped)."""
    users = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            name, sep, password = line.partition(":")
            if not sep or not name:
                raise ValueError(f"{path}:{n}: expected user:password")
            users[name] = password
    return users


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m host_tools.minibroker",
                                description="A small MQTT 3.1.1 broker for demos and tests "
                                            "(no TLS, no persistence, no QoS 2).")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; traffic is not encrypted)")
    p.add_argument("--port", type=int, default=1883, help="TCP port (0: any free one)")
    p.add_argument("--users-file", metavar="FILE",
                   help="require a login: lines of user:password (default: anyone may connect)")
    p.add_argument("--max-packet-bytes", type=int, default=MAX_PACKET_BYTES,
                   help=f"drop a client sending a larger packet (default {MAX_PACKET_BYTES})")
    p.add_argument("-q", "--quiet", action="store_true", help="do not log connects and drops")
    args = p.parse_args(argv)
    if not 0 <= args.port <= 65535:
        p.error(f"--port {args.port}: must be 0..65535")
    if args.max_packet_bytes < 64:
        p.error(f"--max-packet-bytes {args.max_packet_bytes}: must be at least 64")
    try:
        users = read_users(args.users_file) if args.users_file else None
    except (OSError, ValueError) as e:
        print(f"minibroker: users file: {e}", file=sys.stderr)
        return 2
    lock = threading.Lock()

    def log(line: str) -> None:
        with lock:
            print(f"{time.strftime('%H:%M:%S')} {line}", flush=True)

    # Set before the "listening" line (a caller may signal as soon as it reads it). The
    # signal only sets a flag, polled below: an exception raised inside a wait could leave a
    # lock held while the broker's thread still runs.
    stop = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.append(True))
    broker = MiniBroker(args.host, args.port, users, max_packet_bytes=args.max_packet_bytes,
                        log=None if args.quiet else log)
    try:
        broker.start()
    except OSError as e:
        print(f"minibroker: cannot listen on {args.host}:{args.port}: {e.strerror or e}",
              file=sys.stderr)
        return 1
    login = f"{len(users)} users" if users is not None else "anonymous allowed"
    print(f"minibroker listening on {args.host}:{broker.port} ({login}); Ctrl-C stops it",
          flush=True)
    try:
        while not stop:
            time.sleep(0.2)
    finally:
        broker.stop()
    print("minibroker stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
