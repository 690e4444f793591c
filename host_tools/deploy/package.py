"""package.json at the repository root: the firmware as a mip package, for
`mpremote mip install --target . package.json` (a local file: its relative urls resolve against
its own folder). Made from the firmware's file list, so a new module is one command away:

    python -m host_tools.deploy.package      rewrite package.json

tests/host/test_deploy_package.py fails while package.json and firmware/ disagree."""

import json
import sys

from host_tools.setup.checks import FIRMWARE, firmware_files
from host_tools.upy import ROOT

PACKAGE_JSON = ROOT / "package.json"
VERSION = "0.1.0"


def package() -> dict:
    urls = []
    for src in firmware_files(FIRMWARE):
        rel = src.relative_to(FIRMWARE).as_posix()
        urls.append([rel, src.relative_to(ROOT).as_posix()])
    return {"urls": urls, "version": VERSION}


def text() -> str:
    """One file per line, so a diff shows a module come or go."""
    pkg = package()
    rows = ",\n".join(f"    {json.dumps(u)}" for u in pkg["urls"])
    return f'{{\n  "urls": [\n{rows}\n  ],\n  "version": {json.dumps(pkg["version"])}\n}}\n'



if __name__ == "__main__":
    PACKAGE_JSON.write_text(text())
    print(f"wrote {PACKAGE_JSON.relative_to(ROOT)}: {len(package()['urls'])} files")
    sys.exit(0)
