"""Flapping (U6): fixed windows with at least `flap_threshold` ok↔failed changes, recomputed for the windows
that saw a change — for all the devices of a batch at once (a few queries, not three per device)."""
from collections import defaultdict
from datetime import timedelta

from sqlalchemy import select, text

from fleetops.domain import availability as av
from fleetops.domain.text import Msg
from fleetops.models.monitoring import DeviceEvent, ProbeResultRow
from fleetops.services.monitoring import bulk
from fleetops.services.monitoring.batch import Batch

BEFORE = timedelta(hours=1)  # the result just before a window is looked for this far back in the bulk query


def detect(b: Batch, device_id: int, probe: str, obs: list[av.Observation]) -> None:
    detect_many(b, probe, [(device_id, obs)])


def detect_many(b: Batch, probe: str, items: list[tuple[int, list[av.Observation]]]) -> None:
    """For each (device, its observations of this batch) with a change: the windows from its first to its last
    change are re-judged from every stored result in them (plus the one just before) and their flapping events
    made to match."""
    w = b.cfg.flap_window_s
    windows = {}
    for d, obs in items:
        changes = [y.at for x, y in zip(obs, obs[1:]) if x.ok != y.ok]
        if changes:
            windows[d] = (av.bucket_start(av.bucket_of(changes[0], w), w),
                          av.bucket_start(av.bucket_of(changes[-1], w) + 1, w))
    if not windows:
        return
    rows: dict[int, list] = defaultdict(list)
    events: dict[int, dict] = defaultdict(dict)
    t, e = ProbeResultRow.__table__, DeviceEvent.__table__
    conn = b.s.connection()
    for chunk in bulk.id_chunks(b.s, windows):
        lo = min(windows[d][0] for d in chunk)
        hi = max(windows[d][1] for d in chunk)
        for d, at, ok in conn.execute(select(t.c.device_id, t.c.at, t.c.ok).where(
                bulk.in_ids(b.s, t.c.device_id, chunk), t.c.probe == probe, t.c.at >= lo - BEFORE,
                t.c.at < hi)).all():
            if windows[d][0] - BEFORE <= at < windows[d][1]:
                rows[d].append(av.Observation(at, ok))
        for ev in b.s.scalars(select(DeviceEvent).where(
                bulk.in_ids(b.s, e.c.device_id, chunk), DeviceEvent.kind == "flapping",
                DeviceEvent.at >= lo, DeviceEvent.at < hi)).all():
            if windows[ev.device_id][0] <= ev.at < windows[ev.device_id][1]:
                events[ev.device_id][ev.at] = ev
    for r in rows.values():
        r.sort(key=lambda o: o.at)
    # Nothing in the hour before a window: the last result before it, however old (one query on PostgreSQL).
    far = {d: windows[d][0] for d in windows if not rows[d] or rows[d][0].at >= windows[d][0]}
    earlier = _last_before(b, probe, far)
    for d, _obs in items:
        if d not in windows:
            continue
        start, end = windows[d]
        mine = rows[d]
        before = [o for o in mine if o.at < start][-1:] if d not in far else earlier.get(d, [])
        inside = [o for o in mine if o.at >= start]
        found = av.flap_times(before + inside, w, b.cfg.flap_threshold)
        have = events[d]
        for at in found.values():
            if have.pop(at, None) is not None:
                continue
            detail = Msg("At least %(n)s changes in %(window)s s", n=b.cfg.flap_threshold, window=w)
            b.s.add(DeviceEvent(device_id=d, kind="flapping", at=at, detected_at=at, detail=detail.stored()))
            b.summary.flapping += 1
            b.pending_events.append(("device_flapping", {"device_id": d, "at": at}))
        for stale in have.values():
            b.s.delete(stale)


def _last_before(b: Batch, probe: str, starts: dict) -> dict[int, list[av.Observation]]:
    """Each device's last result of `probe` before its time in `starts` ([] when there is none)."""
    if not starts:
        return {}
    out: dict[int, list[av.Observation]] = {}
    if bulk.is_pg(b.s):
        ids = sorted(starts)
        for chunk in bulk.id_chunks(b.s, ids):
            rows = b.s.execute(text(
                "SELECT d.id, r.at, r.ok FROM unnest(CAST(:ids AS bigint[]), CAST(:starts AS timestamptz[])) "
                "AS d(id, start) CROSS JOIN LATERAL (SELECT at, ok FROM probe_results WHERE device_id = d.id "
                "AND probe = :probe AND at < d.start ORDER BY at DESC LIMIT 1) r"),
                {"ids": chunk, "starts": [starts[d] for d in chunk], "probe": probe}).all()
            for d, at, ok in rows:
                out[d] = [av.Observation(at, ok)]
        return out
    for d, start in starts.items():  # SQLite: in-process, one indexed lookup each
        out[d] = [av.Observation(r.at, r.ok) for r in b.s.execute(
            select(ProbeResultRow.at, ProbeResultRow.ok).where(
                ProbeResultRow.device_id == d, ProbeResultRow.probe == probe, ProbeResultRow.at < start)
            .order_by(ProbeResultRow.at.desc()).limit(1))]
    return out
