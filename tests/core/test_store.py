"""Atomic config saves under CPython; the same cases run under MicroPython (test_store.py in
tests/upy)."""

import pytest
import store_cases  # the cases shared with ring 2 (tests/upy is on sys.path)

from tests import shared_cases


@pytest.mark.parametrize("case", shared_cases.names(store_cases))
def test_store(case, tmp_path):
    shared_cases.run(store_cases, case, tmp_path)
