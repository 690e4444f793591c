"""Run the benchmarks and print what they measured.

    python -m host_tools.bench

streetlight-day / inlet-day: a streetlight agent, then an inlet agent over a filling bin (its
role, link and comms loaded), lives 24 virtual hours on the simulated board under the 64-bit
MicroPython unix port: wall time and loop passes (speed only: the heap is the chip's business).

simboard: how fast the simulated board runs a virtual night, and how closely a paced sleep
follows real time (the tests check only what it asks of the host clock).

chip: the heap each role needs on the chip-like interpreter (32-bit, float32), frozen and as
.mpy files, against its budget and goal; bytes per quiet loop pass; .mpy bytes (bench/chip.py).

link-faults: a streetlight agent against a broker killed and restarted, a refusing port and
a tarpit (host_tools.bench.faults, the faults of tests/broker/test_link_faults.py), a few
seconds each: the worst loop pass in real time, and what the firmware did with its sockets
as the simulated board recorded it. The tests assert only the recorded figures (no call
without a timeout, none longer than mqtt.op_timeout_ms, connects that do not block): the
real-time figure depends on how busy this host is, so it is shown here and not asserted.
"""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from host_tools import chipfit
from host_tools.bench import chip
from host_tools.setup.checks import compile_tree
from host_tools.upy import MPLIB, ROOT, SIMBOARD, micropython_env, micropython_exe

HOST_HEAP = "1M"  # room enough: this run measures speed


def precompiled_env(tmp: Path) -> dict:
    """Firmware and simulated board as .mpy, as a device runs them: compiling source on the
    fly would cost heap the chip never spends."""
    for src, name in ((ROOT / "firmware", "fw"), (SIMBOARD, "sim"), (MPLIB, "lib")):
        errors = compile_tree(src, tmp / name)
        if errors:
            raise SystemExit("\n".join(errors))
    env = micropython_env()
    env["MICROPYPATH"] = f"{tmp / 'fw'}:{tmp / 'sim'}:{tmp / 'lib'}"
    return env


def agent_day(role: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        dev = Path(tmp) / "device"
        dev.mkdir()
        chipfit.device_folder(dev, role)  # as a city installs it: a place, a key
        out = subprocess.run(
            [micropython_exe(), "-X", f"heapsize={HOST_HEAP}",
             str(Path(__file__).parent / "day_upy.py"), str(dev), "24", role],
            env=precompiled_env(Path(tmp)), capture_output=True, text=True, timeout=600,
        )
    if out.returncode != 0:
        raise SystemExit(f"{role}-day failed:\n{out.stdout}{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def link_burst() -> dict:
    """A device makes an event every 10 ms for 6 s against a local Mosquitto: how many get
    through with QoS 1, and the worst loop pass meanwhile."""
    from host_tools import vdevice
    from host_tools.broker import Broker

    with tempfile.TemporaryDirectory() as tmp, Broker() as broker:
        cfg = {"device": {"id": "bench-2", "role": "streetlight"},
               "mqtt": {"host": "127.0.0.1", "port": broker.port, "queue_len": 512,
                        "signed_cmds": False}}
        dev = vdevice.make_device(Path(tmp) / "dev", cfg, {"wifi": {"ssid": "street"}})
        summary, _ = vdevice.finish(vdevice.start(dev, run_s=6, events_ms=10))
    return summary


FAULT_OP_TIMEOUT_MS = 100


def _fault_device(tmp: Path, port: int) -> Path:
    from host_tools import vdevice

    cfg = {"device": {"id": "bench-3", "role": "streetlight"},
           "mqtt": {"host": "127.0.0.1", "port": port, "keepalive_s": 10, "backoff_max_s": 2,
                    "connect_timeout_s": 3, "op_timeout_ms": FAULT_OP_TIMEOUT_MS,
                    "signed_cmds": False}}
    return vdevice.make_device(tmp / "dev", cfg, {"wifi": {"ssid": "street", "password": "pw"}})


def _run_against(port: int, run_s: float, steps: list) -> dict:
    """Boot a device for run_s against `port`; steps: (seconds after its start, fn), in order.
    Returns the device's summary."""
    import time

    from host_tools import vdevice

    with tempfile.TemporaryDirectory() as tmp:
        proc = vdevice.start(_fault_device(Path(tmp), port), run_s=run_s, events_ms=250)
        t0 = time.monotonic()
        try:
            for at_s, fn in steps:
                time.sleep(max(0.0, at_s - (time.monotonic() - t0)))
                fn()
            summary, _ = vdevice.finish(proc)
        finally:
            if proc.poll() is None:
                proc.kill()
    return summary


def link_faults() -> dict:
    """Each fault for a few seconds: {name: the device's summary}."""
    from host_tools.bench.faults import Tarpit, persistent_broker
    from host_tools.broker import Broker, free_port

    out = {}
    brokers = []  # whatever was started, closed at the end
    with tempfile.TemporaryDirectory() as keep:  # the sessions the killed broker saves
        try:
            brokers.append(persistent_broker(Path(keep)))
            port = brokers[0].port
            # killed (SIGTERM: to the device the same dead socket as SIGKILL) at 1.5 s,
            # back on the same port 2 s later
            out["broker-kill"] = _run_against(port, 6, [
                (1.5, brokers[0].stop),
                (3.5, lambda: brokers.append(persistent_broker(Path(keep), port=port)))])

            port = free_port()  # nothing listens there: every connect is refused, for 2 s
            out["refusing"] = _run_against(port, 5, [
                (2, lambda: brokers.append(Broker(port=port).start()))])

            port = free_port()
            pit = Tarpit(port)  # accepts, then never answers: CONNACK never comes

            def end_pit():
                pit.close()
                brokers.append(Broker(port=port).start())

            try:  # longer than connect_timeout_s (3 s): the device gives up on it at least once
                out["tarpit"] = _run_against(port, 7, [(4.5, end_pit)])
            finally:
                pit.close()
        finally:
            for b in brokers:
                b.close()
    return out


def _socket_figures(s: dict) -> str:
    return (f"sockets {s['sock_opened']}, longest timeout {s['sock_timeout_max_ms']} ms "
            f"(op_timeout_ms {FAULT_OP_TIMEOUT_MS}), calls without a timeout "
            f"{s['sock_unbounded_calls']}, blocking connects {s['sock_blocking_connects']} of "
            f"{s['sock_connects']}, longest poll {s['poll_wait_max_ms']} ms, "
            f"DNS lookups {s['dns_lookups']}")


def simboard_speed() -> dict:
    """The simulated board's own speed (the tests assert only what it asks of the host clock):
    86,400 one-second virtual sleeps under MicroPython, and the real time a paced (1.0) 300 ms
    sleep takes."""
    import time

    night = ("import time, simclock\nfor _ in range(86400):\n    time.sleep_ms(1000)\n"
             "print(simclock.now_us())\n")
    paced = ("import time, utime, simclock\nsimclock.set_pace(1.0)\nt0 = utime.ticks_us()\n"
             "time.sleep_ms(300)\nprint(utime.ticks_diff(utime.ticks_us(), t0))\n")
    t0 = time.perf_counter()
    subprocess.run([micropython_exe(), "-c", night], env=micropython_env(), check=True,
                   capture_output=True, timeout=120)
    night_s = time.perf_counter() - t0
    out = subprocess.run([micropython_exe(), "-c", paced], env=micropython_env(), check=True,
                         capture_output=True, text=True, timeout=60)
    return {"night_s": night_s, "paced_300ms_s": int(out.stdout.split()[-1]) / 1e6}


def main() -> int:
    sb = simboard_speed()
    print(f"simboard: a virtual night of 1 s sleeps in {sb['night_s']:.2f} s under MicroPython; "
          f"a paced 300 ms sleep took {sb['paced_300ms_s'] * 1000:.0f} ms of real time")
    b = link_burst()
    print(f"link-burst: {b['events_made']} events made in 6 s, {b['queued']} still queued, "
          f"{b['dropped']} dropped; worst loop pass {b['loop_us_max'] / 1000:.1f} ms")
    print(f"link-burst sockets: {_socket_figures(b)}")
    for name, s in link_faults().items():
        print(f"link-faults {name}: worst loop pass {s['loop_us_max'] / 1000:.1f} ms real time; "
              f"sessions opened {s['connects']}, lost {s['reconnects']}; {s['queued']} events "
              f"queued at the end; last error {s['last_error'] or '-'!r}")
        print(f"link-faults {name} sockets: {_socket_figures(s)}")
    for role in ("streetlight", "inlet"):
        r = agent_day(role)
        print(f"{role}-day: 24 virtual hours in {r['wall_s']:.2f} s wall "
              f"({r['virtual_s_per_wall_s']}x real time), {r['ticks']} loop passes")
    for line in chip.lines(chip.run()):
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
