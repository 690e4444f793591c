"""What the street says on MQTT while the demo runs.

Watcher: a paho subscriber to the street's status, state, telemetry and event topics
(agent.topics), keeping each device's latest figures for the live view, and noting when the
simulation fell behind. A device's clock never lags the scenario clock (the simulated board
catches its virtual time up with the host's), so a busy host shows instead as work done
late: a device's periodic telemetry (every minute) arrives with a gap longer than its period.
Each such gap beyond LATE_S is a "fell behind" record: which device, when, by how much.

screen_lines(): the live view as text lines of at most `width` columns (pure: tested
without a terminal). LiveView draws them in place on a terminal (plain ANSI), or prints one
status line every few seconds when the output is not a terminal.
"""

import sys
import threading
import time
from collections import deque

import paho.mqtt.client as mqtt

from agent import message, topics

LATE_S = 5.0  # a telemetry gap this much longer than the device's period: it fell behind
LAG_S = 60.0  # a message this much older than the scenario clock on arrival: the runner lags
RECENT_MOTION_S = 30.0  # scenario seconds a motion detection stays "motion" in the view
KEPT = 5000


class Watcher:
    def __init__(self, host: str, port: int, prefix: str, site: str, clock, poles, inlets):
        self.clock = clock
        self.prefix, self.site = prefix, site
        self.lock = threading.Lock()
        self.poles = {pid: {"pos": pos, "online": False, "level": None, "on": None,
                            "lux": None, "wh": None, "motion_at": None, "detections": 0}
                      for pid, pos in poles}
        self.inlets = {iid: {"branch": br, "online": False, "fill": None, "valve": None,
                             "request": None, "discharges": 0, "phase": None}
                       for iid, br in inlets}
        self.last_ts: dict[str, int] = {}
        self.gaps: dict[str, list[int]] = {}
        self.late: list[dict] = []  # {"device", "at", "late_s", "gap_s"}
        self.lag_max_s = 0.0
        self.lagged: list[dict] = []
        self.messages = 0
        self.bad = 0
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="demo-watcher")
        self.c.on_connect = self._on_connect
        self.c.on_message = self._on_message
        self.c.reconnect_delay_set(1, 2)  # real seconds: back soon after a broker outage
        self.host, self.port = host, port

    def start(self) -> None:
        self.c.connect(self.host, self.port, keepalive=30)
        self.c.loop_start()

    def stop(self) -> None:
        try:
            self.c.disconnect()
        finally:
            self.c.loop_stop()

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        base = f"{self.prefix}/{self.site}/+/+/"
        client.subscribe([(base + ch, 1) for ch in ("status", "state", "telemetry", "event")] +
                         # a pole's motion goes to its neighbours (light-ahead), not as an event
                         [(f"{self.prefix}/{self.site}/streetlight/group/+/peer", 0)])

    def _on_message(self, client, userdata, msg):
        parts = topics.parse(msg.topic)
        if parts is None:
            return
        _, _, kind, dev, _, channel = parts
        arrived = self.clock.wall()
        if dev is None and channel == "peer":  # light-ahead: {"event": "motion", "id": pole}
            obj, _ = message.decode(bytes(msg.payload)) if msg.payload else (None, "empty")
            if obj is not None and obj.get("event") == "motion":
                dev, channel = obj.get("id"), "motion"
            else:
                return
        with self.lock:
            self.messages += 1
            if channel == "status":
                self._set(kind, dev, "online", msg.payload == b"online")
                return
            obj, err = message.decode(bytes(msg.payload)) if msg.payload else (None, "empty")
            if obj is None:
                self.bad += 1
                return
            ts = obj.get("ts")
            if type(ts) is int:
                self._lag(dev, ts, arrived)
            if kind == "streetlight":
                self._pole(dev, channel, obj, ts)
            elif kind == "inlet":
                self._inlet(dev, channel, obj)

    def _set(self, kind, dev, key, value):
        row = (self.poles if kind == "streetlight" else self.inlets).get(dev)
        if row is not None:
            row[key] = value

    def _lag(self, dev, ts, arrived):
        lag = arrived - ts - 1  # ts is whole seconds, rounded down
        if lag > self.lag_max_s:
            self.lag_max_s = lag
        if lag > LAG_S and len(self.lagged) < KEPT:
            self.lagged.append({"device": dev, "at": ts, "lag_s": round(lag, 1)})

    def _pole(self, dev, channel, obj, ts):
        row = self.poles.get(dev)
        if row is None:
            return
        if channel == "state":
            row["level"], row["on"] = obj.get("level"), obj.get("on")
        elif channel == "telemetry":
            row["lux"], row["wh"] = obj.get("lux"), obj.get("wh")
            if obj.get("level") is not None:
                row["level"] = obj["level"]
            if type(ts) is int:
                self._period(dev, ts)
        elif channel == "motion":
            row["motion_at"] = ts
            row["detections"] += 1

    def _inlet(self, dev, channel, obj):
        row = self.inlets.get(dev)
        if row is None:
            return
        if channel == "state":
            row["fill"] = obj.get("fillingLevel", row["fill"])
            row["valve"] = obj.get("valve")
            row["request"] = obj.get("request")
            row["phase"] = obj.get("discharge")
        elif channel == "telemetry":
            if obj.get("fillingLevel") is not None:
                row["fill"] = obj["fillingLevel"]
            if type(obj.get("ts")) is int:
                self._period(dev, obj["ts"])
        elif channel == "event" and obj.get("event") == "discharge" and \
                obj.get("step") == "done":
            row["discharges"] += 1

    def _period(self, dev, ts):
        """A periodic message: a gap beyond the device's usual period is time it lost."""
        last = self.last_ts.get(dev)
        self.last_ts[dev] = ts
        if last is None or ts <= last:
            return
        gap = ts - last
        gaps = self.gaps.setdefault(dev, [])
        if len(gaps) < 50:
            gaps.append(gap)
        period = sorted(gaps)[len(gaps) // 2] if len(gaps) >= 3 else 60
        if gap > period + LATE_S and len(self.late) < KEPT:
            self.late.append({"device": dev, "at": last, "late_s": gap - period, "gap_s": gap,
                              "period_s": period})

    # ---- for the view and the report ----

    def snapshot(self) -> dict:
        with self.lock:
            return {"poles": {k: dict(v) for k, v in self.poles.items()},
                    "inlets": {k: dict(v) for k, v in self.inlets.items()},
                    "late": len(self.late), "lag_max_s": self.lag_max_s,
                    "messages": self.messages}

    def report(self) -> dict:
        """What fell behind, for the run's report."""
        with self.lock:
            late = list(self.late)
            return {"late": late, "late_count": len(late),
                    "late_total_s": sum(x["late_s"] for x in late),
                    "late_max_s": max((x["late_s"] for x in late), default=0),
                    "late_threshold_s": LATE_S,
                    "lag_max_s": round(self.lag_max_s, 1), "lagged": list(self.lagged),
                    "lag_threshold_s": LAG_S, "messages": self.messages,
                    "bad_messages": self.bad}


# ---- the screen ----

SHADES = " .:-=+*#%@"


def _bar(frac, width):
    if frac is None:
        return "?" * width
    n = int(round(max(0.0, min(1.0, frac)) * width))
    return "#" * n + "-" * (width - n)


def _hhmm(wall, offset_min):
    t = time.gmtime(int(wall + offset_min * 60))
    return "%s %02d:%02d" % (("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[t.tm_wday],
                             t.tm_hour, t.tm_min)


def _num(v, fmt, none="  -"):
    return none if v is None else fmt % v


def screen_lines(snap: dict, info: dict, width: int = 100, height: int = 40) -> list[str]:
    """The live view. info: title, phase, now (scenario wall s), start, end, offset_min,
    speed, broker, online. Never wider than width; at most height lines."""
    start, end, now = info["start"], info["end"], info["now"]
    frac = max(0.0, min(1.0, (now - start) / (end - start))) if end > start else 0
    done_h = max(0.0, now - start) / 3600
    lines = [f"street demo: {info['title']}"[:width],
             f"{info['phase']:<16} broker {info['broker']}  speed {info['speed']:.0f}x  "
             f"fell behind {snap['late']}x  messages {snap['messages']}"]
    bar_w = max(10, width - 44)
    lines.append(f"[{_bar(frac, bar_w)}] {_hhmm(now, info['offset_min'])} "
                 f"{done_h:5.1f} of {(end - start) / 3600:.1f} h {frac * 100:3.0f}%")
    poles = snap["poles"]
    if poles:
        strip = "".join(SHADES[min(9, int((p["level"] or 0) / 100 * 9.99))]
                        if p["online"] else "x" for p in poles.values())
        lines.append(f"lamps along the street |{strip[:width - 26]}|")
        lines.append("pole       online level            lux      motion   Wh")
    inlets = snap["inlets"]
    room = height - len(lines) - (2 + len(inlets) if inlets else 0)
    shown = list(poles.items())
    if len(shown) > room:
        shown, more = shown[:max(0, room - 1)], len(shown) - max(0, room - 1)
    else:
        more = 0
    for pid, p in shown:
        lv = p["level"]
        moved = p["motion_at"] is not None and now - p["motion_at"] < RECENT_MOTION_S
        lines.append(f"{pid:<10} {'yes' if p['online'] else 'NO ':<6} "
                     f"{_bar(None if lv is None else lv / 100, 10)} {_num(lv, '%3.0f%%', '  -')} "
                     f"{_num(p['lux'], '%8.1f', '       -')} {'MOTION' if moved else '      ':<8}"
                     f"{_num(p['wh'], '%6.1f', '     -')}"[:width])
    if more:
        lines.append(f"... and {more} more poles")
    if inlets:
        lines.append("inlet      online fill             valve  request phase      emptied")
        for iid, i in inlets.items():
            fill = i["fill"]
            lines.append(f"{iid:<10} {'yes' if i['online'] else 'NO ':<6} "
                         f"{_bar(fill, 10)} {_num(None if fill is None else fill * 100, '%3.0f%%')}"
                         f" {str(i['valve'] or '-'):<6} {str(i['request'] or '-'):<7} "
                         f"{str(i['phase'] or '-'):<10} {i['discharges']}"[:width])
    return [ln[:width] for ln in lines[:height]]


def status_line(snap: dict, info: dict) -> str:
    """One line for a log (output that is not a terminal)."""
    now, start, end = info["now"], info["start"], info["end"]
    frac = max(0.0, min(1.0, (now - start) / (end - start))) if end > start else 0
    poles = [p for p in snap["poles"].values() if p["online"]]
    lv = [p["level"] for p in poles if p["level"] is not None]
    fills = ",".join(_num(None if i["fill"] is None else i["fill"] * 100, "%.0f%%", "-")
                     for i in snap["inlets"].values())
    return (f"[{frac * 100:3.0f}%] {_hhmm(now, info['offset_min'])}  {info['phase']}  "
            f"poles online {len(poles)}/{len(snap['poles'])}"
            + (f" mean level {sum(lv) / len(lv):.0f}%" if lv else "")
            + (f"  inlets {fills}" if fills else "")
            + f"  fell behind {snap['late']}x")


class LiveView:
    """Redraws in place on a terminal; on a pipe, a status line every `every_s` seconds."""

    def __init__(self, out=None, every_s: float = 5.0):
        self.out = out or sys.stdout
        self.tty = self.out.isatty()
        self.every_s = every_s
        self._next = 0.0
        self._drawn = False
        self.news: deque = deque(maxlen=4)

    def draw(self, snap: dict, info: dict) -> None:
        if not self.tty:
            if time.monotonic() >= self._next:
                self._next = time.monotonic() + self.every_s
                print(status_line(snap, info), file=self.out, flush=True)
            return
        try:
            import shutil

            cols, rows = shutil.get_terminal_size((100, 40))
        except OSError:
            cols, rows = 100, 40
        width = min(100, cols)
        news = [ln[:width] for ln in self.news]
        lines = screen_lines(snap, info, width, max(8, rows - 2 - len(news))) + news
        head = "\x1b[?25l\x1b[2J" if not self._drawn else ""
        self._drawn = True
        self.out.write(head + "\x1b[H" + "".join(ln + "\x1b[K\n" for ln in lines) + "\x1b[J")
        self.out.flush()

    def close(self) -> None:
        if self.tty and self._drawn:
            self.out.write("\x1b[?25h")
            self.out.flush()

    def say(self, line: str) -> None:
        """A line of news (broker outage, a device that ended): on a terminal the last few
        stay under the view; otherwise printed at once."""
        if self.tty and self._drawn:
            self.news.extend(line.splitlines())
        else:
            print(line, file=self.out, flush=True)
