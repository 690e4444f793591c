"""What the board is, read over the raw REPL before anything is written.

The probe runs on the board right after a soft reset (nothing of the agent running) and prints
one Python literal. A virtual board (host_tools/vboard) is the chip-like interpreter with the
simulated board frozen in: there `simclock` exists (its import may still fail on a stock image
with an empty flash, for want of the agent's modules it reads: that is not "no simclock").

Frozen or not: MicroPython finds frozen modules through the '.frozen' entry of sys.path, and a
package on flash ('' comes first on the ESP32) would shadow a frozen one of the same name. So
the probe imports `agent` with sys.path holding only '.frozen': it imports iff the image has the
agent frozen in, whatever is on the flash."""

import ast
from dataclasses import dataclass

from agent.chips import CHIPS

# mpy ABI: sys.implementation._mpy = version | sub-version << 8 | arch << 10
# (docs.micropython.org, reference/mpyfiles.html); arch only matters for native code.
ARCHES = ("none", "x86", "x64", "armv6", "armv6m", "armv7m", "armv7em", "armv7emsp",
          "armv7emdp", "xtensa", "xtensawin", "rv32imc", "rv64imc")
VIRTUAL = "virtual board"

PROBE = """\
import sys, gc
m = ''
try:
    import os
    m = os.uname().machine
except (ImportError, AttributeError):
    m = getattr(sys.implementation, '_machine', '')
had = list(sys.modules)
p = sys.path[:]
sys.path[:] = ['.frozen']
try:
    import agent
    fz = 1
except ImportError:
    fz = 0
sys.path[:] = p
try:
    import simclock
    m = 'VIRTUAL'
except ImportError as e:
    if 'simclock' not in str(e):
        m = 'VIRTUAL'
for k in list(sys.modules):
    if k not in had:
        del sys.modules[k]
gc.collect()
print(repr((tuple(sys.implementation.version[:3]), getattr(sys.implementation, '_mpy', 0),
            m, gc.mem_free(), fz)))
"""


@dataclass(frozen=True)
class BoardInfo:
    version: tuple[int, int, int]  # MicroPython's
    mpy: int  # sys.implementation._mpy, 0 if the board does not say
    machine: str  # os.uname().machine, or "VIRTUAL"
    free_heap: int  # bytes, after gc.collect() with nothing running
    frozen_agent: bool

    @property
    def virtual(self) -> bool:
        return self.machine == "VIRTUAL"

    @property
    def mpy_version(self) -> tuple[int, int]:
        return self.mpy & 0xFF, (self.mpy >> 8) & 3

    @property
    def arch(self) -> str:
        a = self.mpy >> 10
        return ARCHES[a] if a < len(ARCHES) else f"arch{a}"

    @property
    def chip(self) -> str | None:
        """The chip as agent.chips names it, None for a virtual board or one we do not know."""
        if self.virtual:
            return None
        return chip_of(self.machine)

    @property
    def free_kb(self) -> int:
        return self.free_heap // 1024

    def describe(self) -> str:
        v = ".".join(map(str, self.version))
        major, minor = self.mpy_version
        what = VIRTUAL if self.virtual else (self.machine or "unknown machine")
        agent = "agent frozen in the image" if self.frozen_agent else "stock image (no agent)"
        return (f"MicroPython {v}, mpy {major}.{minor} {self.arch}, {what}, "
                f"{self.free_kb} KB free heap, {agent}")


def chip_of(machine: str) -> str | None:
    """'Generic ESP32 module with ESP32S3' -> 'esp32s3'; None when not an ESP32 we know.
    The ESP32 port names its board, then ' with ' and the chip (MICROPY_HW_MCU_NAME)."""
    name = machine.rpartition(" with ")[2].strip().lower().replace("-", "")
    return name if name in CHIPS else None


def parse(output: bytes) -> BoardInfo:
    """The probe's printed line -> BoardInfo; ValueError if it is not what the probe prints."""
    try:
        version, mpy, machine, free, frozen = ast.literal_eval(output.decode().strip())
        return BoardInfo(tuple(version), int(mpy), str(machine), int(free), bool(frozen))
    except (ValueError, SyntaxError, TypeError, UnicodeDecodeError) as e:
        raise ValueError(f"unexpected probe answer {output[:80]!r}") from e
