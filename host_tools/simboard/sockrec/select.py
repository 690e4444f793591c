# Stands in for the built-in `select` when this folder is first on MICROPYPATH (MicroPython
# only; see simnet.py): the real module's names, with poll() recording its waits.
import simnet
from uselect import *  # noqa: F403

poll = simnet.poll
