"""The operator's side of the fleet: signed commands and the live fleet monitor.

    street cmd VERB TARGET [ARGS]      build a command from the firmware's own schema, sign it
                                       with each device's key and next counter, show the acks
    street cmd --watch                 the live fleet table (read only)
    street monitor                     the live table plus a command line

Pure parts (ring-1 tested): build (commands against agent.commands / agent.config), cmdline
(what an operator types), fleetview (what the retained topics say), table (the screen),
counters (never a counter twice). Thin parts: session (paho), dispatch, monitor, cli.

For a program that wants the monitor on its own broker (the demo):
    from host_tools.fleet import monitor
    monitor.main(["--host", "127.0.0.1", "--port", "1883", "--keys", "devices/", ...])
"""
