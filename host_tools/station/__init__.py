"""The reference vacuum station: pure decisions (coordinator), energy accounting (cost), the
MQTT shell around them (service), and a policy simulation on synthetic fills (simulate)."""
