# agent.store under the MicroPython unix port: the shared power-cut cases (store_cases.py),
# each in the scratch folder the pytest bridge gives this module (UPY_TMP).
from store_cases import *  # noqa: F401,F403
