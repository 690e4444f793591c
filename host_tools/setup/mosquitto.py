"""Find the Mosquitto broker the ring-3 tests start on a loopback port.

Used if on PATH (or in /usr/sbin, where Debian puts it); installed with apt-get when running
as root; otherwise we say exactly how to install it and fail.
"""

import os
import shutil

from host_tools.setup import apt

PACKAGES = ("mosquitto", "mosquitto-clients")


def find() -> str | None:
    path = os.environ.get("PATH", "") + os.pathsep + "/usr/sbin:/usr/local/sbin"
    return shutil.which("mosquitto", path=path)


def ensure() -> str:
    found = find()
    if found:
        return found
    if not apt.can_install():
        raise SystemExit(
            "Mosquitto is needed for the broker tests but is not installed.\n"
            "Install it with:  sudo apt-get install mosquitto mosquitto-clients\n"
            "(on macOS: brew install mosquitto), then run `make test` again."
        )
    # Debian's package starts a system broker on 1883; the tests never use it.
    apt.install(PACKAGES, "the broker tests")
    found = find()
    if not found:
        raise SystemExit("mosquitto was installed but is not on PATH nor in /usr/sbin")
    return found


if __name__ == "__main__":
    print("mosquitto:", ensure())
