# The protocol core (topics, envelopes, commands, signatures, outbox, backoff) under the
# MicroPython unix port: the shared cases (protocol_cases.py), so the HMAC is proven on the
# real interpreter.
from protocol_cases import *  # noqa: F401,F403
