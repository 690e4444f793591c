# Stands in for the built-in `socket` when this folder is first on MICROPYPATH (MicroPython
# only; see simnet.py): the real module's names, with socket and getaddrinfo recording.
import simnet
from usocket import *  # noqa: F403

socket = simnet.Socket
getaddrinfo = simnet.getaddrinfo
simnet.active = True
