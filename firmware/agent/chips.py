# Pin rules of the ESP32 chips the agents run on (pure: data that agent.board reads).
# Each chip maps a table name to a tuple of GPIO numbers (or, for "caution", a tuple of
# (pins, reason) pairs that give a warning). MicroPython-compatible: plain dicts and tuples.
#
# gpio        GPIOs the chip has (bonded out on common packages).
# input_only  GPIOs without an output driver.
# flash       GPIOs wired to the in-package / module SPI flash (and quad PSRAM): never use.
# adc1, adc2  GPIOs with an ADC channel. ADC2 cannot be read while Wi-Fi is on.
# strapping   GPIOs sampled at reset to pick the boot mode: a warning, wiring may hold them.
# usb         GPIOs of the built-in USB Serial/JTAG controller: a warning.
# console     UART0 TX/RX, the technician's serial REPL: never a function pin.
# caution     pins that are fine on some modules and taken on others: a warning with reason.

CHIPS = {
    "esp32": {
        # Datasheet "Pin Overview" / TRM "IO_MUX and GPIO Matrix": no GPIO20 (PICO-V3 only),
        # 24, 28-31; 37 and 38 exist on the die but are not routed on WROOM/WROVER modules.
        "gpio": tuple(range(20)) + (21, 22, 23, 25, 26, 27) + tuple(range(32, 40)),
        # Datasheet "GPIO & RTC GPIO": GPIO34-39 are input-only (no pull-ups either).
        "input_only": (34, 35, 36, 37, 38, 39),
        # Datasheet "Pin Description", SPI0/1 (SD_*/SPI* pins): module flash on GPIO6-11.
        "flash": (6, 7, 8, 9, 10, 11),
        # Datasheet "Analog-to-Digital Converter (ADC)": ADC1_CH0-7 = GPIO36,37,38,39,32,33,34,35.
        "adc1": (32, 33, 34, 35, 36, 37, 38, 39),
        # Same section: ADC2_CH0-9 = GPIO4,0,2,15,13,12,14,27,25,26.
        "adc2": (0, 2, 4, 12, 13, 14, 15, 25, 26, 27),
        # Datasheet "Strapping Pins": GPIO0, GPIO2, MTDI (GPIO12), MTDO (GPIO15), GPIO5.
        "strapping": (0, 2, 5, 12, 15),
        # No built-in USB controller on the ESP32.
        "usb": (),
        # Datasheet "Pin Description": U0TXD = GPIO1, U0RXD = GPIO3.
        "console": (1, 3),
        # WROVER datasheet "Pin Definitions": GPIO16/17 drive the PSRAM (and the in-package
        # flash of ESP32-PICO-D4); free on WROOM-32.
        "caution": (((16, 17), "is wired to PSRAM on WROVER modules and ESP32-PICO-D4"),),
    },
    "esp32c3": {
        # Datasheet "Pin Definitions": GPIO0-21.
        "gpio": tuple(range(22)),
        # Every ESP32-C3 GPIO has an output driver.
        "input_only": (),
        # Datasheet "Pin Definitions", SPI0/1: SPIHD/SPIWP/SPICS0/SPICLK/SPID/SPIQ = GPIO12-17.
        "flash": (12, 13, 14, 15, 16, 17),
        # Datasheet "ADC": ADC1_CH0-4 = GPIO0-4.
        "adc1": (0, 1, 2, 3, 4),
        # Same section: ADC2_CH0 = GPIO5.
        "adc2": (5,),
        # Datasheet "Strapping Pins": GPIO2, GPIO8, GPIO9.
        "strapping": (2, 8, 9),
        # Datasheet "Pin Definitions": USB_D- = GPIO18, USB_D+ = GPIO19.
        "usb": (18, 19),
        # Datasheet "Pin Definitions": U0RXD = GPIO20, U0TXD = GPIO21.
        "console": (20, 21),
        # Datasheet "Pin Definitions": GPIO11 is VDD_SPI unless an eFuse turns it into a GPIO.
        "caution": (((11,), "is VDD_SPI (flash supply) unless eFuse VDD_SPI_AS_GPIO is burnt"),),
    },
    "esp32s3": {
        # Datasheet "Pin Overview": GPIO0-21 and GPIO26-48.
        "gpio": tuple(range(22)) + tuple(range(26, 49)),
        # Every ESP32-S3 GPIO has an output driver.
        "input_only": (),
        # Datasheet "Pin Definitions", SPI0/1: SPICS1/SPIHD/SPIWP/SPICS0/SPICLK/SPIQ/SPID
        # = GPIO26-32, used by quad flash and PSRAM on every module.
        "flash": (26, 27, 28, 29, 30, 31, 32),
        # Datasheet "ADC": ADC1_CH0-9 = GPIO1-10.
        "adc1": (1, 2, 3, 4, 5, 6, 7, 8, 9, 10),
        # Same section: ADC2_CH0-9 = GPIO11-20.
        "adc2": (11, 12, 13, 14, 15, 16, 17, 18, 19, 20),
        # Datasheet "Strapping Pins": GPIO0, GPIO3, GPIO45, GPIO46.
        "strapping": (0, 3, 45, 46),
        # Datasheet "Pin Definitions": USB_D- = GPIO19, USB_D+ = GPIO20.
        "usb": (19, 20),
        # Datasheet "Pin Definitions": U0TXD = GPIO43, U0RXD = GPIO44.
        "console": (43, 44),
        # WROOM-1/-2 datasheets "Pin Definitions": SPIIO4-7 and SPIDQS (GPIO33-37) carry octal
        # PSRAM/flash on R8/R16 and WROOM-2 modules.
        "caution": (
            ((33, 34, 35, 36, 37), "is wired to octal PSRAM/flash on octal modules (R8, WROOM-2)"),
        ),
    },
}
