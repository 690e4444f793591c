# The agent's loop (shell): load board + config, wire the tasks, run the loop.
#
# One cooperative loop with explicit deadlines: each task has a period, the loop runs what is
# due and then sleeps until the next deadline. Nothing here decides anything about lamps or
# valves; role logic plugs in as more tasks.
import gc
import sys
import time

from micropython import const

from agent import hal
from agent.sched import Scheduler, Uptime, ticks_diff

LED_PERIOD_MS = const(2000)
IDLE_SLICE_MS = const(100)
LINK_PERIOD_MS = const(1000)  # at most; the link asks for sooner while it is busy
keeper = None  # after Ctrl-C: the timer that feeds the watchdog (hal.keep_fed)
current = None  # the running Agent, for the technician's REPL after Ctrl-C (and tests)
# What only boot and commands need: the config schema and checks, the board validator and
# the file store. On a stock image (.mpy files) their bytecode sits in the heap, so the agent
# lets go of them once built, and a command loads what it needs again (Agent.shed).
BOOT_ONLY = ("agent.commands", "agent.files", "agent.store", "agent.config", "agent.board",
             "agent.chips", "agent.crashloop", "agent.sntp")  # sntp: agent.timesync loads it
# What the link and each role load, leaf modules first. Imported one by one with a collection
# between: left to nested imports, a module's code is loaded while everything importing it is
# half-loaded, and on a stock image that chain peaked tens of KB above what stays (measured
# on the chip-like build: the streetlight needed 128 KB to boot that way, 96 KB this way).
LINK_MODULES = ("agent.message", "agent.topics", "agent.backoff", "agent.mqttwire",
                "agent.outbox", "umqtt.simple", "agent.sign", "agent.clock",
                "agent.timesync", "agent.link", "agent.comms")
ROLE_MODULES = {
    "streetlight": ("agent.civil", "agent.output", "agent.energy", "agent.dimmer",
                    "agent.selfcheck", "agent.profile", "agent.sensing", "agent.astro",
                    "agent.streetlight", "agent.pole"),
    "inlet": ("agent.civil", "agent.vacuum", "agent.ranging", "agent.fill", "agent.discharge",
              "agent.inlet", "agent.ranger", "agent.chute"),
}


def _import_leaf_first(names):
    for name in names:
        if name not in sys.modules:
            __import__(name)
            gc.collect()
CRASH_FILE = "crash.txt"  # agent.files.CRASH_FILE
# Set by the agent as soon as it knows them, for main() to judge a crash in the build too:
# safe mode (the crash record) and the crash limits of the config in force (None: defaults).
_safe = False
_limits = None
_failsafe = None  # safe mode's lamp PWM, held here so it outlives a crashed safe agent
_BOARD_DOCS = ("notes", "title", "memory", "chip")  # board.json keys for people and tools


class Agent:
    def __init__(self, root=""):
        global _limits, _safe, _failsafe
        from agent import crashloop, files

        self.root = root
        self.config_file = root + files.CONFIG_FILE
        # The crash record (RTC memory): safe mode when the last crashes came in a loop.
        self.crash = files.load_crash()
        self.safe = _safe = self.crash["safe"]
        self.crash_report = crashloop.event(self.crash) if self.crash["new"] else None
        self.loaded = files.load_all(root)
        board = self.board = self.loaded["board"]
        if board is not None:  # kept for the agent's life: only what it reads after boot
            for k in _BOARD_DOCS:  # (the people's notes stay in board.json: ~1.9 KB)
                board.pop(k, None)
        self.cfg = self.loaded["config"]
        self.secrets = self.loaded["secrets"]
        self.role = self.cfg["device"]["role"] if self.cfg else None
        _limits = self.crash_limits = crashloop.limits(self.cfg)
        self.hal = hal.Hal(board)  # closes an inlet's valve first of all
        if self.safe:  # before anything else can fail (agent.files: loaded at boot only)
            _failsafe = files.failsafe_lamp(board, self.cfg)
        del files, crashloop, board  # the validators are done: let go of them, room for the role
        self.shed()
        # Degraded: something is missing or invalid (or safe mode). The loop still runs (so
        # does the role when the config and board allow it, never in safe mode), the LED
        # blinks fast and the problems are printed.
        self.degraded = bool(self.loaded["problems"]) or self.cfg is None or self.safe
        self.ticks = 0
        self.heartbeats = 0
        self.loop_us_max = 0
        self.led_on = False
        now = time.ticks_ms()
        self.up = Uptime(now)
        self.sched = Scheduler(now)
        loop = self.cfg["loop"] if self.cfg else {"wdt_ms": 0, "heartbeat_s": 60}
        # Not in safe mode: once started it cannot be stopped, and a crashed safe agent
        # leaves its outputs safe and the REPL to the technician instead of resetting.
        if loop["wdt_ms"] and not self.safe:
            self.hal.start_watchdog(loop["wdt_ms"])
            self.sched.add("watchdog", loop["wdt_ms"] // 4, self._feed)
        self.sched.add("status_led", LED_PERIOD_MS, self._blink)
        self.sched.add("heartbeat", loop["heartbeat_s"] * 1000, self._heartbeat)
        self.comms = None
        self.role_impl = None
        if self.cfg is not None:
            self.comms = self._make_comms(now)
            self.sched.add("link", LINK_PERIOD_MS, self.comms.service)
            self.comms.event({"event": "boot", "reset": hal.reset_cause(),
                              "degraded": self.degraded, "safe_mode": self.safe}, now)
            if self.board is not None and self.role in self.board["roles"] and not self.safe:
                self.role_impl = self._make_role(now)
        if self.crash["count"] and not self.safe:  # a stable run forgives earlier crashes
            stable_ms = self.crash_limits[2] * 1000
            self.sched.add("crash_forgive", stable_ms, self._forgive, first_in_ms=stable_ms)
        self.shed()

    def shed(self):
        """Let go of the BOOT_ONLY modules (they load again when needed)."""
        import agent

        for name in BOOT_ONLY:
            if name in sys.modules:
                del sys.modules[name]
                try:
                    delattr(agent, name[6:])  # the package holds its submodules too
                except AttributeError:
                    pass
        gc.collect()

    def _make_role(self, now_ms):
        # Imported here: a device carries the code of both roles but loads only its own.
        _import_leaf_first(ROLE_MODULES.get(self.role or "", ()))
        if self.role == "streetlight":
            from agent.pole import Pole

            return Pole(self, now_ms)
        if self.role == "inlet":
            from agent.chute import Chute

            return Chute(self, now_ms)
        return None

    def _make_comms(self, now_ms):
        _import_leaf_first(LINK_MODULES)
        from agent.comms import Comms

        ca = None
        if self.cfg["mqtt"]["tls"]:
            try:
                with open(self.root + self.cfg["mqtt"]["ca_file"], "rb") as f:
                    ca = f.read()
            except OSError:
                pass  # a problem already (files.mqtt_problems): the link says so too
        return Comms(self, now_ms, ca_data=ca)

    # ---- what the comms layer asks of the agent (roles extend these) ----

    def state(self):
        st = {"role": self.role, "problems": len(self.loaded["problems"]),
              "health": "safe_mode" if self.safe else "degraded" if self.degraded else "ok",
              "safe_mode": self.safe}
        if self.safe:
            st["crash"] = self.crash["line"]
            st["crashes"] = self.crash["count"]
        if self.role_impl is not None:
            st.update(self.role_impl.state())
        return st

    def state_deadbands(self):
        return self.role_impl.state_deadbands() if self.role_impl is not None else {}

    def ha_entities(self):
        """Role measurements for Home Assistant discovery (agent.discovery form)."""
        return self.role_impl.ha_entities() if self.role_impl is not None else ()

    def diag_numbers(self):
        free, _ = hal.heap()
        return {"uptime_s": self.up.at(time.ticks_ms()) // 1000,
                "heap_free": free, "heap_max_block": hal.largest_free_block(free),
                "reset_cause": hal.reset_cause(), "loop_us_max": self.loop_us_max}

    def diag_more(self):
        """Diagnostics beyond agent.message.diag_fields: the crash record."""
        return {"safe_mode": self.safe, "crashes": self.crash["count"],
                "last_crash": self.crash["line"]}

    def link_up(self, now_ms):
        """The link is up (comms, after every connect): the last crash goes out once, as an
        event kept through outages, and the record says so (no repeat at the next boot)."""
        comms = self.comms
        if self.crash_report is None or comms is None:
            return
        comms.event(self.crash_report, now_ms)
        self.crash_report = None
        self._crash("reported")

    def _forgive(self, now_ms):
        self._crash("forgive")

    def _crash(self, change, *args):
        """Change the crash record in RTC memory (agent.crashloop's `change`)."""
        from agent import files

        self.crash = files.update_crash(change, *args)
        self.shed()

    def role_command(self, cmd, now_ms):
        if self.role_impl is None:
            return False, "cmd: %s is not handled by this device" % cmd["cmd"], None
        return self.role_impl.command(cmd, now_ms)

    def peer_message(self, payload, now_ms):
        if self.role_impl is not None:
            self.role_impl.peer_message(payload, now_ms)

    def restart_in(self, ms):
        self.sched.add("restart", ms, self._restart, first_in_ms=ms)

    def _restart(self, now_ms):
        if self.safe:  # the operator restarts it: one more try in normal mode
            self._crash("retry", self.crash_limits[0])
        if self.comms is not None:
            self.comms.goodbye()
        hal.restart()

    def _feed(self, now_ms):
        self.hal.feed()

    def _blink(self, now_ms):
        # Healthy: a short blink every 2 s. Degraded: a 4 Hz flash a technician can't miss.
        self.led_on = not self.led_on
        self.hal.set_led(self.led_on)
        if self.degraded:
            return 125
        return 50 if self.led_on else LED_PERIOD_MS - 50

    def _heartbeat(self, now_ms):
        self.heartbeats += 1
        gc.collect()  # at a quiet moment of our choosing, not in the middle of a fade
        free, used = hal.heap()
        up_s = self.up.at(now_ms) // 1000
        print("agent: up=%ds ticks=%d loop_max_us=%d heap_free=%d heap_used=%d%s"
              % (up_s, self.ticks, self.loop_us_max, free, used,
                 " SAFE MODE" if self.safe else " DEGRADED" if self.degraded else ""))
        for p in self.loaded["problems"]:
            print("agent: problem:", p)
        if self.comms is not None:
            self.comms.publish_diag(now_ms)

    def banner(self):
        cfg, board = self.cfg, self.board
        print("agent: board=%s role=%s id=%s reset=%s uid=%s" % (
            board["name"] if board else "?",
            cfg["device"]["role"] if cfg else "?",
            cfg["device"]["id"] if cfg else "?",
            hal.reset_cause(), hal.unique_id_hex()))
        if self.loaded["config_source"] not in (None, self.config_file):
            print("agent: running on", self.loaded["config_source"])
        for p in self.loaded["problems"]:
            print("agent: problem:", p)
        if self.crash["new"] or self.safe:
            print("agent: %s; last crash: %s" % (
                "SAFE MODE (crash loop): lamp at fail-safe, valve closed; tech.crashes()"
                if self.safe else "restarted after a crash", self.crash["line"]))

    def run(self, run_ms=None):
        """Run the loop (forever, or for run_ms of the board's monotonic time)."""
        ran = Uptime(time.ticks_ms()) if run_ms is not None else None
        while True:
            now = time.ticks_ms()
            left = None
            if ran is not None:
                left = run_ms - ran.at(now)
                if left <= 0:
                    return
            t0 = time.ticks_us()
            wait = self.sched.run_due(now)
            took = time.ticks_diff(time.ticks_us(), t0)
            if took > self.loop_us_max:
                self.loop_us_max = took
            self.ticks += 1
            if left is not None and left < wait:
                wait = left
            self._idle(wait)

    def _idle(self, wait):
        """Sleep until the next deadline, in slices, so an interrupt that pokes the scheduler
        (a walker at the motion sensor) is served within IDLE_SLICE_MS: a sleep on the chip
        runs interrupt handlers but does not end early. With the session up, each slice is
        a poll on its socket instead, so a command is read (and acked) as soon as it
        arrives, not at the link's next turn; interrupt handlers run during a poll too."""
        sched = self.sched
        link = self.comms.link if self.comms is not None else None
        while wait > 0 and not sched.poked:
            step = wait if wait < IDLE_SLICE_MS else IDLE_SLICE_MS
            if link is not None and link.up:
                if step > link.op_timeout_ms:
                    step = link.op_timeout_ms
                if link.wait_rx(step):
                    sched.wake("link", time.ticks_ms())
                    break
            else:
                time.sleep_ms(step)
            wait -= step
        if sched.poked:
            sched.poked = False
            sched.wake(sched.poked_name, time.ticks_ms())


def _in_safe_mode(root):
    from agent import files  # in a function of its own: the module is let go of on return

    if not files.safe_mode(root):
        return False
    print("agent: safe mode (file %r present): not started. The REPL is yours;"
          " `import agent.tech as tech; tech.help()`" % files.SAFE_MODE_FILE)
    return True


def main(root="", run_ms=None):
    if _in_safe_mode(root):
        return None
    global current, _safe
    agent = current = None
    _safe = False
    try:
        agent = current = Agent(root)  # guarded too: a bad module, a MemoryError...
        agent.banner()
        agent.run(run_ms)
    except KeyboardInterrupt:
        stop = getattr(agent.role_impl, "stop", None) if agent is not None else None
        if stop is not None:
            stop()  # outputs that must not stay on without the loop (an inlet's valve)
        print("agent: stopped by Ctrl-C. `import agent.tech as tech; tech.help()`")
        if agent is not None and agent.hal.wdt is not None:
            # The ESP32's watchdog cannot be stopped once started.
            global keeper
            keeper = hal.keep_fed(agent.hal.wdt, agent.cfg["loop"]["wdt_ms"])
            print("agent: a timer feeds the watchdog while you work; Ctrl-D restarts")
    except Exception as e:
        # Anything unexpected: keep the evidence, then restart clean rather than hang dark.
        safe = _safe
        where = "safe" if safe else "build" if agent is None else "run"
        # Uptime: the agent's (past the ticks wrap), or the ticks since boot while building.
        now = time.ticks_ms()
        up_ms = agent.up.at(now) if agent is not None else ticks_diff(now, 0)
        if not safe:
            agent = current = None  # let go of it first: a MemoryError leaves little room
        gc.collect()
        sys.print_exception(e)
        try:
            from agent import files

            files.record_crash(root, e, where, up_ms // 1000, _limits)
        except Exception as e2:  # never let the record stop the restart
            sys.print_exception(e2)
        if safe:
            # In safe mode already: a restart would only come back here. The lamp stays at
            # its fail-safe level, the valve closed; the REPL is the technician's.
            print("agent: safe mode stopped by a crash (%s); outputs stay safe."
                  " `import agent.tech as tech; tech.crashes()`" % CRASH_FILE)
            return agent
        hal.restart()
    return agent
