"""Find the Mosquitto broker the ring-3 tests start on a loopback port.

Used if on PATH (or in /usr/sbin, where Debian puts it); installed with apt-get when running
as root; otherwise we say exactly how to install it and fail.
"""

import os
import shutil
import subprocess

PACKAGES = ("mosquitto", "mosquitto-clients")


def find() -> str | None:
    path = os.environ.get("PATH", "") + os.pathsep + "/usr/sbin:/usr/local/sbin"
    return shutil.which("mosquitto", path=path)


def ensure() -> str:
    found = find()
    if found:
        return found
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        print("mosquitto not found: installing it with apt-get", flush=True)
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", *PACKAGES], check=True, env=env)
        # Debian's package starts a system broker on 1883; the tests never use it.
        found = find()
        if found:
            return found
    raise SystemExit(
        "Mosquitto is needed for the broker tests but is not installed.\n"
        "Install it with:  sudo apt-get install mosquitto mosquitto-clients\n"
        "(on macOS: brew install mosquitto), then run `make test` again."
    )


if __name__ == "__main__":
    print("mosquitto:", ensure())
