"""Host-side tools (CPython): setup, checks, provisioning (new-device, broker), deploy (over
mpremote, to a board or the virtual board), fleet monitor and commands, station, simulation."""

import sys

try:
    import micropython  # noqa: F401  (built in under MicroPython)
except ImportError:
    # The firmware's modules write their integer constants as micropython.const(...), a
    # compile-time hint on the chip. CPython has no such module: the host tools (and ring-1
    # tests, whose conftest imports host_tools) import the firmware through this package, so
    # an identity const is in place before the first `agent` module loads.
    import types

    _stand_in = types.ModuleType("micropython")
    _stand_in.const = lambda x: x  # type: ignore[attr-defined]
    sys.modules["micropython"] = _stand_in
