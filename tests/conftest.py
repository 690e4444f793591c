import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The simulated board's modules (machine, network, simclock...) import as top-level modules,
# as they do under MicroPython. CPython's own `time` is built in, so the simulated time.py
# in that folder never shadows it here.
sys.path.insert(0, str(ROOT / "host_tools" / "simboard"))

import pytest  # noqa: E402

from host_tools.broker import Broker  # noqa: E402


@pytest.fixture
def broker():
    """A Mosquitto of the test's own on a free loopback port, stopped afterwards."""
    b = Broker().start()
    try:
        yield b
    finally:
        b.close()
