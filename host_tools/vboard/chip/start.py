# The virtual board's first script (MicroPython): host_tools/vboard runs
#   micropython -X heapsize=N -i start.py
# in the board's flash folder. _vboard powers the simulated board up and runs boot.py and
# main.py in these globals, as the chip runs them in the REPL's; then -i leaves the REPL.
import _vboard

_vboard.boot(globals())
