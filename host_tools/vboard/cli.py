"""`street vboard DIR`: a virtual ESP32 on a serial port, DIR its flash (docs/vboard.md)."""

import signal
import threading
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("vboard", help="a virtual ESP32 on a serial port (mpremote, deploy, REPL)")
    p.add_argument("flash", metavar="DIR", help="the board's flash: a folder (boot.py, main.py...)")
    p.add_argument("--image", choices=("stock", "frozen", "unix"), default="stock",
                   help="stock: the chip-like 32-bit build, agent not frozen in (default); "
                        "frozen: the agent frozen in, as a custom image; unix: the 64-bit port "
                        "(when the chip-like build is missing; heap figures then run 1.4x high)")
    p.add_argument("--heap", type=int, default=None, metavar="KB",
                   help="the chip's GC heap (default: board.json's memory.gc_heap_kb, else 112)")


def run(args) -> int:
    from host_tools.vboard.board import VBoard, VBoardError

    vb = VBoard(Path(args.flash), image=args.image, heap_kb=args.heap)
    print("starting a virtual ESP32 (its image brought up to date first)...", flush=True)
    try:
        vb.start()
    except VBoardError as e:
        print(f"error: {e}")
        return 1
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):  # also when started with SIGINT ignored (&)
        signal.signal(sig, lambda *_: done.set())
    print(f"virtual ESP32 on {vb.port} (flash: {args.flash}, image: {args.image}, "
          f"heap {vb.heap_kb} KB); Ctrl-C stops", flush=True)
    try:
        while not done.wait(0.5):
            if not vb.alive:
                print("error: the virtual board's bridge stopped")
                return 1
    finally:
        vb.stop()
    print("virtual ESP32 stopped", flush=True)
    return 0
