# The one config schema, shared by the device and the host tools (pure: no I/O).
#
# A config is JSON: {"device": {...}, "mqtt": {...}, "loop": {...}, "light": {...}, ...}.
# Each field has a kind, a default (REQUIRED if it has none), a range and the roles that use
# it. `check` fills defaults and returns every problem at once, each naming its field, so a
# technician fixes a file in one go instead of one error per reboot.
from micropython import const

from agent.civil import minutes

REQUIRED = object()  # marks a field with no default
ROLES = ("streetlight", "inlet")
RESERVED_IDS = ("group",)  # a topic segment of the group topics (agent.topics)

# kinds: "int", "num" (int or float), "bool", "str", "id" (safe in an MQTT topic and a file
# name), a tuple of allowed strings, or "hex" (a key).
# field: (kind, default, lo, hi, roles)   lo/hi bound numbers, or string lengths; roles is
# None (every role) or a tuple of roles. A spec is read by these positions, never a bare
# number (host tools unpack the whole tuple).
KIND = const(0)
DEFAULT = const(1)
LO = const(2)
HI = const(3)
FOR_ROLES = const(4)
_ALL = None
CONFIG = {
    "device": {
        "id": ("id", REQUIRED, 1, 32, _ALL),
        "role": (ROLES, REQUIRED, None, None, _ALL),
        "site": ("id", "main", 1, 32, _ALL),
        "name": ("str", "", 0, 64, _ALL),
        # If set, must match the board map's name: catches a config copied to the wrong pole.
        "board": ("id", "", 0, 32, _ALL),
    },
    "mqtt": {
        "host": ("str", REQUIRED, 1, 253, _ALL),
        "port": ("int", 1883, 1, 65535, _ALL),
        "prefix": ("id", "city", 1, 32, _ALL),
        "keepalive_s": ("int", 60, 10, 3600, _ALL),
        "tls": ("bool", False, None, None, _ALL),
        # The broker's CA certificate on the device's flash (DER or PEM), checked with TLS.
        "ca_file": ("str", "ca.der", 1, 64, _ALL),
        # Light-ahead neighbourhood of a pole, pipe branch of an inlet.
        "group": ("id", "", 0, 32, _ALL),
        # Every socket read/write waits at most this long: the loop's worst network stall.
        "op_timeout_ms": ("int", 100, 20, 2000, _ALL),
        # TCP connect + TLS + CONNACK must finish in this time (polled, never blocking).
        "connect_timeout_s": ("int", 10, 1, 120, _ALL),
        "backoff_max_s": ("int", 120, 1, 3600, _ALL),
        # Events kept while the broker is unreachable; the oldest go first when full.
        "queue_len": ("int", 32, 1, 512, _ALL),
        # Refuse commands without a valid HMAC-SHA256 signature (key in secrets.json).
        # On unless a lab turns it off: anyone who may publish a device's cmd topic could
        # otherwise reboot it or change its config.
        "signed_cmds": ("bool", True, None, None, _ALL),
        # Publish Home Assistant MQTT discovery documents (off by default).
        "ha_discovery": ("bool", False, None, None, _ALL),
        "ha_prefix": ("id", "homeassistant", 1, 32, _ALL),
    },
    "wifi": {
        # Give up an association attempt after this long, then retry with backoff.
        "connect_timeout_s": ("int", 20, 1, 300, _ALL),
    },
    "loop": {
        # The loop's heartbeat: console line, collection, and the check for a diag to send.
        "heartbeat_s": ("int", 300, 10, 86400, _ALL),
        # One telemetry summary (the latest reading, counters since boot) per this period.
        "telemetry_s": ("int", 3600, 10, 86400, _ALL),
        # diag goes out when a counter or the link error changed (checked each heartbeat),
        # else once per this period.
        "diag_s": ("int", 21600, 60, 604800, _ALL),
        # A number in the retained state must stay past its deadband this long before the
        # state is sent again (a motion boost is not a change of state); other fields at once.
        "settle_s": ("int", 60, 0, 3600, _ALL),
        # Hardware watchdog; 0 turns it off (bench use only).
        "wdt_ms": ("int", 8000, 0, 60000, _ALL),
    },
    # SNTP time sync (agent.timesync, docs/clock.md).
    "clock": {
        # "host" or "host:port" (port 123 by default), comma-separated, asked in turn. An IP
        # address needs no DNS lookup (which can block inside lwIP). "": no sync (a lab).
        "servers": ("str", "pool.ntp.org", 0, 255, _ALL),
        "sync_h": ("int", 6, 1, 72, _ALL),  # resync period once synced
        "timeout_ms": ("int", 2000, 100, 10000, _ALL),  # waiting for an answer (polled)
        "retry_max_s": ("int", 600, 1, 3600, _ALL),  # retries back off up to this
        # A set clock moves by more than this only when a second answer agrees.
        "jump_s": ("int", 1000, 1, 86400, _ALL),
    },
    # Crash loop: after `limit` crashes in a row, each within window_s of boot, the device
    # starts in safe mode (lamp at light.failure_level_pct, valve closed, link reporting)
    # until a technician clears it; stable_s of uptime without a crash clears the count.
    # Plain numbers, the same as agent.crashloop's LIMIT, WINDOW_S, STABLE_S (a test checks):
    # importing it here would load its code with the schema at every boot.
    "crash": {
        "limit": ("int", 3, 0, 20, _ALL),  # 0: never by itself
        "window_s": ("int", 600, 10, 86400, _ALL),
        "stable_s": ("int", 3600, 60, 86400, _ALL),
    },
    "light": {
        # Dusk/dawn thresholds in the spirit of ANSI C136.10: on near 16 lx, off higher.
        "on_lux": ("num", 16, 0, 1000, ("streetlight",)),
        "off_lux": ("num", 27, 0, 2000, ("streetlight",)),
        "min_level_pct": ("num", 10, 1, 100, ("streetlight",)),
        "failure_level_pct": ("num", 100, 1, 100, ("streetlight",)),
        # IEEE 1789 low-risk flicker guidance: at or above 3 kHz.
        "pwm_hz": ("int", 5000, 3000, 40000, ("streetlight",)),
        "lat": ("num", None, -90, 90, ("streetlight",)),
        "lon": ("num", None, -180, 180, ("streetlight",)),
        # A change of light must last this long before the lamp switches: headlights and
        # lightning do not.
        "switch_delay_s": ("int", 60, 0, 900, ("streetlight",)),
        # Analog light sensor calibration: lux = (mV - adc_offset_mv) * adc_lux_per_mv.
        "adc_offset_mv": ("num", 0, 0, 3300, ("streetlight",)),
        "adc_lux_per_mv": ("num", 0.1, 0.0001, 100, ("streetlight",)),
        # Astronomical clock: offsets to sunset/sunrise, and the window around them inside
        # which the photocell may switch (outside it only below dark_lux).
        "sunset_offset_min": ("int", 0, -120, 120, ("streetlight",)),
        "sunrise_offset_min": ("int", 0, -120, 120, ("streetlight",)),
        "astro_window_min": ("int", 90, 10, 720, ("streetlight",)),
        "dark_lux": ("num", 2, 0, 100, ("streetlight",)),
        # Local time for the night profile: standard offset from UTC and the DST rule.
        "tz_offset_min": ("int", 60, -720, 840, ("streetlight",)),
        "dst": (("eu", "us", "none"), "eu", None, None, ("streetlight",)),
        # Base level by local time of night: [["HH:MM", percent], ...], each step holding
        # until the next (wrapping over midnight). The default keeps the minimum all night:
        # people get the class level from their own pole's sensor and, ahead of them, from
        # light-ahead (docs/lighting.md has the figures behind these defaults).
        "profile": ("steps", [["00:00", 10]], 0, 100, ("streetlight",)),
        # Motion boost: ramp up, hold, fade back to the profile level (never off). The boost
        # is the level that meets the street's lighting class, not 100 %: class lux / the
        # lamp's lux per % at the road (P4, 5 lx, over a lamp giving 8 lx at 100 %: 62.5).
        "boost_pct": ("num", 65, 1, 100, ("streetlight",)),
        "hold_s": ("int", 20, 1, 3600, ("streetlight",)),
        "ramp_ms": ("int", 500, 0, 10000, ("streetlight",)),
        "fade_s": ("int", 5, 0, 600, ("streetlight",)),
        # Late at night boost and hold may differ (a city that lowers the class late).
        "late_from": ("hhmm", "23:00", None, None, ("streetlight",)),
        "late_to": ("hhmm", "05:00", None, None, ("streetlight",)),
        "late_boost_pct": ("num", 65, 1, 100, ("streetlight",)),
        "late_hold_s": ("int", 20, 1, 3600, ("streetlight",)),
        # Light-ahead: this pole's place along the street, and how far away a neighbour may
        # be and still count (only the nearest one each side, learnt from what is heard).
        "position_m": ("num", 0, -100000, 100000, ("streetlight",)),
        "ahead_reach_m": ("num", 90, 0, 1000, ("streetlight",)),
        # A neighbour's motion holds the full boost here this long at most (a slow walker,
        # 0.75 m/s, crossing 30 m and a zone), ended early once this pole's own sensor
        # takes over.
        "ahead_hold_s": ("int", 45, 1, 3600, ("streetlight",)),
        # Base while light-ahead cannot work (no broker link, or no mqtt.group): nobody
        # warns this pole of a person its own sensor misses, so it stays at this level.
        # Unset: the boost level in force (the class, never dark for anyone).
        "unlinked_pct": ("num", None, 1, 100, ("streetlight",)),
        "motion_debounce_ms": ("int", 200, 0, 5000, ("streetlight",)),
        # Output: DALI-style logarithmic curve or linear; inverted for drivers that need it.
        "curve": (("log", "linear"), "log", None, None, ("streetlight",)),
        "invert_output": ("bool", False, None, None, ("streetlight",)),
        "override_max_s": ("int", 4 * 3600, 60, 86400, ("streetlight",)),
        # Luminaire power by level: [[percent, watts], ...] ascending, linear between points.
        "power_curve": ("curve", [[0, 0.5], [10, 7], [50, 31], [100, 60]], 0, 2000,
                        ("streetlight",)),
        # Self-check: a photocell switching further than this from the sun clock is suspect.
        "drift_max_min": ("int", 45, 5, 240, ("streetlight",)),
    },
    "inlet": {
        # The pipe branch (its group topic): the vacuum station grants one valve at a time.
        "branch": ("id", REQUIRED, 1, 32, ("inlet",)),
        # Fill levels (0..1): ask to be emptied from may_go when it suits (not in quiet hours,
        # in the cheap-energy window if one is set), from must_go at once.
        "may_go": ("num", 0.6, 0.05, 1, ("inlet",)),
        "must_go": ("num", 0.85, 0.05, 1, ("inlet",)),
        # Also ask (may-go) when the forecast reaches must_go within this many minutes.
        "lead_min": ("int", 60, 0, 1440, ("inlet",)),
        "priority": ("int", 50, 0, 100, ("inlet",)),
        "quiet_from": ("hhmm", "22:00", None, None, ("inlet",)),
        "quiet_to": ("hhmm", "07:00", None, None, ("inlet",)),
        # Cheap-energy window for may-go emptying; equal times: no window.
        "cheap_from": ("hhmm", "00:00", None, None, ("inlet",)),
        "cheap_to": ("hhmm", "00:00", None, None, ("inlet",)),
        "tz_offset_min": ("int", 60, -720, 840, ("inlet",)),
        "dst": (("eu", "us", "none"), "eu", None, None, ("inlet",)),
        # Discharge: the valve stays open open_s, never more than max_open_s; its closed
        # limit switch must confirm within valve_travel_ms of the close command.
        "open_s": ("num", 5, 1, 60, ("inlet",)),
        "max_open_s": ("num", 8, 1, 60, ("inlet",)),
        "valve_travel_ms": ("int", 1500, 100, 10000, ("inlet",)),
        # Vacuum ready: the station's message, the branch pressure switch input, or both.
        "vacuum_check": (("message", "input", "both"), "message", None, None, ("inlet",)),
        # After a discharge the level must fall below this, or it counts as failed; after
        # `retries` failed discharges in a row the inlet raises a suspected-jam alarm.
        "emptied_level": ("num", 0.25, 0.01, 0.9, ("inlet",)),
        "retries": ("int", 2, 0, 10, ("inlet",)),
        # Ranger geometry, metres from the sensor face: the bottom of the empty bin, the
        # surface of a full one, and the sensor's blind zone (JSN-SR04T ~0.25, HC-SR04 0.02).
        "empty_m": ("num", 1.2, 0.1, 10, ("inlet",)),
        "full_m": ("num", 0.35, 0.02, 10, ("inlet",)),
        "blind_m": ("num", 0.25, 0, 2, ("inlet",)),
        "max_m": ("num", 4, 0.5, 10, ("inlet",)),
        # A reading is the median of `pings` pings at least ping_gap_ms apart (closer pings
        # hear the previous one's echoes); pings further than spread_m apart make it suspect.
        "pings": ("int", 5, 1, 15, ("inlet",)),
        "ping_gap_ms": ("int", 70, 30, 1000, ("inlet",)),
        "spread_m": ("num", 0.05, 0.005, 1, ("inlet",)),
        "sample_s": ("int", 60, 5, 3600, ("inlet",)),
        # The empty distance is re-learnt after each discharge within this of the installed one.
        "relearn_tol_m": ("num", 0.15, 0.01, 2, ("inlet",)),
        # Air temperature for the speed of sound: from a sensor when fitted, else temp_c.
        "temp_sensor": (("none", "ds18b20", "ntc"), "none", None, None, ("inlet",)),
        "temp_c": ("num", 15, -40, 85, ("inlet",)),
        "ntc_r25_ohm": ("num", 10000, 100, 1000000, ("inlet",)),
        "ntc_beta": ("num", 3950, 1000, 10000, ("inlet",)),
        "ntc_series_ohm": ("num", 10000, 100, 1000000, ("inlet",)),
    },
}

SECRETS = {
    "wifi": {
        "ssid": ("str", REQUIRED, 1, 32, _ALL),
        "password": ("str", "", 0, 63, _ALL),
    },
    "mqtt": {
        "user": ("str", "", 0, 64, _ALL),
        "password": ("str", "", 0, 128, _ALL),
    },
    # HMAC-SHA256 command key, 32 bytes as 64 hex digits; "" when commands are not signed.
    "cmd": {
        "key": ("hex", "", 0, 64, _ALL),
    },
}

_ID_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-."
_HEX = "0123456789abcdefABCDEF"


class ConfigError(ValueError):
    def __init__(self, what, errors):
        self.errors = errors
        super().__init__("%s is invalid:\n  %s" % (what, "\n  ".join(errors)))


def _num(v):
    # bool is an int subclass in Python and MicroPython: refuse it as a number.
    return type(v) is not bool and isinstance(v, (int, float)) and v == v and \
        v not in (float("inf"), float("-inf"))


def field_error(spec, v):
    """Why value v does not fit spec, or None."""
    kind, default, lo, hi, _ = spec
    if v is None and default is None:
        return None  # an optional field left unset
    if isinstance(kind, tuple):
        return None if v in kind else "must be one of %s, got %r" % (", ".join(kind), v)
    if kind == "bool":
        return None if type(v) is bool else "must be true or false, got %r" % (v,)
    if kind in ("int", "num"):
        if not _num(v) or (kind == "int" and not isinstance(v, int)):
            return "must be %s, got %r" % ("an integer" if kind == "int" else "a number", v)
        if lo is not None and v < lo:
            return "%r is below the minimum %r" % (v, lo)
        if hi is not None and v > hi:
            return "%r is above the maximum %r" % (v, hi)
        return None
    if kind == "steps":
        return _steps_error(v, lo, hi)
    if kind == "curve":
        return _curve_error(v, hi)
    if kind == "hhmm":
        return None if minutes(v) is not None else "must be a time \"HH:MM\", got %r" % (v,)
    if not isinstance(v, str):
        return "must be a string, got %r" % (v,)
    if lo is not None and len(v) < lo:
        return "must be at least %d characters" % lo
    if hi is not None and len(v) > hi:
        return "must be at most %d characters" % hi
    if kind == "id":
        for c in v:
            if c not in _ID_CHARS:
                return "%r may hold only letters, digits, '_', '-' and '.' (found %r)" % (v, c)
    if kind == "hex":
        if len(v) not in (0, 64) or any(c not in _HEX for c in v):
            return "must be 64 hex digits (a 32-byte key) or empty"
    return None


def _pairs(v, most):
    if not isinstance(v, list) or not 1 <= len(v) <= most:
        return "must be a list of 1 to %d pairs" % most
    for p in v:
        if not isinstance(p, list) or len(p) != 2:
            return "each entry must be a pair [a, b], got %r" % (p,)
    return None


def _steps_error(v, lo, hi):
    err = _pairs(v, 8)
    if err:
        return err
    seen = []
    for t, level in v:
        m = minutes(t)
        if m is None:
            return "step time must be \"HH:MM\", got %r" % (t,)
        if m in seen:
            return "step time %s appears twice" % t
        seen.append(m)
        if not _num(level) or not lo <= level <= hi:
            return "step level must be a number %r..%r, got %r" % (lo, hi, level)
    return None


def _curve_error(v, hi):
    err = _pairs(v, 8)
    if err:
        return err
    last = -1
    for pct, watts in v:
        if not _num(pct) or not 0 <= pct <= 100 or pct <= last:
            return "levels must rise from 0..100, got %r after %r" % (pct, last)
        if not _num(watts) or not 0 <= watts <= hi:
            return "watts must be a number 0..%r, got %r" % (hi, watts)
        last = pct
    return None


def _distance(a, b):
    """Levenshtein edit distance, for short field names."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a):
        cur = [i + 1]
        for j, cb in enumerate(b):
            cur.append(min(prev[j + 1] + 1, cur[j] + 1, prev[j] + (ca != cb)))
        prev = cur
    return prev[-1]


def _nearest(name, known):
    """The known name `name` is most likely a typo of, else None (for 'did you mean')."""
    best, best_d = None, max(2, len(name) // 3) + 1
    for k in known:
        d = _distance(name, k)
        if d < best_d:
            best, best_d = k, d
    return best


def _unknown(where, name, known):
    hint = _nearest(name, known)
    return "%s%s: unknown field%s" % (where, name, " (did you mean %r?)" % hint if hint else "")


def applies(spec, role):
    """The field (or command argument) is used by this role; any role when either is None."""
    return spec[FOR_ROLES] is None or role is None or role in spec[FOR_ROLES]


def check(schema, obj, role=None):
    """Fill defaults and validate. Returns (filled, errors); filled is None when invalid."""
    if not isinstance(obj, dict):
        return None, ["the file must hold a JSON object, got %s" % type(obj).__name__]
    if role is None and "device" in schema:
        dev = obj.get("device")
        role = dev.get("role") if isinstance(dev, dict) else None
        role = role if role in ROLES else None
    errors = []
    out = {}
    for name in obj:
        if name not in schema:
            errors.append(_unknown("", name, schema))
    for sec, fields in schema.items():
        given = obj.get(sec, {})
        if not isinstance(given, dict):
            errors.append("%s: must be an object, got %r" % (sec, given))
            continue
        for name in given:
            if name not in fields:
                errors.append(_unknown(sec + ".", name, fields))
        filled = {}
        for name, spec in fields.items():
            if name in given:
                v = given[name]
                err = field_error(spec, v)
                if err is None and not applies(spec, role):
                    err = "only used by role %s, this device is %s" % (
                        " or ".join(spec[FOR_ROLES]), role)
                if err:
                    errors.append("%s.%s: %s" % (sec, name, err))
                    continue
                filled[name] = v
            elif spec[DEFAULT] is REQUIRED:
                # With the role unknown, only say what every role needs.
                if spec[FOR_ROLES] is None or (role is not None and role in spec[FOR_ROLES]):
                    errors.append("%s.%s: required, missing" % (sec, name))
            elif applies(spec, role):
                filled[name] = spec[DEFAULT]
        if filled or given:
            out[sec] = filled
    if not errors:
        errors = _cross_checks(out)
    return (None if errors else out), errors


def _cross_checks(cfg):
    errors = []
    dev = cfg.get("device")
    if dev and dev.get("id") in RESERVED_IDS:
        errors.append("device.id: %r is reserved for group topics" % dev["id"])
    light = cfg.get("light")
    if light and "on_lux" in light and light["off_lux"] <= light["on_lux"]:
        errors.append("light.off_lux: %r must be above light.on_lux %r, or the lamp would "
                      "flicker at dusk" % (light["off_lux"], light["on_lux"]))
    clock = cfg.get("clock")
    if clock and clock.get("servers"):
        from agent.sntp import servers

        try:
            servers(clock["servers"])
        except ValueError as e:
            errors.append("clock.servers: %s" % e)
    inlet = cfg.get("inlet")
    if inlet and "may_go" in inlet and inlet["may_go"] >= inlet["must_go"]:
        errors.append("inlet.may_go: %r must be below inlet.must_go %r"
                      % (inlet["may_go"], inlet["must_go"]))
    if inlet and "open_s" in inlet and inlet["open_s"] > inlet["max_open_s"]:
        errors.append("inlet.open_s: %r must not exceed inlet.max_open_s %r"
                      % (inlet["open_s"], inlet["max_open_s"]))
    if inlet and "open_s" in inlet and inlet["open_s"] * 1000 <= inlet["valve_travel_ms"]:
        errors.append("inlet.open_s: %r s must be longer than inlet.valve_travel_ms %r, or a "
                      "valve that never opens would go unnoticed"
                      % (inlet["open_s"], inlet["valve_travel_ms"]))
    if inlet and "full_m" in inlet:
        from agent.fill import geometry_error  # only an inlet's config loads the inlet's code

        err = geometry_error(inlet["empty_m"], inlet["full_m"], inlet["blind_m"])
        if err:
            errors.append(err)
        if inlet["empty_m"] > inlet["max_m"]:
            errors.append("inlet.empty_m: %r is beyond the sensor's range (inlet.max_m %r)"
                          % (inlet["empty_m"], inlet["max_m"]))
    return errors


def load(obj, what="config.json"):
    """Validated config with defaults filled in, or ConfigError naming each bad field."""
    cfg, errors = check(CONFIG, obj)
    if errors:
        raise ConfigError(what, errors)
    return cfg


def load_secrets(obj, what="secrets.json"):
    sec, errors = check(SECRETS, obj)
    if errors:
        raise ConfigError(what, errors)
    return sec


def get(cfg, dotted):
    sec, name = dotted.split(".", 1)
    return cfg[sec][name]


def with_value(obj, dotted, value):
    """A copy of raw config `obj` with one field set (callers then validate it)."""
    parts = dotted.split(".")
    if len(parts) != 2:
        raise ConfigError("setting", ["%r: a field is named section.field" % dotted])
    out = {}
    for k, v in obj.items():
        out[k] = dict(v) if isinstance(v, dict) else v
    sec = out.get(parts[0])
    if not isinstance(sec, dict):
        sec = {}
        out[parts[0]] = sec
    sec[parts[1]] = value
    return out
