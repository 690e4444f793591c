"""The virtual board's heap: the chip's own size, plus what the simulated board costs.

On the chip, machine, network and time are C code and cost the heap nothing; here they are
Python modules (frozen, but their objects live in the heap), and the start script reads a
file or two. So the interpreter gets the board's heap plus that overhead, measured on the very
interpreter about to run (once per interpreter per host process): gc.mem_free() at the board's
REPL then reads about what the chip's would."""

import json
import subprocess
from pathlib import Path

DEFAULT_KB = 112  # an ESP32 without PSRAM: about what Python gets (docs/chip.md)
_PROBE_HEAP = 1024 * 1024  # room enough to measure the start in
_FRESH = "import gc\ngc.collect()\nprint('VBOARD_HEAP', gc.mem_alloc(), gc.mem_free())"
_overheads: dict[str, int] = {}


class HeapError(Exception):
    pass


def board_kb(flash: Path) -> int:
    """The heap board.json states (memory.gc_heap_kb), else DEFAULT_KB."""
    try:
        kb = json.loads((flash / "board.json").read_text())["memory"]["gc_heap_kb"]
    except (OSError, ValueError, KeyError, TypeError):
        return DEFAULT_KB
    return kb if isinstance(kb, int) and kb > 0 else DEFAULT_KB


def _heap_line(cmd: list[str], cwd: Path, env: dict) -> tuple[int, int]:
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=60, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise HeapError(f"{Path(cmd[0]).name} did not run: {e}") from None
    for line in proc.stdout.splitlines():
        if line.startswith("VBOARD_HEAP "):
            _, alloc, free = line.split()
            return int(alloc), int(free)
    lines = (proc.stdout + proc.stderr).strip().splitlines() or [f"exit {proc.returncode}"]
    raise HeapError(f"the board does not start on {Path(cmd[0]).name}: {lines[-1]}")


def overhead(exe: str, start: Path, cwd: Path, env: dict) -> int:
    """Heap bytes (as -X heapsize counts them) that the simulated board's start takes."""
    if exe not in _overheads:
        heap = ["-X", f"heapsize={_PROBE_HEAP}"]
        alloc0, free0 = _heap_line([exe, *heap, "-c", _FRESH], cwd, env)
        alloc1, _ = _heap_line([exe, *heap, str(start)], cwd, {**env, "VBOARD_MEASURE": "1"})
        per_byte = _PROBE_HEAP / (alloc0 + free0)  # the GC's own tables come out of the heap
        _overheads[exe] = max(0, int((alloc1 - alloc0) * per_byte) + 1023) // 1024 * 1024
    return _overheads[exe]
