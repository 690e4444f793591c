"""Fetch micropython-lib's umqtt.simple for the host's MicroPython unix port.

The ESP32 firmware has umqtt.simple frozen in; the unix port does not. The package index only
carries it as an sdist without setup.py, which pip refuses to download, so we take the file
through the index's simple API by exact name and version and check its sha256 before use.
"""

import hashlib
import io
import json
import os
import sys
import tarfile
import urllib.request

PROJECT = "micropython-umqtt-simple"
FILENAME = "micropython-umqtt.simple-1.3.4.tar.gz"
SHA256 = "b6a2520239e3992c63a7de9370ee9b3d9d27819a90359c521f1c0f7ccab8d12f"
MEMBER = "umqtt/simple.py"


def index_url() -> str:
    """The index pip itself would use: PIP_INDEX_URL, else pip's configured or default one."""
    url = os.environ.get("PIP_INDEX_URL")
    if not url:
        from pip._internal.configuration import Configuration

        conf = Configuration(isolated=False)
        conf.load()
        try:
            url = conf.get_value("global.index-url")
        except Exception:
            from pip._internal.models.index import PyPI

            url = PyPI.simple_url
    return str(url).rstrip("/")


def fetch(dest_dir: str) -> str:
    req = urllib.request.Request(
        f"{index_url()}/{PROJECT}/",
        headers={"Accept": "application/vnd.pypi.simple.v1+json"},
    )
    with urllib.request.urlopen(req, timeout=60) as resp:
        listing = json.load(resp)
    entry = next((f for f in listing["files"] if f["filename"] == FILENAME), None)
    if entry is None:
        raise SystemExit(f"fetch_umqtt: {FILENAME} is not on the package index")
    with urllib.request.urlopen(entry["url"], timeout=60) as resp:
        blob = resp.read()
    digest = hashlib.sha256(blob).hexdigest()
    if digest != SHA256:
        raise SystemExit(f"fetch_umqtt: sha256 mismatch for {FILENAME}: got {digest}")
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("/" + MEMBER))
        source = tar.extractfile(member).read()
    target = os.path.join(dest_dir, MEMBER)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    tmp = target + ".tmp"
    with open(tmp, "wb") as f:
        f.write(source)
    os.replace(tmp, target)  # never leave a half-written module behind
    return target


if __name__ == "__main__":
    print("fetched", fetch(sys.argv[1] if len(sys.argv) > 1 else ".cache/mplib"))
