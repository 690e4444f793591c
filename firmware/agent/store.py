# Power-cut-safe JSON files (shell: the flash): config.json, secrets.json, counters.
#
# save: write NAME.tmp and read it back, move the current good NAME to NAME.bak, rename
# NAME.tmp to NAME. At every instant at least one of NAME, NAME.tmp, NAME.bak holds a whole,
# valid file, and load looks in that order. Renaming onto an existing file fails on FAT, so
# the old file is moved away first rather than replaced in one step.
import json
import os


class StoreError(ValueError):
    pass


class Fs:
    """The few file operations we need; tests swap in one that loses power mid-write."""

    def read(self, path):
        try:
            with open(path, "rb") as f:
                return f.read()
        except OSError:
            return None

    def write(self, path, data):
        with open(path, "wb") as f:
            f.write(data)
        sync = getattr(os, "sync", None)
        if sync:
            sync()

    def rename(self, src, dst):
        os.rename(src, dst)

    def remove(self, path):
        try:
            os.remove(path)
        except OSError:
            pass


def _parse(fs, path, validate):
    """(value, None) if the file holds a valid document, else (None, why)."""
    data = fs.read(path)
    if data is None:
        return None, "missing"
    try:
        obj = json.loads(data)
    except ValueError:
        return None, "not valid JSON (%d bytes)" % len(data)
    if validate is None:
        return obj, None
    try:
        return validate(obj), None
    except ValueError as e:
        return None, str(e)


def load_json(path, validate=None, fs=None):
    """Load PATH, falling back to an interrupted save's PATH.tmp, then the last good PATH.bak.

    Returns (value, source_path, problems): problems describes every file passed over, so the
    caller can report "running on the backup because ...". Raises StoreError if none is usable.
    """
    fs = fs or Fs()
    problems = []
    for src in (path, path + ".tmp", path + ".bak"):
        value, why = _parse(fs, src, validate)
        if why is None:
            if src == path + ".tmp" and fs.read(path) is None:
                fs.rename(src, path)  # finish the save that power cut short
                src = path
            return value, src, problems
        problems.append("%s: %s" % (src, why))
    raise StoreError("no usable %s:\n  %s" % (path, "\n  ".join(problems)))


def save_json(path, obj, validate=None, fs=None):
    """Atomically replace PATH with obj as JSON. validate (if given) is applied first, so an
    invalid document is never written, and decides whether the current file is "last good"."""
    fs = fs or Fs()
    if validate is not None:
        validate(obj)
    data = json.dumps(obj).encode()
    tmp, bak = path + ".tmp", path + ".bak"
    fs.write(tmp, data)
    if fs.read(tmp) != data:  # a full or failing filesystem: keep what we have
        fs.remove(tmp)
        raise StoreError("%s: write did not read back (filesystem full?)" % tmp)
    if fs.read(path) is not None:
        _, why = _parse(fs, path, validate)
        if why is None:
            fs.remove(bak)
            fs.rename(path, bak)
        else:
            # Keep a broken hand edit for the technician instead of losing it or the backup.
            fs.remove(path + ".bad")
            fs.rename(path, path + ".bad")
    fs.rename(tmp, path)
