"""Chip figures: what each role needs on the chip-like interpreter (32-bit, float32), frozen into
the image and as .mpy files, against the budgets of host_tools/chipfit.py and the goals.

For each role and deployment: the smallest GC heap it lives a simulated day in (bisection to
4 KB), the heap in use once started, the bytes a loop pass allocates over a quiet stretch
(ten minutes with the collector off, after two hours: the simulated board's own pins and clock
allocate too; the firmware's own quiet ticks allocate nothing, tests/upy/test_quiet_ticks.py and
test_inlet_quiet.py), and the .mpy bytes of the modules the role loads.
"""

import tempfile
from pathlib import Path

from host_tools import chipfit
from host_tools.setup.checks import compile_tree
from host_tools.upy import FIRMWARE


def mpy_sizes() -> dict[str, int]:
    """{module name: .mpy bytes} of the firmware as compiled for a stock image."""
    with tempfile.TemporaryDirectory() as tmp:
        errors = compile_tree(FIRMWARE, Path(tmp))
        if errors:
            raise SystemExit("\n".join(errors))
        return {".".join(p.relative_to(tmp).with_suffix("").parts): p.stat().st_size
                for p in Path(tmp).rglob("*.mpy")}


def role_figures(role: str, deploy: str, sizes: dict[str, int]) -> dict:
    quiet = chipfit.run_day(role, deploy, 8192, hours=2, quiet_min=10)  # room: no collection
    return {
        "min_heap_kb": chipfit.min_heap_kb(role, deploy),
        "budget_kb": chipfit.NEED_KB[(role, deploy)],
        "goal_kb": chipfit.GOAL_KB[deploy],
        "started_bytes": quiet["heap_agent_bytes"],
        "quiet_bytes_per_pass": round(quiet["quiet_bytes"] / max(1, quiet["quiet_ticks"])),
        "mpy_bytes": sum(sizes.get(m, 0) for m in quiet["modules"]),
    }


def run() -> dict:
    sizes = mpy_sizes()
    return {f"{role}/{deploy}": role_figures(role, deploy, sizes)
            for role in ("streetlight", "inlet") for deploy in chipfit.DEPLOYS}


def lines(figures: dict) -> list[str]:
    out = []
    for key, f in figures.items():
        out.append(f"chip {key}: lives a day in {f['min_heap_kb']} KB of GC heap (budget "
                   f"{f['budget_kb']} KB, goal {f['goal_kb']} KB); {f['started_bytes']} B in use "
                   f"once started; {f['quiet_bytes_per_pass']} B allocated per loop pass over "
                   f"a quiet stretch, the simulated board's pins and clock included; "
                   f"its modules are {f['mpy_bytes']} B of .mpy")
    return out


if __name__ == "__main__":
    print("\n".join(lines(run())))
