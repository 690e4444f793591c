"""What a vacuum station's decisions cost in energy: fan starts, fan running time, valve openings.

The defaults are round figures for a mid-size pneumatic collection station, good enough to
compare policies (the ratio between them matters more than the absolute kWh):

- fan_kw = 110: one exhauster set per branch; stations run 2-4 exhausters of 30-110 kW, and
  one large set per branch keeps the arithmetic simple.
- start_equiv_s = 30: a start costs as much as 30 s of running on top of the time it runs.
  The motor's inrush and the acceleration of the air column in the pipe are paid at every
  start, whatever the run's length, which is why batching discharges into one run pays.
- valve_wh = 2: one discharge valve opening and closing: the pneumatic actuator's compressed
  air (about 10 l free air at 6 bar from a compressor at ~0.15 kWh/m3) plus the controls.
"""


class CostModel:
    def __init__(self, fan_kw: float = 110.0, start_equiv_s: float = 30.0,
                 valve_wh: float = 2.0):
        self.fan_kw = fan_kw
        self.start_equiv_s = start_equiv_s
        self.valve_wh = valve_wh
        self.fan_starts = 0
        self.fan_ms = 0.0  # completed fan running time, all branches
        self.valve_openings = 0
        self._on_since: dict[str, float] = {}  # branch -> now_ms when its fan started
        self._by_branch: dict[str, dict] = {}

    def _b(self, branch: str) -> dict:
        return self._by_branch.setdefault(branch, {"fan_starts": 0, "fan_ms": 0.0,
                                                   "valve_openings": 0})

    def fan_on(self, branch: str, now_ms: float) -> None:
        if branch in self._on_since:
            return  # already running: not a new start
        self._on_since[branch] = now_ms
        self.fan_starts += 1
        self._b(branch)["fan_starts"] += 1

    def fan_off(self, branch: str, now_ms: float) -> None:
        since = self._on_since.pop(branch, None)
        if since is None:
            return
        ran = max(0.0, now_ms - since)
        self.fan_ms += ran
        self._b(branch)["fan_ms"] += ran

    def valve_opened(self, branch: str, inlet_id: str) -> None:
        self.valve_openings += 1
        self._b(branch)["valve_openings"] += 1

    def running(self) -> list[str]:
        return sorted(self._on_since)

    def _kwh(self, starts: int, fan_ms: float, valves: int) -> dict:
        run = self.fan_kw * fan_ms / 3_600_000  # kW * ms -> kWh
        start = self.fan_kw * starts * self.start_equiv_s / 3600
        valve = valves * self.valve_wh / 1000
        return {"kwh_fan_running": run, "kwh_fan_starts": start, "kwh_valves": valve,
                "kwh": run + start + valve}

    def report(self, now_ms: float | None = None) -> dict:
        """Totals, and per branch. With now_ms, fans still running count up to now_ms."""
        open_ms = {}
        if now_ms is not None:
            open_ms = {b: max(0.0, now_ms - t) for b, t in self._on_since.items()}
        branches = {}
        for b, c in sorted(self._by_branch.items()):
            ms = c["fan_ms"] + open_ms.get(b, 0.0)
            branches[b] = {"fan_starts": c["fan_starts"], "fan_s": ms / 1000,
                           "valve_openings": c["valve_openings"],
                           **self._kwh(c["fan_starts"], ms, c["valve_openings"])}
        fan_ms = self.fan_ms + sum(open_ms.values())
        out = {"fan_starts": self.fan_starts, "fan_s": fan_ms / 1000,
               "valve_openings": self.valve_openings, "fans_running": self.running(),
               **self._kwh(self.fan_starts, fan_ms, self.valve_openings),
               "params": {"fan_kw": self.fan_kw, "start_equiv_s": self.start_equiv_s,
                          "valve_wh": self.valve_wh},
               "by_branch": branches}
        return out
