"""From a typed request to acks: which devices, the command each gets (checked against the
firmware's schema for that device's role and config), signed with its key and a counter never
used before, then sent, and each ack (or its absence) as a row. plan() and signed_payload()
are pure; send() does the waiting."""

import json
import re
import secrets
import time
from dataclasses import dataclass

from agent import sign

from . import build
from .cmdline import Request
from .counters import CounterStore
from .fleetview import Device, FleetView
from .keys import KnownDevice
from .table import AckRow, ack_detail

# The device's refusal names its last accepted counter: the store goes above it.
_LAST_ACCEPTED = re.compile(r"the last accepted (\d+)")


@dataclass
class Planned:
    device: Device
    key: bytes | None
    body: dict  # {"cmd", "args"}


def plan(view: FleetView, known: dict[str, KnownDevice], req: Request,
         unsigned: bool = False) -> tuple[list[Planned], str | None]:
    """Every device's command, or one line saying why none is sent (all or nothing)."""
    devices, err = view.select(req.target)
    if err:
        return [], err
    out = []
    for d in devices:
        kd = known.get(d.id)
        key = kd.key if kd else None
        if key is None and not unsigned:
            return [], ("%s: no command key (--keys: its device folder or the `street broker "
                        "init` folder; --unsigned only for a lab device)" % d.id)
        try:
            body = build.build(req.verb, req.args, d.kind, kd.raw_config if kd else None)
        except build.CommandError as e:
            return [], "%s: %s" % (d.id, e)
        out.append(Planned(d, None if unsigned else key, body))
    return out, None


def new_id() -> str:
    return "op" + secrets.token_hex(5)


def signed_payload(p: Planned, cid: str, ctr: int | None) -> bytes:
    """The bytes for the device's cmd topic: signed when there is a key."""
    doc = {"id": cid, "cmd": p.body["cmd"]}
    if p.body["args"]:
        doc["args"] = p.body["args"]
    if p.key is not None:
        doc["ctr"] = ctr
    text = json.dumps(doc, separators=(",", ":"))
    if len(text.encode()) > sign.BODY_MAX_BYTES:
        raise build.CommandError("command too long: %d bytes, the device reads at most %d"
                                 % (len(text.encode()), sign.BODY_MAX_BYTES))
    if p.key is None:
        return text.encode()
    return sign.sign_command(p.key, p.device.id, text)


def refusal_row(ack_error: str, store: CounterStore, device_id: str) -> str:
    """The device's error, with the counter store moved above the device's count when the
    refusal says where that is."""
    m = _LAST_ACCEPTED.search(ack_error)
    if m and "not above" in ack_error:
        store.raise_to(device_id, int(m.group(1)))
        return ack_error + "; this tool's counter now follows the device: send again"
    return ack_error


def send(session, store: CounterStore, planned: list[Planned], timeout_s: float,
         on_row=None) -> list[AckRow]:
    """Send every planned command, then collect the acks until all are in or timeout_s
    has passed since the last was sent. on_row(row) is called as each row is known."""
    cid = new_id()
    pending: dict[str, tuple[float, Planned]] = {}
    rows: list[AckRow] = []

    def emit(row):
        rows.append(row)
        if on_row:
            on_row(row)

    with session.cond:
        seen = len(session.acks)
    for p in planned:
        ctr = store.next(p.device.id, floor=p.device.cmd_ctr()) if p.key is not None else None
        payload = signed_payload(p, cid, ctr)
        pending[p.device.id] = (time.monotonic(), p)
        session.publish(p.device.cmd_topic, payload)
    deadline = time.monotonic() + timeout_s
    while pending:
        session.wait(lambda n=seen: len(session.acks) > n,
                     max(0.0, deadline - time.monotonic()))
        with session.cond:
            fresh, seen = session.acks[seen:], len(session.acks)
        for arrived, ack in fresh:
            if ack.id != cid or ack.device not in pending:
                continue
            t0, p = pending.pop(ack.device)
            if ack.ok:
                emit(AckRow(ack.device, "ok", arrived - t0, ack_detail(ack.state, p.device.kind)))
            else:
                emit(AckRow(ack.device, "refused", arrived - t0,
                            refusal_row(ack.error or "", store, ack.device)))
        if not fresh and time.monotonic() >= deadline:
            break
    for dev_id, (_, p) in pending.items():
        note = " (the device is offline)" if p.device.online is False else ""
        emit(AckRow(dev_id, "timeout", None, "no ack in %g s%s" % (timeout_s, note)))
    return rows
