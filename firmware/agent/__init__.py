# The agent package (pure): each module's first line says whether it is pure or shell.
