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
