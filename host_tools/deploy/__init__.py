"""`street deploy PORT DEVICE_DIR`: the firmware and one device's files onto a board, over
mpremote's serial transport.

    link     the serial connection (mpremote's SerialTransport) and its one-line errors
    probe    what the board is: MicroPython version, .mpy ABI, chip, free heap, frozen agent
    abi      which mpy-cross makes bytecode that board loads
    verify   the device folder against that board, before anything is written
    plan     what should be on the flash, and what differs from what is there
    copy     writing it safely (temp names, renames in one burst, a safe-mode flag meanwhile)
    watch    the device's `online` status and first state on the broker
    cli      `street deploy` itself
"""
