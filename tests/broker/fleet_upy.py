# Run under MicroPython by test_fleet_backoff.py: many agents' links in one process (one
# simulated radio, real sockets) against one broker. Prints READY once all are online, then
# at the end one JSON line: for each link, the real times (ms) at which it came online.
import json
import sys
import time

import simclock
import simworld
import utime

from agent import config
from agent.link import UP, Link
from agent.topics import Topics

port, n, run_s = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
simclock.set_pace(1.0)
simworld.wifi_ap("street", "pw", connect_ms=100)
secrets = config.load_secrets({"wifi": {"ssid": "street", "password": "pw"}})
links = []
for i in range(n):
    cfg = config.load({"device": {"id": "pole-%d" % i, "role": "streetlight"},
                       "mqtt": {"host": "127.0.0.1", "port": port, "keepalive_s": 10,
                                "backoff_max_s": 8, "connect_timeout_s": 2}})
    topics = Topics("city", "main", "streetlight", "pole-%d" % i)
    links.append(Link(cfg, secrets, topics, time.ticks_ms()))
ups = [[] for _ in range(n)]
was_up = [False] * n
ready = False
t0 = utime.ticks_ms()
while utime.ticks_diff(utime.ticks_ms(), t0) < run_s * 1000:
    now = time.ticks_ms()
    for i, link in enumerate(links):
        link.service(now)
        if link.state == UP and not was_up[i]:
            ups[i].append(utime.ticks_diff(utime.ticks_ms(), t0))
        was_up[i] = link.state == UP
    if not ready and all(was_up):
        ready = True
        print("READY")  # the unix port writes stdout unbuffered
    time.sleep_ms(10)
print(json.dumps({"ups": ups, "errors": [link.last_error for link in links]}))
