# Home Assistant MQTT discovery (pure, optional, off by default: mqtt.ha_discovery).
# A campus or a small town can then see poles and bins in a tool people already run, without
# a bridge: each entity is one retained config document under
#   <ha_prefix>/<component>/<device_id>/<object_id>/config
# pointing at the device's own state / diag / status topics. Read-only: commands stay on the
# signed command channel.
import json

HA_PREFIX_DEFAULT = "homeassistant"
# (object_id, component, name, source channel, JSON key, unit, device_class, diagnostic)
BASE_ENTITIES = (
    ("health", "sensor", "Health", "state", "health", None, None, False),
    ("rssi", "sensor", "Wi-Fi signal", "diag", "rssi", "dBm", "signal_strength", True),
    ("uptime", "sensor", "Uptime", "diag", "uptime_s", "s", "duration", True),
    ("heap_free", "sensor", "Free heap", "diag", "heap_free", "B", "data_size", True),
)


def config_topic(ha_prefix, component, device_id, object_id):
    return "%s/%s/%s/%s/config" % (ha_prefix, component, device_id, object_id)


def documents(ha_prefix, topics, device_id, role, name, extra=()):
    """[(topic, retained payload bytes)] for the device's entities; `extra` holds more
    entity tuples (role measurements such as a lamp's level) in the BASE_ENTITIES form."""
    device = {"identifiers": [device_id], "name": name or device_id,
              "model": "street furniture agent (%s)" % role, "manufacturer": "open source"}
    avail = topics.status.decode()
    out = [(config_topic(ha_prefix, "binary_sensor", device_id, "online"), _dump({
        "name": "Online", "unique_id": device_id + "_online", "state_topic": avail,
        "payload_on": "online", "payload_off": "offline", "device_class": "connectivity",
        "device": device}))]
    for obj, comp, label, chan, key, unit, dclass, diag in tuple(BASE_ENTITIES) + tuple(extra):
        doc = {"name": label, "unique_id": "%s_%s" % (device_id, obj),
               "state_topic": getattr(topics, chan).decode(),
               "value_template": "{{ value_json.%s }}" % key,
               "availability_topic": avail, "device": device}
        if unit:
            doc["unit_of_measurement"] = unit
        if dclass:
            doc["device_class"] = dclass
        if diag:
            doc["entity_category"] = "diagnostic"
        out.append((config_topic(ha_prefix, comp, device_id, obj), _dump(doc)))
    return out


def acl_topics(ha_prefix, device_id):
    """What the broker must let a device write for discovery (Mosquitto ACL pattern)."""
    return ["%s/+/%s/+/config" % (ha_prefix, device_id)]


def _dump(doc):
    return json.dumps(doc, separators=(",", ":")).encode()
