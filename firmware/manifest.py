# The agent frozen into a MicroPython image (a build file: make firmware passes it to the port's
# build as FROZEN_MANIFEST; it is never copied to a board). Frozen bytecode runs from flash, so
# the code costs the GC heap almost nothing: the way to fit a board without PSRAM.
include("$(PORT_DIR)/boards/manifest.py")  # the port's own frozen modules, umqtt.simple among them
package("agent")
