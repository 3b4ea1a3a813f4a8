"""SNMP (U6): reboots (sysUpTime went back, except the 497-day wrap) and hung devices (ping answers, SNMP
does not, for `down_after` polls in a row). Event details are stored `Msg`s (shown with `|msg`)."""
from datetime import timedelta

from sqlalchemy import or_, select

from fleetops.domain import availability as av
from fleetops.domain.text import Msg
from fleetops.models.monitoring import DeviceEvent, ProbeResultRow
from fleetops.services.monitoring.batch import Batch
from fleetops.services.monitoring.settings import BULK_LOOKBACK, SAME_POLL_SLACK, chunks, overlaps
from fleetops.services.monitoring.state import save_state


def apply_snmp(b: Batch, plans, obs, states, liveness) -> None:
    ids = list(plans)
    since = min((p["anchor"] for p in plans.values() if p["anchor"] is not None), default=None)
    reboots_existing = _existing_events(b, "rebooted", ids, since, by_at=True)
    hung_existing = _existing_events(b, "hung", ids, since, by_at=False)
    hung_devices = [d for d in ids if liveness[d] == "ping"]
    pings = _ping_observations(b, hung_devices, obs) if hung_devices else {}
    for d in ids:
        plan, o = plans[d], obs[d]
        anchor = plan["anchor"]
        found = av.reboots(o, plan["prev"])
        have = {e.at: e for e in reboots_existing[d] if anchor is None or e.at > anchor}
        for rb in found:
            if rb.at in have:
                have.pop(rb.at)
                continue
            detail = Msg("Booted at %(booted_at)s", booted_at=rb.booted_at.isoformat(timespec="seconds"))
            b.s.add(DeviceEvent(device_id=d, kind="rebooted", at=rb.at, detected_at=rb.at, detail=detail.stored()))
            b.summary.reboots += 1
            b.pending_events.append(("device_rebooted", {"device_id": d, "at": rb.at}))
        for stale in have.values():
            b.s.delete(stale)
        if liveness[d] == "ping":
            # the SNMP counter state of a ping-liveness device is its hung counter
            hung, final = av.hung_runs(o, pings.get(d, []), b.cfg.down_after, _interval(b, d),
                                       SAME_POLL_SLACK, plan["prior"])
            b.open_hung[d] = _persist_hung(b, d, anchor, hung, hung_existing[d])
        else:
            _runs, final = av.debounce(o, b.cfg.down_after, plan["prior"])
        save_state(b, states, d, "snmp", o, final)


def _interval(b: Batch, device_id: int) -> timedelta:
    return b.cfg.max_cover(b.devices[device_id].kind) / 2


def _ping_observations(b: Batch, ids, snmp_obs) -> dict[int, list[av.Observation]]:
    """Each device's ping results that can pair with its SNMP results being judged (see av.same_poll_ping)."""
    windows = {d: (snmp_obs[d][0].at - _interval(b, d), snmp_obs[d][-1].at + SAME_POLL_SLACK)
               for d in ids if snmp_obs.get(d)}
    out: dict[int, list[av.Observation]] = {d: [] for d in windows}
    if not windows:
        return out
    newest = max(w[0] for w in windows.values())
    bulk = sorted(d for d, w in windows.items() if w[0] >= newest - BULK_LOOKBACK)
    groups = [list(c) for c in chunks(bulk)] + [[d] for d in sorted(set(windows) - set(bulk))]
    cols = (ProbeResultRow.device_id, ProbeResultRow.at, ProbeResultRow.ok)
    for group in groups:
        lo = min(windows[d][0] for d in group)
        hi = max(windows[d][1] for d in group)
        q = select(*cols).where(ProbeResultRow.device_id.in_(group), ProbeResultRow.probe == "ping",
                                ProbeResultRow.at >= lo, ProbeResultRow.at <= hi).order_by(ProbeResultRow.at)
        for r in b.s.execute(q):
            w = windows[r.device_id]
            if w[0] <= r.at <= w[1]:
                out[r.device_id].append(av.Observation(r.at, r.ok))
    return out


def _existing_events(b: Batch, kind, ids, since, by_at: bool) -> dict[int, list[DeviceEvent]]:
    out: dict[int, list] = {d: [] for d in ids}
    for chunk in chunks(ids):
        q = select(DeviceEvent).where(DeviceEvent.device_id.in_(chunk), DeviceEvent.kind == kind)
        if since is not None:
            q = q.where(DeviceEvent.at > since) if by_at else q.where(
                or_(DeviceEvent.ended_at.is_(None), DeviceEvent.ended_at > since))
        for ev in b.s.scalars(q.order_by(DeviceEvent.at)):
            out[ev.device_id].append(ev)
    return out


def _persist_hung(b: Batch, device_id, anchor, runs, existing) -> DeviceEvent | None:
    mine = [e for e in existing if anchor is None or e.ended_at is None or e.ended_at > anchor]
    used, open_ev = set(), None
    for run in runs:
        match = next((e for e in mine if id(e) not in used and overlaps(e.at, e.ended_at, run.start, run.end)),
                     None)
        if match is None:
            match = DeviceEvent(device_id=device_id, kind="hung", at=run.start, detected_at=run.detected_at,
                                ended_at=run.end, detail=Msg("Ping answers, SNMP is silent").stored())
            b.s.add(match)
            b.summary.hung += 1
            b.pending_events.append(("device_hung", {"device_id": device_id, "at": run.detected_at}))
        else:
            match.at, match.detected_at, match.ended_at = run.start, run.detected_at, run.end
        used.add(id(match))
        if run.end is None:
            open_ev = match
    for e in mine:
        if id(e) not in used:
            b.s.delete(e)
    return open_ev
