"""Putting a plan on the board so that no moment leaves it broken.

1. Each changed file is written under a staged name (NAME.new; the agent's JSON files as
   NAME.tmp, the name the agent's own loader already knows). A cut here leaves the old set
   whole, and it still runs.
2. The safe-mode flag (agent.files.SAFE_MODE_FILE) goes on, then every staged file is renamed
   into place in one burst, config.json last; the agent's JSON files as agent.store saves them
   (the old file kept as NAME.bak). A cut inside the burst leaves a board that boots to the REPL
   and says "safe mode": the next deploy finishes the job.
3. Stale agent files go (an old .py would even shadow its new .mpy), every file is checked by
   its hash on the board, and only then does the flag come off (unless it was there before)."""

from agent import files
from host_tools.deploy.link import DeployError, Link
from host_tools.deploy.plan import AGENT_DIR, Item, Plan, read_board

# Rename into place; the agent's JSON files keep the old one as NAME.bak (agent.store), code
# files replace theirs (removed first where the filesystem refuses to rename onto a file).
SWAP = """\
import os
def E(p):
    try:
        os.stat(p)
        return True
    except OSError:
        return False
def R(p):
    try:
        os.remove(p)
    except OSError:
        pass
for s, d, j in S:
    if E(d):
        if j:
            R(d + '.bak')
            os.rename(d, d + '.bak')
        else:
            try:
                os.rename(s, d)
                continue
            except OSError:
                R(d)
    os.rename(s, d)
del S, E, R
"""


def copy_files(link: Link, plan: Plan, progress) -> None:
    if plan.make_agent_dir:
        link.exec(f"import os\nos.mkdir({AGENT_DIR!r})")
    for item in plan.changed:
        progress.start_file(item.path, len(item.data))
        link.write_file(item.staged, item.data, progress.add_bytes)
        progress.end_file()


def swap_in(link: Link, plan: Plan, was_safe: bool) -> None:
    if plan.changed and not was_safe:
        link.write_file(files.SAFE_MODE_FILE, b"a deploy is under way\n")
    moves = [(i.staged, i.path, i.is_device_json) for i in plan.changed]
    if moves:
        link.exec(f"S = {moves!r}\n" + SWAP)


def remove_stale(link: Link, plan: Plan) -> None:
    if plan.stale:
        link.exec(f"import os\nfor p in {plan.stale!r}:\n    os.remove(p)")
    if plan.remove_agent_dir:
        link.exec(f"import os\nos.rmdir({AGENT_DIR!r})")


def verify(link: Link, items: list[Item]) -> None:
    """Every planned file's hash on the board, read back after the swap."""
    board = read_board(link, [i.path for i in items])
    bad = [i.path for i in items if board.hashes.get(i.path) != i.sha256]
    if bad:
        raise DeployError(f"verify failed: {', '.join(bad)} on the board differ from what was "
                          "sent; the board is left in safe mode: deploy again")


def finish(link: Link, plan: Plan, was_safe: bool) -> None:
    if plan.changed and not was_safe:
        link.exec(f"import os\nos.remove({files.SAFE_MODE_FILE!r})")
