"""Run the benchmarks and print what they measured.

    python -m host_tools.bench

skeleton-day: the base agent (no role yet) lives 24 virtual hours on the simulated board under
the MicroPython unix port with an ESP32-sized heap (112 KB): wall time, loop passes, and the
heap the agent's code and objects take.
"""

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from host_tools.setup.checks import compile_tree
from host_tools.upy import ROOT, SIMBOARD, micropython_env, micropython_exe

ESP32_HEAP = "112K"  # GC heap of an ESP32 without PSRAM (MicroPython PR #13219)


def device_folder(d: Path) -> None:
    shutil.copy(ROOT / "boards" / "esp32-devkitc.json", d / "board.json")
    (d / "config.json").write_text(json.dumps(
        {"device": {"id": "bench-1", "role": "streetlight"}, "mqtt": {"host": "127.0.0.1"}}))
    (d / "secrets.json").write_text(json.dumps({"wifi": {"ssid": "street"}}))


def precompiled_env(tmp: Path) -> dict:
    """Firmware and simulated board as .mpy, as a device runs them: compiling source on the
    fly would cost heap the chip never spends."""
    for src, name in ((ROOT / "firmware", "fw"), (SIMBOARD, "sim")):
        errors = compile_tree(src, tmp / name)
        if errors:
            raise SystemExit("\n".join(errors))
    env = micropython_env()
    env["MICROPYPATH"] = f"{tmp / 'fw'}:{tmp / 'sim'}"
    return env


def skeleton_day() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        dev = Path(tmp) / "device"
        dev.mkdir()
        device_folder(dev)
        out = subprocess.run(
            [micropython_exe(), "-X", f"heapsize={ESP32_HEAP}",
             str(Path(__file__).parent / "day_upy.py"), str(dev), "24"],
            env=precompiled_env(Path(tmp)), capture_output=True, text=True, timeout=600,
        )
    if out.returncode != 0:
        raise SystemExit(f"skeleton-day failed:\n{out.stdout}{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    r = skeleton_day()
    print(f"skeleton-day (heap {ESP32_HEAP}): 24 virtual hours in {r['wall_s']:.2f} s wall "
          f"({r['virtual_s_per_wall_s']}x), {r['ticks']} loop passes, "
          f"agent code {r['heap_code_bytes']} B + objects -> {r['heap_agent_bytes']} B of heap")
    return 0


if __name__ == "__main__":
    sys.exit(main())
