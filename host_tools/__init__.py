"""Host-side tools (CPython): setup, checks, provisioning, deploy, fleet monitor, simulation."""
