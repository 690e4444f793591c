"""`make firmware BOARD=...`: a MicroPython image for a board with the agent frozen in.

    python -m host_tools.image esp32-devkitc        (a board map name, or MicroPython's own
    python -m host_tools.image ESP32_GENERIC_S3      board name)

Runs MicroPython's own esp32 build (ports/esp32, `make BOARD=... FROZEN_MANIFEST=...`) with
firmware/manifest.py where ESP-IDF is installed (`idf.py` on PATH); otherwise it says so and
prints the container command that does the same. Frozen bytecode stays in flash, which is what
lets an agent fit a board without PSRAM (docs/chip.md).
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from host_tools.setup.chipport import REPO, TAG
from host_tools.upy import FIRMWARE, ROOT

# Our board maps -> MicroPython's board definitions of the same chip.
MICROPYTHON_BOARDS = {
    "esp32-devkitc": "ESP32_GENERIC",
    "esp32-c3-devkitm-1": "ESP32_GENERIC_C3",
    "esp32-s3-devkitc-1": "ESP32_GENERIC_S3",
}
MANIFEST = FIRMWARE / "manifest.py"
OUT = ROOT / "out"


class ImageError(Exception):
    pass


def micropython_board(board: str) -> str:
    if board in MICROPYTHON_BOARDS:
        return MICROPYTHON_BOARDS[board]
    if board in MICROPYTHON_BOARDS.values():
        return board
    known = ", ".join(f"{k} ({v})" for k, v in MICROPYTHON_BOARDS.items())
    raise ImageError(f"unknown board {board!r}: known boards are {known}")


def source_dir() -> Path:
    """A full MicroPython tree at TAG: $MICROPY_DIR, else .cache/micropython-esp32 (cloned)."""
    given = os.environ.get("MICROPY_DIR")
    if given:
        path = Path(given)
        if not (path / "ports" / "esp32").is_dir():
            raise ImageError(f"MICROPY_DIR={given} has no ports/esp32: not a MicroPython tree")
        return path
    path = ROOT / ".cache" / "micropython-esp32"
    if not (path / "ports" / "esp32").is_dir():
        print(f"cloning MicroPython {TAG} into {path.relative_to(ROOT)}", flush=True)
        if subprocess.run(["git", "clone", "-q", "--depth", "1", "-b", TAG, REPO,
                           str(path)]).returncode != 0:
            raise ImageError(f"could not clone {REPO} at {TAG}; clone it yourself and set "
                             "MICROPY_DIR to it")
    return path


def container_command(mp_board: str) -> str:
    return (f"git clone --depth 1 -b {TAG} {REPO} micropython && "
            f"docker run --rm -v \"$PWD\":/project -w /project espressif/idf:<the ESP-IDF "
            f"version micropython/ports/esp32/README.md names> sh -c 'make -C micropython/"
            f"ports/esp32 submodules && make -C micropython/ports/esp32 BOARD={mp_board} "
            f"FROZEN_MANIFEST=/project/firmware/manifest.py'")


def build(board: str) -> Path:
    mp_board = micropython_board(board)
    if shutil.which("idf.py") is None:
        raise ImageError(
            "ESP-IDF is not installed here (no idf.py on PATH; source its export.sh first).\n"
            f"The same build in Espressif's container, from this checkout:\n  "
            f"{container_command(mp_board)}\n"
            f"The image is then micropython/ports/esp32/build-{mp_board}/firmware.bin.")
    port = source_dir() / "ports" / "esp32"
    for step in (["submodules"], [f"BOARD={mp_board}", f"FROZEN_MANIFEST={MANIFEST}"]):
        if subprocess.run(["make", "-C", str(port), *step]).returncode != 0:
            raise ImageError(f"the esp32 build failed (make {' '.join(step)} in {port})")
    OUT.mkdir(exist_ok=True)
    image = OUT / f"firmware-{mp_board}.bin"
    shutil.copy2(port / f"build-{mp_board}" / "firmware.bin", image)
    return image


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: make firmware BOARD=<board map name or MicroPython board name>")
        return 2
    try:
        image = build(argv[0])
    except ImageError as e:
        print(f"make firmware: {e}")
        return 2
    print(f"image: {image.relative_to(ROOT)} (flash it with esptool; docs/chip.md)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
