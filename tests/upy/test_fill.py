# agent.fill under the MicroPython unix port: the shared cases (fill_cases.py), then the
# allocation checks, which need MicroPython's gc.mem_alloc().
import sys

from fill_cases import *  # noqa: F401,F403
from fill_cases import HOUR, MIN, NEAR_WRAP, ramp, tick
from heap import allocated

from agent.fill import Forecast

# ---- allocation ----

def test_add_allocates_only_its_two_floats():
    f = Forecast(bucket_ms=24 * HOUR)  # no bucket closes in this stretch
    vals = [0.3 + 0.001 * i for i in range(60)]
    # Times made beforehand: near the wrap, t + MIN is a long int on a 32-bit chip, and that
    # would be the harness allocating, not add().
    times = [tick(NEAR_WRAP, i * MIN) for i in range(60)]

    def one(i):
        f.add(times[i], vals[i])

    grew = allocated(one, 50)
    # Two floats per call (level * 1e5 and the level returned): one GC block each, 32 bytes
    # on the 64-bit host build, 16 on the 32-bit chip. No list, no tuple, no long int.
    block = 32 if sys.maxsize > 1 << 32 else 16
    assert grew is None or grew <= 50 * 2 * block, "add() allocated %d bytes in 50 calls" % grew


def test_refit_allocates_little():
    f = Forecast()
    ramp(f, 0.1, 4, sigma=0.003)
    grew = allocated(lambda i: f._fit(), 10)
    assert grew is None or grew <= 10 * 4096, "a refit allocated %d bytes" % (grew // 10)
