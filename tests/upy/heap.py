# Heap growth of a repeated call, for the "allocates nothing per tick" checks shared by the
# ring-2 cases (MicroPython only: CPython has no gc.mem_alloc, and there it answers None).
import gc


def allocated(fn, n=100):
    """Bytes the GC heap grew by over n calls of fn(i) after a warm-up call, or None where
    the interpreter cannot tell (CPython)."""
    if not hasattr(gc, "mem_alloc"):
        return None
    fn(0)
    gc.collect()
    before = gc.mem_alloc()  # type: ignore[attr-defined]
    for i in range(n):
        fn(i)
    return gc.mem_alloc() - before  # type: ignore[attr-defined]
