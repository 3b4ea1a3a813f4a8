"""Liveness (U2): debounced runs of failures become outages; each device's status intervals follow.

Recomputed runs are matched to stored outages by overlap so an outage keeps its recorded cause; one that
late results undid is marked retracted, never deleted (tickets may point at it)."""
from sqlalchemy import or_, select

from fleetops.domain import availability as av
from fleetops.models.monitoring import Outage, StatusInterval
from fleetops.services.monitoring import flapping, intervals
from fleetops.services.monitoring.batch import Batch, Dev
from fleetops.services.monitoring.state import save_state
from fleetops.services.monitoring.settings import chunks, epoch_s, overlaps


def apply_liveness(b: Batch, plans, obs, states, probe) -> None:
    ids = list(plans)
    since = min((p["anchor"] for p in plans.values() if p["anchor"] is not None), default=None)
    existing_outages = existing(b, Outage, ids, since, Outage.started_at, Outage.ended_at,
                                extra=Outage.retracted_at.is_(None))
    since_s = epoch_s(since) if since is not None else None
    existing_iv: dict[int, list[StatusInterval]] = {d: [] for d in ids}
    for chunk in chunks(ids):
        q = select(StatusInterval).where(StatusInterval.device_id.in_(chunk))
        if since_s is not None and all(plans[d]["anchor"] is not None for d in chunk):
            q = q.where(StatusInterval.end_s >= since_s)
        for iv in b.s.scalars(q):
            existing_iv[iv.device_id].append(iv)
    derived = {}
    for d in ids:  # outages first, all devices, then one flush gives the new ones their ids
        plan, o = plans[d], obs[d]
        dev = b.devices[d]
        runs, final = av.debounce(o, b.cfg.down_after, plan["prior"])
        anchor = plan["anchor"]
        mine = [x for x in existing_outages[d] if anchor is None or x.ended_at is None or x.ended_at > anchor]
        derived[d] = (runs, final, persist_outages(b, dev, runs, mine))
    b.s.flush()
    flaps = []
    for d in ids:
        plan, o = plans[d], obs[d]
        runs, final, run_rows = derived[d]
        anchor = plan["anchor"]
        found = av.coverage(o, runs, b.cfg.max_cover(b.devices[d].kind))
        ivs = [iv for iv in existing_iv[d] if anchor is None or iv.end_s >= epoch_s(anchor)]
        intervals.persist_intervals(b, d, anchor, found, run_rows, ivs)
        save_state(b, states, d, probe, o, final)
        flaps.append((d, o))
        open_rows = [run_rows[r.start] for r in runs if r.end is None]
        b.open_run[d] = open_rows[-1] if open_rows else None
        ends = [r.end for r in runs if r.end is not None]
        if ends:
            b.last_end[d] = max(ends)
    flapping.detect_many(b, probe, flaps)


def existing(b: Batch, model, ids, since, start_col, end_col, extra=None) -> dict[int, list]:
    out: dict[int, list] = {d: [] for d in ids}
    for chunk in chunks(ids):
        q = select(model).where(model.device_id.in_(chunk))
        if extra is not None:
            q = q.where(extra)
        if since is not None:
            q = q.where(or_(end_col.is_(None), end_col > since))
        for row in b.s.scalars(q.order_by(start_col)):
            out[row.device_id].append(row)
    return out


def persist_outages(b: Batch, dev: Dev, runs: list[av.Run], stored: list[Outage]) -> dict:
    """Match recomputed runs to stored outages by overlap (keeping their cause); new ones are added,
    ones the late results undid are retracted. Returns {run start: Outage}."""
    out, used = {}, set()
    for run in runs:
        match = next((x for x in stored if id(x) not in used and overlaps(
            x.started_at, x.ended_at, run.start, run.end)), None)
        if match is None:
            match = Outage(device_id=dev.id, started_at=run.start, detected_at=run.detected_at,
                           ended_at=run.end, cause="device_fault", imported_late=b.is_late(run.end))
            b.s.add(match)
            b.opened.append(match)
            if run.end is not None:
                b.closed.append(match)
            b.site_changed(dev.site_id, run.start)
        else:
            if match.ended_at is None and run.end is not None:
                b.closed.append(match)
            if (match.started_at, match.detected_at, match.ended_at) != (run.start, run.detected_at, run.end):
                b.site_changed(dev.site_id, min(run.start, match.started_at))
                match.started_at, match.detected_at, match.ended_at = run.start, run.detected_at, run.end
        used.add(id(match))
        out[run.start] = match
    for x in stored:
        if id(x) not in used:
            x.retracted_at = b.now
            b.site_changed(dev.site_id, x.started_at)
    return out
