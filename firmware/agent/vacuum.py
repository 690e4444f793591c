# The inlet <-> vacuum station protocol (pure), shared by the inlet firmware and the
# station coordinator (host_tools/station), so both read and write the same fields.
#
# Inlet -> station (the inlet's own topics):
#   state  (retained)  the request: "request" none|may|must, "priority", "ttf_s" (predicted
#                      seconds to full) and "ttf_err_s", "fillingLevel" 0..1 or null, "status"
#   event  (QoS 1)     discharge steps: {"event":"discharge","cycle":N,"step":STEP,...}
# Station -> the inlets of one pipe branch, on <prefix>/<site>/inlet/group/<branch>/peer
# (only the station may publish there: see agent.topics.PEER_WRITERS):
#   {"t":"grant","id":INLET,"cycle":N,"ttl_s":S,"vac":bool}  this inlet may discharge once
#        within ttl_s of receiving it; vac: the branch is at working vacuum now
#   {"t":"vacuum","ready":bool}   the branch's vacuum came up / was lost (lost: close at once)
#   {"t":"revoke","id":INLET,"cycle":N}   the grant is withdrawn (close at once)
# Station messages carry the usual envelope (agent.message: v, seq, ts).
from micropython import const

from agent.message import safe_loads

REQ_NONE, REQ_MAY, REQ_MUST = "none", "may", "must"
REQUESTS = (REQ_NONE, REQ_MAY, REQ_MUST)
PRIORITY_MAX = const(100)
TTL_MAX_S = const(600)
CYCLE_MAX = const((1 << 30) - 1)

# Discharge steps an inlet reports (event "discharge"), in the order they happen.
STEP_OPENED = "opened"  # valve commanded open (grant live, vacuum ready)
STEP_CLOSED = "closed"  # valve commanded closed and its limit switch confirms it
STEP_DONE = "done"  # level checked after closing: "emptied" true/false
STEP_ABORTED = "aborted"  # the cycle ended without a discharge ("why" says what failed)
STEPS = (STEP_OPENED, STEP_CLOSED, STEP_DONE, STEP_ABORTED)

MAX_MSG_BYTES = const(512)
_MAX_DEPTH = const(3)


def grant(inlet_id, cycle, ttl_s, vac):
    return {"t": "grant", "id": inlet_id, "cycle": cycle, "ttl_s": ttl_s, "vac": bool(vac)}


def vacuum(ready):
    return {"t": "vacuum", "ready": bool(ready)}


def revoke(inlet_id, cycle):
    return {"t": "revoke", "id": inlet_id, "cycle": cycle}


def _is_int(v):
    return type(v) is int


def _is_num(v):
    return type(v) is int or type(v) is float


def _num_in(v, lo, hi):
    return (isinstance(v, int) or isinstance(v, float)) and not isinstance(v, bool) and \
        lo <= v <= hi


def _cycle_ok(v):
    return _is_int(v) and 0 <= v <= CYCLE_MAX


def parse_station(payload):
    """(message dict, None) or (None, why) for bytes heard on the branch topic. Only the
    fields above are trusted; anything malformed is refused whole (never raises)."""
    obj, err = safe_loads(payload, MAX_MSG_BYTES, _MAX_DEPTH)
    if err:
        return None, err
    if not isinstance(obj, dict):
        return None, "not a JSON object"
    t = obj.get("t")
    if t == "grant":
        if not isinstance(obj.get("id"), str):
            return None, "grant: id must be an inlet id"
        if not _cycle_ok(obj.get("cycle")):
            return None, "grant: cycle must be an integer 0..%d" % CYCLE_MAX
        ttl = obj.get("ttl_s")
        if not _num_in(ttl, 0, TTL_MAX_S) or ttl == 0:
            return None, "grant: ttl_s must be a number in (0, %d]" % TTL_MAX_S
        if type(obj.get("vac")) is not bool:
            return None, "grant: vac must be true or false"
        return obj, None
    if t == "vacuum":
        if type(obj.get("ready")) is not bool:
            return None, "vacuum: ready must be true or false"
        return obj, None
    if t == "revoke":
        if not isinstance(obj.get("id"), str) or not _cycle_ok(obj.get("cycle")):
            return None, "revoke: id and cycle required"
        return obj, None
    return None, "unknown station message %r" % (t,)


def request_fields(request, priority, ttf_s, ttf_err_s):
    """The request part of an inlet's state."""
    return {"request": request, "priority": priority, "ttf_s": ttf_s, "ttf_err_s": ttf_err_s}


def read_request(state):
    """(request, priority, ttf_s or None) from an inlet's state dict, or None if it holds no
    valid request fields (the station then treats the inlet as not asking)."""
    if not isinstance(state, dict):
        return None
    req, prio, ttf = state.get("request"), state.get("priority"), state.get("ttf_s")
    if req not in REQUESTS or not _is_int(prio) or not _num_in(prio, 0, PRIORITY_MAX):
        return None
    if ttf is not None and not _is_num(ttf):
        return None
    return req, prio, ttf


def discharge_event(cycle, step, **fields):
    out = {"event": "discharge", "cycle": cycle, "step": step}
    out.update(fields)
    return out


def read_discharge(event):
    """(cycle, step) from an inlet's event dict if it is a discharge step, else None."""
    if not isinstance(event, dict) or event.get("event") != "discharge":
        return None
    cycle, step = event.get("cycle"), event.get("step")
    if not _cycle_ok(cycle) or step not in STEPS:
        return None
    return cycle, step
