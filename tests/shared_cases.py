"""Running the cases shared by ring 1 (CPython) and ring 2 (MicroPython).

The convention: a topic's shared cases live in tests/upy/<topic>_cases.py as plain functions
named test_* (no pytest features, nothing CPython-only: they must run under MicroPython),
beside whatever helpers they need (named anything but test_*). Ring 2 runs them through the
thin tests/upy/test_<topic>.py (`from <topic>_cases import *`, plus any MicroPython-only
tests), one MicroPython process per module via tests/upy/run.py. Ring 1 runs them through
tests/core/test_<topic>.py (tests/sim for the simulated board), always with this helper:

    @pytest.mark.parametrize("case", shared_cases.names(fill_cases))
    def test_shared_case(case, tmp_path):
        shared_cases.run(fill_cases, case, tmp_path)

As in run.py, the simulated board is reset before (and here also after) each case. A case that
takes an argument `tmp` gets a fresh scratch folder here; run.py passes nothing, so such a
case defaults tmp to None and then uses ring 2's UPY_TMP (see store_cases.scratch). Nothing is
left out silently: the only cases ring 1 does not collect are those named by a rule in
CPYTHON_RULES below, which states why.
"""

import inspect

import simclock

# Named rules for cases that cannot say anything under CPython: name -> (why, predicate).
CPYTHON_RULES = {
    "heap checks": (
        "a case named *_allocate* measures GC heap growth with heap.allocated(), which needs "
        "MicroPython's gc.mem_alloc(); under CPython it answers None and the check is empty",
        lambda name: "_allocate" in name,
    ),
}


def names(module):
    """The names of the shared cases of a *_cases module that ring 1 runs, sorted."""
    return [n for n in sorted(dir(module)) if n.startswith("test_") and not excluded(n)]


def excluded(name):
    """The name of the rule that keeps a case out of ring 1, or None."""
    for rule, (_why, applies) in CPYTHON_RULES.items():
        if applies(name):
            return rule
    return None


def run(module, name, tmp_path=None):
    """Run one shared case on a pristine simulated board, as tests/upy/run.py does."""
    case = getattr(module, name)
    args = []
    if "tmp" in inspect.signature(case).parameters:
        assert tmp_path is not None, "%s needs a scratch folder: pass tmp_path" % name
        args.append(str(tmp_path))
    simclock.reset()
    try:
        case(*args)
    finally:
        simclock.reset()

