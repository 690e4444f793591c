"""Atomic config saves under CPython; the same cases run under MicroPython (test_store.py in
tests/upy)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "upy"))
import store_cases  # noqa: E402

CASES = [n for n in dir(store_cases) if n.startswith("check_")]


@pytest.mark.parametrize("case", CASES)
def test_store(case, tmp_path):
    getattr(store_cases, case)(str(tmp_path))
