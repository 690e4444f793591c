# Time units and special floats the test cases share (a plain module: both rings import it).
from agent.sched import TICKS_PERIOD as WRAP  # noqa: F401  (ticks_ms wraps at 2**30)

S = 1000  # in ms
MIN = 60 * S
HOUR = 60 * MIN
NAN = float("nan")
INF = float("inf")
