"""The broker side of security: device credentials, Mosquitto's password and ACL files, a
private CA and server certificate, and the config that ties them together.

    init_broker_dir(out_dir, devices, hosts, ...)   the `street broker init` folder
    start_secure_broker(devices)                     the same, served by a test Mosquitto
"""

from .build import InitReport, init_broker_dir
from .conf import ListenerOptions, render_conf
from .fleet import Device, FleetError, check_fleet, load_fleet_file, parse_device_arg
from .local import SecureBroker, start_secure_broker

__all__ = ["Device", "FleetError", "InitReport", "ListenerOptions", "SecureBroker",
           "check_fleet", "init_broker_dir", "load_fleet_file", "parse_device_arg",
           "render_conf", "start_secure_broker"]
