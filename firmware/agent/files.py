# The device's own files: board.json, config.json, secrets.json (and the safe-mode flag).
# Loading them touches only the filesystem, so the host tools use this module as it is.
from agent import board as boards
from agent import config, store

BOARD_FILE = "board.json"
CONFIG_FILE = "config.json"
SECRETS_FILE = "secrets.json"
SAFE_MODE_FILE = "safemode"  # present: main.py leaves the REPL to the technician


def _load(root, name, validate):
    """(value or None, source file or None, problems)."""
    try:
        return store.load_json(root + name, validate)
    except (store.StoreError, OSError) as e:
        return None, None, [str(e)]


def load_all(root=""):
    """Board, config and secrets as the device would load them, with every problem found."""
    board, _, p_board = _load(root, BOARD_FILE, boards.load_board)
    cfg, cfg_src, p_cfg = _load(root, CONFIG_FILE, config.load)
    secrets, _, p_sec = _load(root, SECRETS_FILE, config.load_secrets)
    problems = p_board + p_cfg + p_sec
    if board is not None and cfg is not None:
        problems += fit_problems(board, cfg)
    if cfg is not None and secrets is not None and cfg["mqtt"]["signed_cmds"] \
            and not secrets["cmd"]["key"]:
        problems.append("config.json: mqtt.signed_cmds is on but secrets.json has no cmd.key:"
                        " every command would be refused")
    return {"board": board, "config": cfg, "config_source": cfg_src, "secrets": secrets,
            "problems": problems}


def fit_problems(board, cfg):
    """Does this config belong on this board?"""
    out = []
    want = cfg["device"]["board"]
    if want and want != board["name"]:
        out.append("config.json: device.board is %r but board.json is %r" % (want, board["name"]))
    role = cfg["device"]["role"]
    if role not in board["roles"]:
        out.append("config.json: device.role %r is not a role of board %r (it has: %s)"
                   % (role, board["name"], ", ".join(board["roles"])))
    return out




def safe_mode(root=""):
    try:
        open(root + SAFE_MODE_FILE).close()
        return True
    except OSError:
        return False
