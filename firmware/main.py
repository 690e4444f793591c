# Runs after boot.py (shell). The agent lives in the `agent` package; see agent/app.py.
# Ctrl-C on the serial console stops it and leaves the REPL to the technician.
try:
    import agent.app
except Exception as e:
    # The agent's own code does not load (a bad file after an update?). agent.app counts
    # crashes and restarts; without it a restart would only come back here: keep the
    # evidence and leave the REPL to the technician.
    import sys

    sys.print_exception(e)
    try:
        with open("crash.txt", "w") as f:
            sys.print_exception(e, f)
    except OSError:
        pass
    print("agent: its code does not load (crash.txt); the REPL is yours")
else:
    agent.app.main()
