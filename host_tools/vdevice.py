"""A virtual device: a device folder booted on the simulated board under the MicroPython unix
port, talking to a real broker. Used by the ring-3 tests (and the simulated street).

Its sockets are recorded (host_tools/simboard/simnet.py): the SUMMARY reports the longest
timeout the firmware gave a socket, calls that could wait forever, blocking connects and DNS
lookups. `wait_problems` turns those into what a test asserts instead of wall-clock speed."""

import json
import shutil
import signal
import subprocess
from pathlib import Path

from host_tools.upy import ROOT, SIMBOARD, micropython_env, micropython_exe

BOOT = SIMBOARD / "boot_device.py"
SOCKREC = SIMBOARD / "sockrec"  # socket.py, select.py: recording stand-ins, MicroPython only


def make_device(folder: Path, config: dict, secrets: dict, board: str = "esp32-devkitc",
                extra_files: dict | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "boards" / f"{board}.json", folder / "board.json")
    # The simulated board's wall clock is the host's: no SNTP (nor DNS lookups) unless a test
    # asks for it with a clock section of its own.
    config = {"clock": {"servers": ""}, **config}
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "secrets.json").write_text(json.dumps(secrets))
    for name, data in (extra_files or {}).items():
        (folder / name).write_bytes(data)
    return folder


def start(folder: Path, run_s: float, heap: str = "2M", path: tuple = (), **opts
          ) -> subprocess.Popen:
    """Boot the device (opts: see boot_device.py). `path`: folders put first on MICROPYPATH,
    e.g. a modified copy of firmware/ to run instead of the checkout's."""
    args = [micropython_exe(), "-X", f"heapsize={heap}", str(BOOT), str(folder), str(run_s)]
    args += [f"{k}={v}" for k, v in opts.items()]
    return subprocess.Popen(args, env=micropython_env(extra=[SOCKREC, *path]),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def stop(proc: subprocess.Popen, timeout_s: float = 60) -> tuple[dict, str]:
    """End the device's run now (Ctrl-C, as at the REPL) rather than at its run_s: a test
    gives run_s as a generous ceiling and stops the device when it has seen what it needs,
    so a slow host costs time, not a failure. Then as finish()."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    return finish(proc, timeout_s)


def finish(proc: subprocess.Popen, timeout_s: float = 60) -> tuple[dict, str]:
    """Wait for the device to end its run; (summary, console output)."""
    out, _ = proc.communicate(timeout=timeout_s)
    for line in reversed(out.splitlines()):
        if line.startswith("SUMMARY "):
            return json.loads(line[len("SUMMARY "):]), out
    raise AssertionError(f"device ended without a summary (exit {proc.returncode}):\n{out}")


def wait_problems(summary: dict, op_timeout_ms: int) -> list[str]:
    """What the firmware did with its sockets that could stall its loop on the chip, from the
    run's recorded figures (empty: nothing). Every figure is one the firmware controls: the
    timeouts it set and the calls it made, not how fast this host ran them."""
    if not summary.get("sock_recorder"):
        return ["the socket recorder was not in use (the firmware did not `import socket`?)"]
    out = []
    if summary["sock_unbounded_calls"]:
        out.append(f"{summary['sock_unbounded_calls']} socket calls could wait forever (no "
                   f"timeout set): {', '.join(summary['sock_unbounded_what'])}")
    if summary["sock_blocking_connects"]:
        out.append(f"{summary['sock_blocking_connects']} of {summary['sock_connects']} "
                   "connects were made on a blocking socket")
    for key in ("sock_timeout_max_ms", "poll_wait_max_ms"):
        if summary[key] > op_timeout_ms:
            out.append(f"{key} {summary[key]} > mqtt.op_timeout_ms {op_timeout_ms}")
    return out
