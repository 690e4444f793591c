# agent.store under the MicroPython unix port: the shared power-cut cases.
import os

import store_cases


def _dir():
    # The pytest bridge gives each module a fresh scratch folder.
    return os.getenv("UPY_TMP") or "/tmp"


def test_interrupted_save_always_leaves_old_or_new():
    store_cases.check_interrupted_save_always_leaves_old_or_new(_dir())


def test_invalid_document_is_never_written():
    store_cases.check_invalid_document_is_never_written(_dir())


def test_broken_hand_edit_falls_back_and_is_kept():
    store_cases.check_broken_hand_edit_falls_back_and_is_kept(_dir())


def test_nothing_usable_names_every_file():
    store_cases.check_nothing_usable_names_every_file(_dir())
