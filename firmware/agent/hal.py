# Hardware every role shares (shell): watchdog, status LED, resets, heap, the valve's safe state.
# Role-specific sensors and outputs get their own small shell modules beside this one.
import gc

import machine
from micropython import const

from agent.pins import is_active_low, pin_of

KEEPER_TIMER = const(1)  # the inlet's valve backstop has timer 0; an ESP32-C3 has only two

_CAUSES = {}
for _name in ("PWRON_RESET", "HARD_RESET", "WDT_RESET", "DEEPSLEEP_RESET", "SOFT_RESET"):
    if hasattr(machine, _name):
        _CAUSES[getattr(machine, _name)] = _name[:-6].lower()


class Hal:
    def __init__(self, board):
        self.board = board
        self.wdt = None
        # First of all: a discharge valve closed, whatever the config says or whether the
        # inlet role starts at all (degraded, safe mode): a floating pin must not open it.
        n = pin_of(board, "valve") if board else None
        if n is not None:
            closed = 1 if is_active_low(board, "valve") else 0
            machine.Pin(n, machine.Pin.OUT, value=closed)
        self.led = None
        n = pin_of(board, "status_led") if board else None
        if n is not None:
            self.led_low = is_active_low(board, "status_led")
            self.led = machine.Pin(n, machine.Pin.OUT, value=1 if self.led_low else 0)

    def set_led(self, on):
        if self.led is not None:
            self.led.value((not on) if self.led_low else on)

    def start_watchdog(self, timeout_ms):
        # Once started, the ESP32's watchdog cannot be stopped: only a healthy loop feeds it.
        if timeout_ms > 0:
            self.wdt = machine.WDT(timeout=timeout_ms)

    def feed(self):
        if self.wdt is not None:
            self.wdt.feed()


def keep_fed(wdt, timeout_ms):
    """The loop has stopped (Ctrl-C) and the REPL is the technician's: a hardware timer feeds
    the watchdog `wdt` from now on, or the board would reset under them. The timer."""
    t = machine.Timer(KEEPER_TIMER)
    t.init(mode=machine.Timer.PERIODIC, period=timeout_ms // 4,
           callback=lambda _t: wdt.feed())
    return t


def reset_cause():
    return _CAUSES.get(machine.reset_cause(), "unknown")


def unique_id_hex():
    return "".join("%02x" % b for b in machine.unique_id())


def heap():
    """(free bytes, used bytes) of the GC heap."""
    return gc.mem_free(), gc.mem_alloc()


BLOCK_PROBE_MAX = const(65536)  # enough to tell whether a TLS record buffer still fits


def largest_free_block(free):
    """The largest single allocation that would succeed now, up to BLOCK_PROBE_MAX
    (MicroPython has no call for it): a binary search with throw-away buffers. Called once
    per heartbeat, not per tick."""
    lo, hi = 0, min(free, BLOCK_PROBE_MAX)
    while hi - lo > 64:
        mid = (lo + hi) // 2
        try:
            bytearray(mid)
            lo = mid
        except MemoryError:
            hi = mid
    return lo


def restart():
    machine.reset()
