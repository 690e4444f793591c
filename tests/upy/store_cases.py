# Power-cut cases for agent.store, shared by the CPython ring (tests/core/test_store.py) and
# the MicroPython ring (tests/upy/test_store.py): the same file code on both interpreters.
# Each takes the scratch folder `tmp` ring 1 passes; under run.py it is None: UPY_TMP then.
import json
import os

from agent import config, store

OLD = {"device": {"id": "pole-1", "role": "streetlight"}, "mqtt": {"host": "old.lan"}}
NEW = {"device": {"id": "pole-1", "role": "streetlight", "name": "Elm St 4"},
       "mqtt": {"host": "new.lan", "port": 8883, "tls": True}}


class PowerCut(Exception):
    pass


class CutFs(store.Fs):
    """Loses power after `budget` bytes written or file operations done, whichever first.
    A cut mid-write leaves the bytes written so far on disk, as flash would."""

    def __init__(self, budget):
        self.budget = budget

    def _spend(self, n):
        if self.budget < n:
            raise PowerCut()
        self.budget -= n

    def write(self, path, data):
        keep = min(len(data), max(self.budget, 0))
        with open(path, "wb") as f:
            f.write(data[:keep])
        self._spend(len(data))

    def rename(self, src, dst):
        self._spend(1)
        store.Fs.rename(self, src, dst)

    def remove(self, path):
        self._spend(1)
        store.Fs.remove(self, path)


def scratch(tmp):
    return tmp or os.getenv("UPY_TMP") or "/tmp"


def _clean(d):
    for name in os.listdir(d):
        os.remove(d + "/" + name)


def _write_plain(path, obj):
    with open(path, "w") as f:
        f.write(json.dumps(obj))


def test_interrupted_save_always_leaves_old_or_new(tmp=None):
    """Cut power at every byte and every step of a save: the next load gives OLD or NEW."""
    d = scratch(tmp)
    path = d + "/config.json"
    total = len(json.dumps(NEW)) + 8
    seen = set()
    for budget in range(total + 1):
        _clean(d)
        _write_plain(path, OLD)
        store.save_json(path, OLD, config.load)  # leaves a .bak as in the field
        try:
            store.save_json(path, NEW, config.load, fs=CutFs(budget))
            done = True
        except PowerCut:
            done = False
        cfg, src, _ = store.load_json(path, config.load)
        got = "new" if cfg["mqtt"]["host"] == "new.lan" else "old"
        assert cfg == config.load(NEW if got == "new" else OLD)
        if done:
            assert got == "new" and src == path
        seen.add(got)
        # after any load, the primary file is whole again or still the old one
        assert store.load_json(path, config.load)[0] == cfg
    assert seen == {"old", "new"}  # the cut really landed on both sides of the commit


def test_invalid_document_is_never_written(tmp=None):
    d = scratch(tmp)
    path = d + "/config.json"
    _clean(d)
    store.save_json(path, OLD, config.load)
    bad = {"device": {"id": "pole-1", "role": "lamp"}, "mqtt": {"host": "x"}}
    try:
        store.save_json(path, bad, config.load)
        raise AssertionError("invalid config was saved")
    except config.ConfigError as e:
        assert "device.role" in str(e)
    assert store.load_json(path, config.load)[0] == config.load(OLD)
    assert sorted(os.listdir(d)) == ["config.json"]


def test_broken_hand_edit_falls_back_and_is_kept(tmp=None):
    d = scratch(tmp)
    path = d + "/config.json"
    _clean(d)
    store.save_json(path, OLD, config.load)
    store.save_json(path, NEW, config.load)  # OLD is now the backup
    with open(path, "w") as f:
        f.write('{"device": {"id": "pole-1", "role": "streetlight"},')  # truncated edit
    cfg, src, problems = store.load_json(path, config.load)
    assert src == path + ".bak" and cfg == config.load(OLD)
    assert "not valid JSON" in problems[0]
    store.save_json(path, NEW, config.load)  # the technician saves again
    with open(path + ".bad") as f:  # the broken edit is kept for them, not lost
        assert f.read().startswith('{"device"')
    assert store.load_json(path + ".bak", config.load)[0] == config.load(OLD)


def test_nothing_usable_names_every_file(tmp=None):
    d = scratch(tmp)
    path = d + "/config.json"
    _clean(d)
    _write_plain(path, {"device": {}})
    try:
        store.load_json(path, config.load)
        raise AssertionError("loaded an invalid config")
    except store.StoreError as e:
        msg = str(e)
    assert "device.id: required, missing" in msg
    assert "config.json.bak: missing" in msg
