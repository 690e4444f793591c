# Simulated `onewire` (frozen into the ESP32 firmware; the unix port has none): the 1-Wire
# bus on one GPIO, as far as ds18x20 and the firmware use it. The devices on the wire are
# the DS18B20s that simworld.ds18b20() put there. Bus traffic takes virtual time as on the
# chip: a reset ~1 ms, a byte ~0.56 ms (8 slots of 70 us), a ROM search ~13 ms per device.
import simclock
import simworld

RESET_US = 960
BYTE_US = 560
SEARCH_US = 64 * 3 * 70  # each ROM bit: two reads and a write


class OneWireError(Exception):
    pass


class OneWire:
    SEARCH_ROM = 0xF0
    MATCH_ROM = 0x55
    SKIP_ROM = 0xCC

    def __init__(self, pin):
        pin.init(pin.OPEN_DRAIN, pin.PULL_UP)  # as on the chip: refused on input-only pins
        self.pin = pin
        self.n = pin._g.n  # the simulated Pin's GPIO number

    def devices(self):
        """The simulated devices answering on this bus (simulation only)."""
        return simworld.onewire_devices(self.n)

    def reset(self, required=False):
        """True if a device answered the reset with a presence pulse; with required, no
        presence raises OneWireError."""
        simclock.advance_us(RESET_US)
        present = bool(self.devices())
        if required and not present:
            raise OneWireError
        return present

    def writebyte(self, value):
        simclock.advance_us(BYTE_US)

    def write(self, buf):
        simclock.advance_us(BYTE_US * len(buf))

    def select_rom(self, rom):
        simclock.advance_us(BYTE_US * 9)  # MATCH_ROM and the 8 ROM bytes

    def scan(self):
        """ROMs (8-byte bytearrays) of the devices on the bus; [] when none answers."""
        found = [bytearray(d.rom) for d in self.devices()]
        simclock.advance_us(RESET_US + SEARCH_US * (len(found) or 1))
        return found

    def crc8(self, data):
        return simworld._crc8(data)
