# Runs after boot.py (shell). The agent lives in the `agent` package; see agent/app.py.
# Ctrl-C on the serial console stops it and leaves the REPL to the technician.
import agent.app

agent.app.main()
