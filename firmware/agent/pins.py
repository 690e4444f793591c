# A board map read at run time (pure): which GPIO does a function, and is it active-low.
# Kept apart from agent.board (the validator) so the running agent can let the validator
# go after boot and keep only this.

# What each function does with its pin.
OUT = "output"
IN = "input"
IO = "bidirectional"
ANALOG = "analog"

FUNCTIONS = {
    "lamp_pwm": OUT,  # LED driver dimming input (PWM)
    "light_adc": ANALOG,  # ambient-light sensor (photodiode/LDR divider)
    "i2c_sda": IO,  # I2C light sensor / energy meter
    "i2c_scl": IO,
    "motion": IN,  # PIR / radar presence output
    "us_trig": OUT,  # ultrasonic ranger trigger
    "us_echo": IN,  # ultrasonic ranger echo
    "valve": OUT,  # discharge valve actuator
    "valve_pos": IN,  # valve closed limit switch
    "vacuum_ready": IN,  # vacuum-station ready / pressure switch
    "temp_onewire": IO,  # DS18B20 temperature
    "temp_adc": ANALOG,  # NTC thermistor divider
    "status_led": OUT,
}


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def pin_of(board, function):
    """GPIO number of `function` in a board map, or None when the map gives it no pin."""
    if function not in FUNCTIONS:
        raise ValueError("unknown function %r" % (function,))
    pins = board.get("pins") if isinstance(board, dict) else None
    if not isinstance(pins, dict):
        return None
    pin = pins.get(function)
    return pin if is_int(pin) else None


def is_active_low(board, function):
    """True when the map says `function` is active-low (drive 0 to switch it on)."""
    lows = board.get("active_low") if isinstance(board, dict) else None
    return isinstance(lows, (list, tuple)) and function in lows
