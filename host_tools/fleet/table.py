"""The fleet and the acks as text lines that fit a terminal's width (pure: no terminal, no
clock; the caller passes `now` and the width). The monitor draws these with ANSI codes, a
pipe gets them as plain lines."""

import textwrap
from dataclasses import dataclass

from agent.discharge import IDLE
from agent.inlet import ST_OK
from agent.sensing import OK as SENSOR_OK
from agent.vacuum import REQ_NONE

from .fleetview import Device, FleetView

KIND_SHORT = {"streetlight": "light", "inlet": "inlet"}
# (title, width, grows): the last column takes what is left of the width.
COLUMNS = (("DEVICE", 16, False), ("KIND", 5, False), ("LINK", 7, False), ("SEEN", 5, False),
           ("STATE", 18, True), ("ALARMS", 10, True))
MIN_WIDTH = 40


def clip(text: str, width: int) -> str:
    """At most `width` characters; a cut shows as '~' at the end."""
    if width <= 0:
        return ""
    return text if len(text) <= width else text[:width - 1] + "~"


def age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size:
            return "%d%s" % (s // size, unit)
    return "%ds" % s


def _pct(v) -> str:
    return "%g%%" % round(v, 1) if isinstance(v, (int, float)) and not isinstance(v, bool) \
        else "?"


def summary(d: Device) -> str:
    """What the device is doing, in a few words."""
    st = d.state
    if not st:
        return "-"
    if d.kind == "streetlight":
        lit = "on %s" % _pct(st.get("level")) if st.get("on") else "off"
        return "%s %s" % (lit, st.get("control", ""))
    lv = st.get("fillingLevel")
    fill = "fill %s" % (_pct(lv * 100) if isinstance(lv, (int, float)) else "?")
    words = [fill]
    if st.get("request") not in (None, REQ_NONE):
        words.append("ask %s" % st["request"])
    if st.get("discharge") not in (None, IDLE):
        words.append(str(st["discharge"]))
    return " ".join(words)


def alarms(d: Device) -> list[str]:
    """What needs a look, shortest words first in importance order."""
    st, out = d.state, []
    if st.get("safe_mode") or d.diag.get("safe_mode"):
        out.append("SAFE-MODE")
    if st.get("health") not in (None, "ok", "safe_mode"):
        out.append(str(st["health"]))
    if isinstance(st.get("problems"), int) and st["problems"] > 0:
        out.append("%d problem%s" % (st["problems"], "s" if st["problems"] > 1 else ""))
    if d.kind == "streetlight":
        for key, word in (("light_sensor", "light"), ("motion_sensor", "motion")):
            if st.get(key) not in (None, SENSOR_OK):
                out.append("%s:%s" % (word, st[key]))
        if st.get("photocell_suspect"):
            out.append("photocell?")
        if st.get("day_burner"):
            out.append("day-burner")
    else:
        if st.get("status") not in (None, ST_OK):
            out.append(str(st["status"]))
        if st.get("ranger") not in (None, SENSOR_OK):
            out.append("ranger:%s" % st["ranger"])
    return out


def _widths(width: int) -> list[int]:
    width = max(MIN_WIDTH, width)
    fixed = [w for _, w, _ in COLUMNS]
    spare = width - sum(fixed) - (len(COLUMNS) - 1)
    if spare >= 0:  # the growing columns share what is left, the last one the remainder
        fixed[4] += spare // 2
        fixed[5] += spare - spare // 2
        return fixed
    # Narrower than the default: take it from the state and device columns first.
    for i in (4, 0, 5):
        take = min(-spare, fixed[i] - 6)
        fixed[i] -= take
        spare += take
    return fixed


def row(cells: list[str], width: int) -> str:
    ws = _widths(width)
    out = " ".join(clip(c, w).ljust(w) if i < len(ws) - 1 else clip(c, w)
                   for i, (c, w) in enumerate(zip(cells, ws, strict=True)))
    return out.rstrip()


def fleet_lines(view: FleetView, now: float, width: int = 80) -> list[str]:
    """A header and one line per device, each at most `width` characters (>= 40)."""
    lines = [row([t for t, _, _ in COLUMNS], width)]
    for d in sorted(view.devices.values(), key=lambda d: (d.kind, d.site, d.id)):
        link = {True: "online", False: "offline", None: "?"}[d.online]
        seen = age(now - d.seen) if d.seen is not None else "-"
        lines.append(row([d.id, KIND_SHORT.get(d.kind, d.kind), link, seen, summary(d),
                          " ".join(alarms(d)) or "-"], width))
    if len(lines) == 1:
        lines.append(clip("(no device has said anything under %s/%s yet)"
                          % (view.prefix, view.site), max(MIN_WIDTH, width)))
    return lines


@dataclass
class AckRow:
    device: str
    result: str  # "ok", "refused", "timeout", "not sent"
    latency_s: float | None = None
    detail: str = ""  # the device's error, or what the ack's state says


ACK_HEAD = ("DEVICE", "RESULT", "LATENCY")
_ACK_W = (16, 8, 7)


def ack_header(width: int = 80) -> str:
    return clip("%-16s %-8s %7s  %s" % (*ACK_HEAD, "ERROR / DETAIL"), max(MIN_WIDTH, width))


def ack_lines(r: AckRow, width: int = 80) -> list[str]:
    """One ack as a row; a long error wraps onto indented lines (never cut: it is the
    answer the operator needs)."""
    width = max(MIN_WIDTH, width)
    lat = "-" if r.latency_s is None else "%.2fs" % r.latency_s
    head = "%-16s %-8s %7s  " % (clip(r.device, 16), clip(r.result, 8), lat)
    room = width - len(head)
    parts = textwrap.wrap(r.detail, room) or [""]
    return [(head + parts[0]).rstrip()] + [" " * len(head) + p for p in parts[1:]]


def ack_detail(state: dict | None, kind: str = "") -> str:
    """What an ok ack's state is worth saying (a role's state: as the table says it)."""
    if not state:
        return ""
    if state.get("unchanged"):
        return "%s already %s (nothing written)" % (state.get("field"), state.get("value"))
    if "field" in state:
        return "%s = %s, restart in %.1f s" % (state["field"], state.get("value"),
                                              state.get("restart_in_ms", 0) / 1000)
    if "restart_in_ms" in state:
        return "restart in %.1f s" % (state["restart_in_ms"] / 1000)
    if "config" in state:
        return "config: %d sections" % len(state["config"])
    d = Device("", kind, "", "", state=state)
    return " ".join([summary(d)] + alarms(d))
