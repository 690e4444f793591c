# The virtual board's power-up (MicroPython; host_tools/vboard/board.py starts it through
# start.py): the simulated world around the chip as host_tools/simboard/boot_device.py sets
# it up, the ESP32's module path, and resets that end this interpreter so that the host side
# starts a new one, as a reset starts the chip's firmware again. Settings come in the
# environment (VBOARD_*), so sys.argv stays empty as on the chip.
import gc
import os  # the board's os (os.py beside this file): imported first, so every later one is it
import sys

import micropython

PWRON, HARD, WDT, DEEPSLEEP, SOFT = 1, 2, 3, 4, 5  # machine.*_RESET
BOOTED_MARK = "\x00vboard: booted\x00"  # the host passes typed input on as a REPL reads it
LUX = 0  # the steady ambient light a light sensor sees (boot_device.py's default)

_state = os.getenv("VBOARD_STATE") or "."


def reset(cause, sleep_ms=0):
    """The chip resets: tell the host why, then end this interpreter at once. SIGKILL from a
    shell: nothing the firmware catches can stop it, as nothing stops a chip's reset.
    Input typed for the code that ran and not read is lost, as the chip's UART buffer is; from
    a Ctrl-C on (sent as a signal, or a byte when the REPL had not yet started the code), what
    is typed is someone taking over the line: the host hands it to the next interpreter."""
    dropping, intr = cause != SOFT, 0
    while True:
        try:  # a Ctrl-C landing now must not stop the reset half-way: it is kept instead
            if dropping:
                intr = _drop_input()
                dropping = False
            with open(_state + "/reset", "w") as f:
                f.write("%d %d %d\n" % (cause, sleep_ms, intr))
            os.system("kill -9 $PPID")
            break
        except KeyboardInterrupt:
            dropping, intr = False, 1
    raise SystemExit  # only if the shell could not: the REPL then ends, a soft reboot


def _drop_input():
    """Read and drop what is waiting, up to a Ctrl-C: 1 if one came (it and what follows are
    kept for the next interpreter), else 0."""
    import select

    p = select.poll()
    p.register(sys.stdin, select.POLLIN)
    while p.poll(0):
        c = sys.stdin.buffer.read(1)
        if not c:
            break
        if c == b"\x03":
            return 1
    return 0


def _board_reset(cause):
    if cause == SOFT:  # machine.soft_reset() as on the ESP32: SystemExit ends the REPL's
        raise SystemExit  # command (or main.py), and the board soft-reboots
    reset(cause)


def _deepsleep(time_ms=None):
    reset(DEEPSLEEP, time_ms or 0)


def _json(name):
    import json

    try:
        with open(name) as f:
            obj = json.load(f)
    except (OSError, ValueError):
        return {}  # missing or bad: the firmware's own checks will say so
    return obj if isinstance(obj, dict) else {}


def _section(obj, key):
    v = obj.get(key)
    return v if isinstance(v, dict) else {}


def _world(cause, wake):
    import machine
    import network  # noqa: F401  (the radio: its link watcher registers with the world)
    import simchip
    import simclock
    import simworld

    simclock.board_reset = _board_reset  # machine.reset(), machine.soft_reset(), the watchdog
    machine.deepsleep = _deepsleep
    board = _json("board.json")
    if board.get("chip") in simchip.CHIPS:
        simclock.set_chip(board["chip"])
    simclock.set_reset_cause(cause)
    if wake:
        simclock.wake_reason = machine.TIMER_WAKE
    simworld.keep_history(False)  # a board that runs for days: no ever-growing pin logs
    pin = _section(board, "pins").get("light_adc")
    if isinstance(pin, int):
        simworld.set_adc_mv(pin, LUX * 10)  # 10 mV per lux: the firmware's default calibration
    wifi = _section(_json("secrets.json"), "wifi")
    if isinstance(wifi.get("ssid"), str):
        simworld.wifi_ap(wifi["ssid"], str(wifi.get("password", "")), rssi=-61, connect_ms=300)
    simclock.set_pace(1.0)  # virtual time follows real time: a person is at the REPL


def _power_up():
    firmware = os.getenv("VBOARD_FIRMWARE")  # a stock image has no agent.chips for simchip
    extra = [p for p in (os.getenv("VBOARD_PATH") or "").split(":") if p]
    sys.path[:] = ([firmware] if firmware else []) + [".frozen"] + extra
    _world(int(os.getenv("VBOARD_CAUSE") or PWRON), os.getenv("VBOARD_WAKE") == "1")
    for name in list(sys.modules):  # the flash's agent (or the image's) is imported afresh
        if name == "agent" or name.startswith("agent."):
            del sys.modules[name]
    # As on the ESP32: the flash's root (the current folder), frozen modules, /lib on flash.
    sys.path[:] = ["", ".frozen"] + extra + [os.getcwd() + "/lib"]
    sys.argv[:] = []


def _run(name, g):
    try:
        os.stat(name)
    except OSError:
        return
    try:
        execfile(name, g)  # noqa: F821  (a MicroPython built-in)
    except SystemExit:
        reset(SOFT)  # the chip soft-resets when boot.py or main.py exits
    except BaseException as e:  # Ctrl-C included: printed, then the REPL, as the chip does
        sys.print_exception(e)


def boot(g):
    micropython.kbd_intr(-1)  # the chip's own start-up cannot be interrupted
    del g["_vboard"]
    if os.getenv("VBOARD_MEASURE"):
        _power_up()
        gc.collect()
        print("VBOARD_HEAP", gc.mem_alloc(), gc.mem_free())
        return
    try:
        _power_up()
        gc.collect()
        micropython.kbd_intr(3)
        _run("boot.py", g)
        if os.getenv("VBOARD_RAW") != "1":  # a soft reset in the raw REPL runs boot.py only
            _run("main.py", g)
    finally:  # the host passes typed input on once it reads this, however boot ended
        _booted()


def _booted():
    done = False
    while not done:
        try:  # a Ctrl-C landing as main.py ends may surface here: the mark goes out once
            print(BOOTED_MARK, end="")
            done = True
        except KeyboardInterrupt:
            pass
