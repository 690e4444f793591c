"""`street deploy` through real mpremote onto the virtual board (host_tools.vboard), against a
Mosquitto of the test's own: every file lands as meant, the agent comes online, a second deploy
copies only what changed, and a role that cannot fit the board is refused before any write."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from host_tools import chipfit
from host_tools.deploy.plan import firmware_items
from host_tools.vboard import VBoard

ROOT = Path(__file__).resolve().parents[2]
STREET = [sys.executable, "-m", "host_tools.cli"]


def _street(*args, timeout=180):
    proc = subprocess.run([*STREET, *args], capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT)
    return proc.returncode, proc.stdout + proc.stderr


def _device(d: Path, broker_port: int, psram: bool) -> Path:
    shutil.copytree(ROOT / "examples" / "streetlight", d)
    board = json.loads((d / "board.json").read_text())
    if psram:  # the WROVER variant of the same board (its notes say so)
        board["memory"] = {"psram": True, "gc_heap_kb": 2000}
    (d / "board.json").write_text(json.dumps(board))
    cfg = json.loads((d / "config.json").read_text())
    cfg["mqtt"]["port"] = broker_port
    (d / "config.json").write_text(json.dumps(cfg))
    return d


def _flash_state(flash: Path) -> dict[str, tuple[str, int]]:
    return {p.relative_to(flash).as_posix(): (hashlib.sha256(p.read_bytes()).hexdigest(),
                                              p.stat().st_mtime_ns)
            for p in sorted(flash.rglob("*")) if p.is_file()}


def test_deploy_watch_then_only_the_changed_file(tmp_path, broker):
    dev = _device(tmp_path / "dev", broker.port, psram=True)
    flash = tmp_path / "flash"
    flash.mkdir()
    with VBoard(flash, image="stock", heap_kb=2000) as vb:
        rc, out = _street("deploy", vb.port, str(dev), "--watch", "--watch-timeout", "60")
        assert rc == 0, out
        assert "virtual board" in out and "online: oudegracht-01 is up" in out
        meant = {i.path: i.sha256 for i in firmware_items(None)}  # boot.py, main.py
        for name in ("board.json", "secrets.json", "config.json"):
            meant[name] = hashlib.sha256((dev / name).read_bytes()).hexdigest()
        on_flash = _flash_state(flash)
        for path, sha in meant.items():
            assert on_flash[path][0] == sha, path
        mpy = [p for p in on_flash if p.startswith("agent/")]
        assert mpy and all(p.endswith(".mpy") for p in mpy)
        first = f"deployed: {len(on_flash)} copied, 0 unchanged, 0 removed"
        assert first in out, out
        assert "safemode" not in on_flash

        cfg = json.loads((dev / "config.json").read_text())
        cfg["loop"]["heartbeat_s"] = 120
        (dev / "config.json").write_text(json.dumps(cfg))
        before = _flash_state(flash)
        rc, out = _street("deploy", vb.port, str(dev))
        assert rc == 0, out
        assert f"deployed: 1 copied, {len(meant) + len(mpy) - 1} unchanged, 0 removed" in out
        after = _flash_state(flash)
        changed = {p for p in after if before.get(p) != after[p]}
        # config.json, and the agent's own last-good copy of the old one (agent.store)
        assert changed == {"config.json", "config.json.bak"}, changed
        assert after["config.json"][0] == hashlib.sha256((dev / "config.json").read_bytes()
                                                         ).hexdigest()


def test_mpy_streetlight_on_a_112_kb_board_is_refused_before_any_write(tmp_path, broker):
    dev = _device(tmp_path / "dev", broker.port, psram=False)  # esp32-devkitc: 112 KB
    flash = tmp_path / "flash"
    flash.mkdir()
    (flash / "keep.txt").write_text("mine")
    before = _flash_state(flash)
    with VBoard(flash, image="stock", heap_kb=112) as vb:
        rc, out = _street("deploy", vb.port, str(dev))
    assert rc == 2, out
    errors = [line for line in out.splitlines() if line.startswith("error: ")]
    need = chipfit.NEED_KB[("streetlight", "mpy")]
    assert len(errors) == 1 and f"needs about {need} KB" in errors[0], out
    assert "nothing was written" in out
    assert _flash_state(flash) == before
    assert os.listdir(flash) == ["keep.txt"]
