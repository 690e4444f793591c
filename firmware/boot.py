# First file the chip runs after a reset (shell). Keep it tiny: a fault here locks out the REPL.
try:
    import esp  # ESP32 only

    esp.osdebug(None)  # keep ESP-IDF log lines off the technician's serial console
except ImportError:
    pass
