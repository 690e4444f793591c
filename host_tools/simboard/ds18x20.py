# Simulated `ds18x20` (frozen into the ESP32 firmware): DS18B20 thermometers on a simulated
# onewire.OneWire bus. Same calls and errors as the chip's module: a bus with no device
# raises onewire.OneWireError, a ROM that does not answer reads all ones, which fails the
# scratchpad CRC (Exception "CRC error").
import simclock
from onewire import BYTE_US

_CONVERT = 0x44
_RD_SCRATCH = 0xBE
_FAMILIES = (0x10, 0x22, 0x28)


class DS18X20:
    def __init__(self, onewire):
        self.ow = onewire
        self.buf = bytearray(9)

    def scan(self):
        return [rom for rom in self.ow.scan() if rom[0] in _FAMILIES]

    def convert_temp(self):
        """Start a conversion on every device of the bus (SKIP_ROM); returns at once."""
        self.ow.reset(True)
        self.ow.writebyte(self.ow.SKIP_ROM)
        self.ow.writebyte(_CONVERT)
        for d in self.ow.devices():
            d.convert()

    def read_temp(self, rom):
        """Degrees C in the device's scratchpad: its last finished conversion."""
        self.ow.reset(True)
        self.ow.select_rom(rom)
        self.ow.writebyte(_RD_SCRATCH)
        simclock.advance_us(9 * BYTE_US)
        rom = bytes(rom)
        for d in self.ow.devices():
            if d.rom == rom:
                return d.read()
        raise Exception("CRC error")
