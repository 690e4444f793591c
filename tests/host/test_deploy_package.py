"""package.json lists exactly the firmware's files, each at the path the board imports it by."""

import json

from host_tools.deploy.package import PACKAGE_JSON, package
from host_tools.setup.checks import FIRMWARE, firmware_files
from host_tools.upy import ROOT


def test_package_json_lists_exactly_the_firmware():
    got = json.loads(PACKAGE_JSON.read_text())
    want = {f.relative_to(FIRMWARE).as_posix() for f in firmware_files(FIRMWARE)}
    listed = {dest for dest, _ in got["urls"]}
    assert listed == want, ("package.json is out of date with firmware/: run "
                            "`.venv/bin/python -m host_tools.deploy.package`")
    assert got == package()
    for dest, url in got["urls"]:
        assert (ROOT / url).is_file() and url == f"firmware/{dest}"
    assert {"main.py", "boot.py", "agent/app.py"} <= listed
