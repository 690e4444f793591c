"""Debian packages the setup needs: installed with apt-get when running as root, otherwise one
clear message with the command to run."""

import os
import shutil
import subprocess

_updated = False


def can_install() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get") is not None


def install(packages: tuple[str, ...], why: str) -> None:
    """apt-get install PACKAGES, or SystemExit saying how (why: what needs them)."""
    global _updated
    if not can_install():
        raise SystemExit(f"{why} needs {' '.join(packages)}, which is not installed.\n"
                         f"Install it with:  sudo apt-get install {' '.join(packages)}\n"
                         "then run `make test` again.")
    print(f"{why}: installing {' '.join(packages)} with apt-get", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if not _updated:
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        _updated = True
    subprocess.run(["apt-get", "install", "-y", "-qq", *packages], check=True, env=env)
