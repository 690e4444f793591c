# What the simulated chips can do. The pin facts (GPIOs, input-only, flash, strapping, ADC1/2)
# come from the firmware's own table, agent.chips, so the simulation and the board-map
# validator can never disagree; this module adds only what a simulation needs on top:
#
# no_pull     GPIOs without internal pull resistors (a PULL_UP/PULL_DOWN there does nothing)
# i2c         hardware I2C id -> (scl, sda) defaults when I2C(id) is made without pins
# pwm_channels / pwm_timers   LEDC channels and timers (one timer per distinct frequency)
# cpu_freqs   accepted machine.freq() values in Hz
from agent.chips import CHIPS as _PIN_FACTS

_EXTRA = {
    "esp32": {
        "no_pull": (34, 35, 36, 37, 38, 39),
        "i2c": {0: (18, 19), 1: (25, 26)},
        "pwm_channels": 16,
        "pwm_timers": 8,
        "cpu_freqs": (20_000_000, 40_000_000, 80_000_000, 160_000_000, 240_000_000),
    },
    "esp32c3": {
        "no_pull": (),
        "i2c": {0: (9, 8)},
        "pwm_channels": 6,
        "pwm_timers": 4,
        "cpu_freqs": (20_000_000, 40_000_000, 80_000_000, 160_000_000),
    },
    "esp32s3": {
        "no_pull": (),
        "i2c": {0: (9, 8), 1: (18, 17)},
        "pwm_channels": 8,
        "pwm_timers": 4,
        "cpu_freqs": (20_000_000, 40_000_000, 80_000_000, 160_000_000, 240_000_000),
    },
}

CHIPS = {}
for _name, _facts in _PIN_FACTS.items():
    CHIPS[_name] = dict(_facts)
    CHIPS[_name].update(_EXTRA[_name])

DEFAULT_CHIP = "esp32"
