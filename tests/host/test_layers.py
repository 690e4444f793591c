"""`make check` keeps the pure core pure: a module whose first line says (pure) may not reach
the pins, the radio, sockets, the clock or the files, directly or through another module."""

import shutil

import pytest

from host_tools.setup import checks


@pytest.fixture
def fw(tmp_path):
    root = tmp_path / "firmware"
    shutil.copytree(checks.FIRMWARE, root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def plant(path, line):
    """Add an import after the module's first line (inside a function: still counted)."""
    head, rest = path.read_text().split("\n", 1)
    path.write_text(f"{head}\n{line}\n{rest}")


def test_the_firmware_as_it_is_keeps_its_layers():
    assert checks.layer_problems() == []


@pytest.mark.parametrize("mod", sorted(checks.SHELL_ONLY))
def test_a_forbidden_import_in_a_pure_module_fails(fw, mod):
    plant(fw / "agent" / "dimmer.py", f"import {mod}")
    problems = checks.layer_problems(fw)
    assert problems[0] == f"agent/dimmer.py is marked pure but imports {mod}"
    # and every pure module that imports the dimmer, with the chain
    assert f"agent/streetlight.py is marked pure but imports agent.dimmer -> {mod}" in problems


def test_an_import_through_a_shell_module_or_a_pure_one_fails(fw):
    plant(fw / "agent" / "sensing.py", "def later():\n    from agent import hal")
    problems = checks.layer_problems(fw)
    assert "agent/sensing.py is marked pure but imports agent.hal" in problems
    # streetlight imports sensing: the breach is reported along the whole chain
    assert any(p.startswith("agent/streetlight.py is marked pure but imports") and
               p.endswith("agent.sensing -> agent.hal") for p in problems), problems


def test_every_module_must_say_which_it_is(fw):
    path = fw / "agent" / "civil.py"
    path.write_text("# Calendar arithmetic.\n" + path.read_text().split("\n", 1)[1])
    problems = checks.layer_problems(fw)
    assert problems[0].startswith("agent/civil.py:1: the first line must say (pure...) or")
    # unmarked counts as shell: the pure modules that import it are reported too
    assert "agent/astro.py is marked pure but imports agent.civil" in problems


def test_the_check_runs_in_make_check():
    assert "layers" in (checks.ROOT / "Makefile").read_text().split("check:")[1].split("\n")[0]
