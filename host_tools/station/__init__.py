"""The reference vacuum station: pure decisions (coordinator), energy accounting (cost) and
the MQTT shell around them (service)."""
