"""CPU time from Linux's /proc: what the demo, the bench and the scale runs measure with."""

import os
from pathlib import Path


def cpu_s(pid: int | str = "self") -> float | None:
    """User + system CPU seconds of a process (/proc/PID/stat), None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def host_busy_s() -> tuple[float, float] | None:
    """(busy CPU seconds of the whole host, total CPU seconds) since boot, from /proc/stat."""
    try:
        f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    hz = os.sysconf("SC_CLK_TCK")
    idle = f[3] + (f[4] if len(f) > 4 else 0)
    return (sum(f) - idle) / hz, sum(f) / hz
