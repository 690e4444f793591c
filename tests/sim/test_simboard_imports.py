"""The simulated board's modules import one another without a circle, as each runtime really
resolves the names: under MicroPython a simboard file shadows a built-in of the same name
(time.py stands for `time`) but `utime` is always the built-in; under CPython, `time` and the
other compiled-in modules are never a file on sys.path. A branch on
`sys.implementation.name == "micropython"` counts for its own runtime only."""

import ast
import sys
from pathlib import Path

import pytest

SIMBOARD = Path(__file__).resolve().parents[2] / "host_tools" / "simboard"
MODULES = {p.stem: p for p in SIMBOARD.glob("*.py")}


def _runtime_branch(test):
    """'micropython' / 'cpython' if `test` is `sys.implementation.name ==|!= "micropython"`."""
    if (isinstance(test, ast.Compare) and len(test.ops) == 1
            and ast.unparse(test.left) == "sys.implementation.name"
            and isinstance(test.comparators[0], ast.Constant)
            and test.comparators[0].value == "micropython"):
        if isinstance(test.ops[0], ast.Eq):
            return "micropython"
        if isinstance(test.ops[0], ast.NotEq):
            return "cpython"
    return None


def _imports(node, runtime):
    """Top-level module names imported anywhere under node (functions too) in that runtime."""
    if isinstance(node, ast.If):
        branch = _runtime_branch(node.test)
        if branch is not None:
            body = node.body if branch == runtime else node.orelse
            return [n for stmt in body for n in _imports(stmt, runtime)]
    if isinstance(node, ast.Import):
        return [a.name.split(".")[0] for a in node.names]
    if isinstance(node, ast.ImportFrom):
        return [node.module.split(".")[0]] if node.module and not node.level else []
    return [n for child in ast.iter_child_nodes(node) for n in _imports(child, runtime)]


def _resolves_to_simboard(name, runtime):
    if name not in MODULES:
        return False
    return runtime == "micropython" or name not in sys.builtin_module_names


def graph(runtime):
    return {mod: sorted({n for n in _imports(ast.parse(path.read_text()), runtime)
                         if n != mod and _resolves_to_simboard(n, runtime)})
            for mod, path in MODULES.items()}


def circles(deps):
    found, done = [], set()

    def visit(mod, stack):
        if mod in stack:
            found.append(stack[stack.index(mod):] + [mod])
            return
        if mod in done:
            return
        for dep in deps.get(mod, ()):
            visit(dep, stack + [mod])
        done.add(mod)

    for mod in sorted(deps):
        visit(mod, [])
    return found


@pytest.mark.parametrize("runtime", ["micropython", "cpython"])
def test_no_import_circle_in_the_simulated_board(runtime):
    assert circles(graph(runtime)) == []


def test_the_graph_sees_the_board_modules_and_time_as_each_runtime_does():
    mpy, cpy = graph("micropython"), graph("cpython")
    assert "simclock" in mpy["simtime"] and "simtime" in mpy["time"]
    assert "simworld" in mpy["network"] and "simworld" in mpy["simdevices"]
    assert "network" not in mpy["simworld"] and "simdevices" not in mpy["simworld"]
    assert "time" not in mpy["realclock"] and "time" not in cpy["realclock"]
    assert "realclock" in mpy["simclock"]
    # the checker itself finds a circle where there is one
    assert circles({"a": ["b"], "b": ["c"], "c": ["a"]}) == [["a", "b", "c", "a"]]
