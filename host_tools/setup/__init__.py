"""Setup steps run by the Makefile: fetch umqtt, find or install Mosquitto, firmware checks."""
