"""The device folder against the board found, before anything is written: one line per problem.

The judges are the firmware's own: agent.files.load_all (board map, config schema, secrets, the
config's fit to its board), agent.board.validate for the chip's pin rules, and
host_tools.chipfit for the heap each role needs as deployed."""

from pathlib import Path

from agent import files
from agent.chips import CHIPS
from host_tools import chipfit
from host_tools.deploy.probe import BoardInfo

PSRAM_MIN_KB = 1024  # a GC heap in PSRAM is megabytes; internal RAM gives at most ~300 KB


def one_line(text: str) -> str:
    """A loader's multi-line problem as one line, without the fallbacks that were not there."""
    out = ""
    for part in (p.strip() for p in str(text).splitlines()):
        if not part or part.endswith((".tmp: missing", ".bak: missing")):
            continue
        out += part if not out else (" " if out.endswith(":") else "; ") + part
    return out


def deploy_kind(info: BoardInfo) -> str:
    return "frozen" if info.frozen_agent else "mpy"


def check_folder(folder: Path) -> tuple[dict, list[str]]:
    """(what load_all found, problems); the folder alone, before any board is asked."""
    if not folder.is_dir():
        return {}, [f"no such device folder: {folder}"]
    loaded = files.load_all(str(folder) + "/")
    problems = [one_line(p) for p in loaded["problems"]]
    for name, key in ((files.BOARD_FILE, "board"), (files.CONFIG_FILE, "config"),
                      (files.SECRETS_FILE, "secrets")):
        if loaded[key] is None and not any(p.startswith(f"no usable {name}") or name in p
                                           for p in problems):
            problems.append(f"{name}: not usable")
    src = loaded.get("config_source")
    if src and not src.endswith("/" + files.CONFIG_FILE):
        problems.append(f"config.json is not usable, only {Path(src).name}: fix config.json")
    return loaded, problems


def check_against_board(board: dict, role: str, info: BoardInfo) -> list[str]:
    """Chip, then heap: does this folder belong on this board?"""
    out = []
    chip = board["chip"]
    if not info.virtual:
        if info.chip is None:
            out.append(f"the board is {info.machine!r}: not a chip this firmware knows "
                       f"({', '.join(sorted(CHIPS))})")
        elif info.chip != chip:
            out.append(f"board.json is for an {chip} ({board['name']}) but the board is an "
                       f"{info.chip} ({info.machine}): its pin map does not fit this chip; "
                       "copy the right map from boards/")
    out += heap_problems(board, role, info)
    return out


def heap_problems(board: dict, role: str, info: BoardInfo) -> list[str]:
    kind = deploy_kind(info)
    warning = chipfit.fit_warning(board, role, kind)
    if warning:
        return [warning]
    mem = board["memory"]
    need = chipfit.NEED_KB[(role, kind)]
    how = "frozen into the image" if kind == "frozen" else "as .mpy files on a stock image"
    if mem["psram"] and not info.virtual and info.free_kb < PSRAM_MIN_KB:
        return [f"board.json says PSRAM ({mem['gc_heap_kb']} KB heap) but the board reports "
                f"{info.free_kb} KB free: no PSRAM in use (a WROOM, not a WROVER? an image "
                "without SPIRAM?); set memory.psram false, and gc_heap_kb to what it has"]
    # A chip's heap starts small and grows once Wi-Fi and TLS are up (the ESP32 port's split
    # heap: board.json's gc_heap_kb is the grown figure). A virtual board's heap is fixed.
    grows = not info.virtual and not mem["psram"]
    if info.free_kb < need and not grows:
        return [f"the {role} role {how} needs about {need} KB of GC heap; the board reports "
                f"{info.free_kb} KB free: it would run out of memory"]
    return []
