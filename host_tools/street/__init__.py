"""The simulated street behind `make demo` and `make bench`: scenarios (data files in
scenarios/), the world model that drives the devices' pins (world), the device folders
(devices), and the accounting of what the devices did (account). See docs/street.md."""
