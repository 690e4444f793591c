# Simulated ESP32 `network` (Wi-Fi station, minimal access point). The access points in range
# are world state (simworld.wifi_ap / wifi_ap_remove / wifi_drop, which reach this module
# through simworld.on_link_lost: simworld never imports it); connecting takes the AP's
# connect_ms of virtual time. Not modelled: the ESP-IDF's own automatic reconnects -- after a
# failure or a lost link the status stays at the reason until the firmware calls connect().
import simclock
import simworld

STA_IF = 0
AP_IF = 1
STAT_IDLE = 1000
STAT_CONNECTING = 1001
STAT_GOT_IP = 1010
STAT_BEACON_TIMEOUT = 200
STAT_NO_AP_FOUND = 201
STAT_WRONG_PASSWORD = 202
STAT_ASSOC_FAIL = 203
STAT_CONNECT_FAIL = 203
STAT_HANDSHAKE_TIMEOUT = 204
AUTH_OPEN = 0
AUTH_WPA2_PSK = 3

_NO_AP_SCAN_MS = 3000  # how long a connect to a missing SSID takes to give up
_ZERO = ("0.0.0.0", "0.0.0.0", "0.0.0.0", "0.0.0.0")

_state = {}


def _fresh():
    for i in (STA_IF, AP_IF):
        _state[i] = {
            "active": False,
            "status": STAT_IDLE,
            "ssid": None,
            "ip": None,
            "static": None,
            "ev": None,
            "conf": {"ssid": "ESP_SIM" if i == AP_IF else "", "channel": 6, "reconnects": -1,
                     "txpower": 20, "pm": 1, "key": "", "security": AUTH_OPEN},
        }
    simworld.radio_on = False


_hostname = ["espressif"]
scans = [0]  # blocking WLAN.scan() calls since power-on: what a test asserts, not loop time


class WLAN:
    IF_STA = STA_IF
    IF_AP = AP_IF
    PM_NONE = 0
    PM_PERFORMANCE = 1
    PM_POWERSAVE = 2

    def __init__(self, interface_id=STA_IF):
        if interface_id not in (STA_IF, AP_IF):
            raise ValueError("invalid WLAN interface identifier")
        self._if = interface_id
        self._s = _state[interface_id]

    def _st(self):
        self._s = _state[self._if]  # fresh dict after simclock.reset()
        return self._s

    def active(self, is_active=None):
        s = self._st()
        if is_active is None:
            return s["active"]
        s["active"] = bool(is_active)
        if not is_active:
            self.disconnect()
        simworld.radio_on = _state[STA_IF]["active"] or _state[AP_IF]["active"]

    def connect(self, ssid=None, key=None, *, bssid=None):
        s = self._st()
        if self._if != STA_IF:
            raise OSError("STA required")
        if not s["active"]:
            raise OSError("Wifi Not Started")
        self.disconnect()
        ssid = s["conf"]["ssid"] if ssid is None else ssid
        ap = simworld.aps.get(ssid)
        delay = ap["connect_ms"] if ap is not None else _NO_AP_SCAN_MS
        s["status"] = STAT_CONNECTING
        s["ssid"] = ssid
        s["conf"]["ssid"] = ssid
        s["ev"] = simclock.after_ms(delay, _attempt, s, ssid, "" if key is None else key)

    def disconnect(self):
        s = self._st()
        simclock.cancel(s["ev"])
        s["ev"] = None
        s["ip"] = None
        s["status"] = STAT_IDLE

    def isconnected(self):
        s = self._st()
        if self._if == AP_IF:
            return False
        return s["status"] == STAT_GOT_IP

    def status(self, param=None):
        s = self._st()
        if param is None:
            return s["status"]
        if param == "rssi":
            if s["status"] != STAT_GOT_IP:
                raise OSError("Wifi Not Connected")
            return simworld.ap_rssi(s["ssid"])
        if param == "stations":
            return []
        raise ValueError("unknown status param")

    def ifconfig(self, config=None):
        s = self._st()
        if config is not None:
            if len(config) != 4:
                raise ValueError("ifconfig needs 4 items")
            s["static"] = tuple(config)
            return
        if self._if == AP_IF:
            return s["static"] or ("192.168.4.1", "255.255.255.0", "192.168.4.1", "0.0.0.0")
        if s["status"] != STAT_GOT_IP:
            return s["static"] or _ZERO
        return s["static"] or s["ip"]

    def config(self, *args, **kwargs):
        s = self._st()
        conf = s["conf"]
        if args:
            if len(args) != 1 or kwargs:
                raise TypeError("can query only one param")
            p = args[0]
            if p == "mac":
                uid = simworld.unique_id
                return uid if self._if == STA_IF else uid[:5] + bytes(((uid[5] + 1) & 0xFF,))
            if p in ("hostname", "dhcp_hostname"):
                return _hostname[0]
            if p == "essid":
                p = "ssid"
            if p not in conf:
                raise ValueError("unknown config param")
            return conf[p]
        for k in kwargs:
            if k in ("hostname", "dhcp_hostname"):
                _hostname[0] = kwargs[k]
            elif k in ("essid", "ssid", "password"):
                conf["key" if k == "password" else "ssid"] = kwargs[k]
            elif k in conf:
                conf[k] = kwargs[k]
            else:
                raise ValueError("unknown config param")

    def scan(self):
        s = self._st()
        if not s["active"]:
            raise OSError("Wifi Not Started")
        scans[0] += 1
        simclock.advance_ms(2000)  # a blocking all-channel scan
        out = []
        for ssid in simworld.aps:
            ap = simworld.aps[ssid]
            sec = AUTH_WPA2_PSK if ap["key"] else AUTH_OPEN
            out.append((ssid.encode(), ap["bssid"], ap["channel"], simworld.ap_rssi(ssid), sec,
                        False))
        return out


def _attempt(s, ssid, key):
    s["ev"] = None
    ap = simworld.aps.get(ssid)
    if ap is None:
        s["status"] = STAT_NO_AP_FOUND
    elif ap["key"] != key:
        s["status"] = STAT_WRONG_PASSWORD
    else:
        s["status"] = STAT_GOT_IP
        host = 100 + simworld.unique_id[5] % 100  # stable per device
        s["ip"] = ("192.168.1.%d" % host, "255.255.255.0", "192.168.1.1", "192.168.1.1")


def _link_lost():
    s = _state[STA_IF]
    if s["status"] == STAT_GOT_IP:
        s["status"] = STAT_BEACON_TIMEOUT
        s["ip"] = None


def _ap_gone(ssid):
    """simworld: access point ssid was switched off (None: the link dropped, whatever AP)."""
    if ssid is None or _state[STA_IF]["ssid"] == ssid:
        _link_lost()


def hostname(name=None):
    if name is None:
        return _hostname[0]
    _hostname[0] = name


def country(code=None):
    return "01" if code is None else None


def _on_reset(pristine):
    for s in _state.values():
        simclock.cancel(s["ev"])
    _fresh()
    if pristine:
        _hostname[0] = "espressif"
        scans[0] = 0


_fresh()
simclock.on_reset(_on_reset)
simworld.on_link_lost(_ap_gone)
