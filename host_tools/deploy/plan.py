"""What should be on the board's flash, and how it differs from what is there.

Firmware: boot.py and main.py as source (the port runs them by name), the agent package as .mpy
compiled for the board's ABI; with the agent frozen into the image, no agent files at all (a
package on flash would shadow the frozen one). Then the device's own files: board.json,
secrets.json, the CA file when TLS is on, and config.json last of all."""

import ast
import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path

from agent import files
from host_tools.deploy import abi
from host_tools.setup.checks import FIRMWARE, firmware_files

AGENT_DIR = "agent"


@dataclass(frozen=True)
class Item:
    path: str  # on the board, relative to its working folder ('/' on a chip)
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def is_device_json(self) -> bool:
        """A file the agent itself saves (agent.store: NAME.tmp, NAME.bak)."""
        return self.path in (files.BOARD_FILE, files.CONFIG_FILE, files.SECRETS_FILE)

    @property
    def staged(self) -> str:
        """Where it is written first; renamed into place once every file is on the board.
        The agent's own JSON files use the agent's own temp name (agent.store)."""
        return self.path + (".tmp" if self.is_device_json else ".new")


def firmware_items(exe: Path | None) -> list[Item]:
    """boot.py, main.py, and (exe given: compile with it) agent/*.mpy."""
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for src in firmware_files(FIRMWARE):
            rel = src.relative_to(FIRMWARE)
            if rel.parts[0] != AGENT_DIR:
                out.append(Item(rel.as_posix(), src.read_bytes()))
            elif exe is not None:
                target = Path(tmp) / rel.with_suffix(".mpy")
                abi.compile_file(exe, src, target, rel.as_posix())
                out.append(Item(rel.with_suffix(".mpy").as_posix(), target.read_bytes()))
    return sorted(out, key=lambda i: (i.path.startswith(AGENT_DIR + "/") is False, i.path))


def device_items(folder: Path, cfg: dict) -> list[Item]:
    names = [files.BOARD_FILE, files.SECRETS_FILE]
    if cfg["mqtt"]["tls"]:
        names.append(cfg["mqtt"]["ca_file"])
    names.append(files.CONFIG_FILE)  # last: the file that says what the device is
    return [Item(n, (folder / n).read_bytes()) for n in names]


# Run on the board: sha256 of each path (None if absent), the agent folder's entries, the
# working folder's entries. Fixed buffers: the flash may hold files bigger than the heap.
HASH_PROBE = """\
import hashlib, binascii, os
b = bytearray(512)
mv = memoryview(b)
def H(p):
    try:
        f = open(p, 'rb')
    except OSError:
        return None
    h = hashlib.sha256()
    while True:
        n = f.readinto(b)
        if not n:
            break
        h.update(mv[:n])
    f.close()
    return binascii.hexlify(h.digest()).decode()
def L(d):
    try:
        return [e[0] for e in os.ilistdir(d)]
    except OSError:
        return None
print(repr(({p: H(p) for p in P}, L('%s'), L('.'))))
""" % AGENT_DIR


@dataclass(frozen=True)
class OnBoard:
    hashes: dict[str, str | None]
    agent_entries: list[str] | None  # None: no agent folder
    root_entries: list[str]


def read_board(link, paths: list[str]) -> OnBoard:
    out = link.exec(f"P = {paths!r}\n" + HASH_PROBE)
    hashes, agent, root = ast.literal_eval(out.decode().strip())
    link.exec("del P, H, L, b, mv")
    return OnBoard(hashes, agent, root or [])


@dataclass(frozen=True)
class Plan:
    items: list[Item]
    changed: list[Item]
    stale: list[str]  # files on the board to remove
    make_agent_dir: bool
    remove_agent_dir: bool

    @property
    def unchanged(self) -> int:
        return len(self.items) - len(self.changed)

    @property
    def bytes_to_copy(self) -> int:
        return sum(len(i.data) for i in self.changed)


def make_plan(items: list[Item], board: OnBoard) -> Plan:
    changed = [i for i in items if board.hashes.get(i.path) != i.sha256]
    wanted = {i.path for i in items}
    wants_agent = any(p.startswith(AGENT_DIR + "/") for p in wanted)
    stale = [f"{AGENT_DIR}/{e}" for e in (board.agent_entries or [])
             if f"{AGENT_DIR}/{e}" not in wanted]
    # Code staged by a deploy that was cut short (the agent's own .tmp files it handles itself).
    stale += [e for e in board.root_entries
              if e.endswith(".new") and e[:-4] in wanted and not e[:-4].endswith(".json")]
    return Plan(items, changed, stale,
                make_agent_dir=wants_agent and board.agent_entries is None,
                remove_agent_dir=not wants_agent and board.agent_entries is not None)
