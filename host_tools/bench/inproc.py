"""This controller's decisions on an exact clock: the street's in-process mode
(host_tools.street.inprocess: the firmware's own decision cores behind a host shell, one
virtual clock in lockstep, an in-process bus and vacuum station), run as fast as the host
goes. A street of real agents at hundreds of times real time stretches every real
millisecond a loop pass takes into most of a scenario second, which the ramp time of a dark
encounter (2 s) cannot absorb; this run has no such stretch, so the two rows together tell
the firmware's policy from the simulation's speed."""

import time


def run(s, world) -> dict:
    """{"histories", "station": {"report"}, "score", "real_s"} like a street run's result."""
    from host_tools.street import account
    from host_tools.street.inprocess import InProcessStreet

    t0 = time.monotonic()
    street = InProcessStreet(s, world)
    histories = street.run()
    rep = None
    if street.station is not None:
        rep = street.station.svc.coord.cost.report()
    return {"histories": histories, "station": {"report": rep},
            "score": account.score(s, world, histories),
            "real_s": round(time.monotonic() - t0, 1)}
