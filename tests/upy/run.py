# Runs one ring-2 test module under the MicroPython unix port.
# Usage: micropython tests/upy/run.py test_module [test_name]
# Prints "PASS name" / "FAIL name" lines and exits 1 if anything failed.
# Shared cases come in by `from <topic>_cases import *` (the convention: tests/shared_cases.py).
import sys

try:
    import simclock  # the simulated board's shared state, reset between tests
except ImportError:
    simclock = None


def main(argv):
    mod = __import__(argv[1])
    only = argv[2] if len(argv) > 2 else None
    names = sorted(n for n in dir(mod) if n.startswith("test_") and (only is None or n == only))
    failed = 0
    for name in names:
        if simclock is not None:
            simclock.reset()
        try:
            getattr(mod, name)()
            print("PASS", name)
        except Exception as e:  # report every failure, keep going
            failed += 1
            print("FAIL", name)
            sys.print_exception(e)
    print("%d passed, %d failed" % (len(names) - failed, failed))
    if not names:
        print("no tests found in", argv[1])
        sys.exit(2)
    sys.exit(1 if failed else 0)


main(sys.argv)
