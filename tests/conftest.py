import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The simulated board's modules (machine, network, simclock...) import as top-level modules,
# as they do under MicroPython. CPython's own `time` is built in, so the simulated time.py
# in that folder never shadows it here.
sys.path.insert(0, str(ROOT / "host_tools" / "simboard"))
sys.path.insert(0, str(ROOT / "tests" / "upy"))  # the cases shared with ring 2, and their helpers

import os  # noqa: E402

import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

# No per-example deadline: a 2-core CI machine running brokers beside us is slow at times,
# and speed is shown by `make bench`, not asserted. In CI the examples are derandomized so a
# run is reproducible; locally they stay random and keep exploring.
settings.register_profile("local", deadline=None)
settings.register_profile("ci", deadline=None, derandomize=True)
settings.load_profile("ci" if os.environ.get("CI") else "local")

from host_tools.broker import Broker  # noqa: E402


@pytest.fixture
def broker():
    """A Mosquitto of the test's own on a free loopback port, stopped afterwards."""
    b = Broker().start()
    try:
        yield b
    finally:
        b.close()


# ---- running on both cores (pytest-xdist; tests/rings.py is what `make test` runs) ----
#
# Rings 1 and 3 run with --dist loadfile: a work unit is a whole test file, so its module
# fixtures (a broker, a CA, a fleet of keys) are made once, on one worker. Ring 2 runs with
# --dist load: each tests/upy module is its own MicroPython process with its own scratch
# folder, a unit of its own. (Not --dist loadgroup: pytest-xdist 3.8 marks a group by
# rewriting item._nodeid, which pytest 9.2 no longer reads, so its groups are silently
# ignored.) With --no-loadscope-reorder the units go out in the order below, longest first,
# so the short ones fill the other core meanwhile. Nothing here changes what a test checks,
# and a run without xdist is the same tests in this order.
LONGEST_FIRST = (
    "tests/broker/test_inlet_day.py",  # a paced day: minutes of real time, about half a core
    "tests/broker/test_link_faults.py",
    "tests/broker/test_demo.py",  # two short streets (boards, in-process) at 720x
    "tests/broker/test_street_cmd.py",
    "tests/broker/test_cmd_latency.py",
    "tests/broker/test_deploy.py",
    "tests/broker/test_station_service.py",
    "tests/broker/test_fleet_backoff.py",
    "tests/broker/test_device_hardening.py",
    "tests/broker/test_light_ahead.py",
    "tests/broker/test_secure_agent.py",
    "tests/broker/test_security.py",
    "tests/test_micropython.py::test_under_micropython[test_streetlight_night]",
    "tests/test_micropython.py::test_under_micropython[test_boot]",
    "tests/test_chip.py::test_each_role_lives_a_day_in_its_heap_budget",
    "tests/test_chip.py::test_ring2_module_on_the_chip[test_streetlight_night]",
    "tests/core/test_station.py",
    "tests/host/test_vboard.py",
    "tests/core/test_streetlight.py",
    "tests/core/test_board.py",
    "tests/core/test_dimmer.py",
    "tests/core/test_fill.py",
)


def _rank(item):
    for i, prefix in enumerate(LONGEST_FIRST):
        if item.nodeid.startswith(prefix):
            return i
    return len(LONGEST_FIRST)


def pytest_collection_modifyitems(config, items):
    items.sort(key=_rank)  # stable: within a rank, the collection order
