"""Flapping (U6): fixed windows with at least `flap_threshold` ok↔failed changes, recomputed for the windows
that saw a change."""
from sqlalchemy import select

from fleetops.domain import availability as av
from fleetops.domain.text import Msg
from fleetops.models.monitoring import DeviceEvent, ProbeResultRow
from fleetops.services.monitoring.batch import Batch


def detect(b: Batch, device_id: int, probe: str, obs: list[av.Observation]) -> None:
    changes = [y.at for x, y in zip(obs, obs[1:]) if x.ok != y.ok]
    if not changes:
        return
    w = b.cfg.flap_window_s
    first_b, last_b = av.bucket_of(changes[0], w), av.bucket_of(changes[-1], w)
    start = av.bucket_start(first_b, w)
    end = av.bucket_start(last_b + 1, w)
    base = select(ProbeResultRow.at, ProbeResultRow.ok).where(
        ProbeResultRow.device_id == device_id, ProbeResultRow.probe == probe)
    rows = list(b.s.execute(base.where(ProbeResultRow.at < start).order_by(ProbeResultRow.at.desc()).limit(1)))
    rows = rows + list(b.s.execute(base.where(ProbeResultRow.at >= start, ProbeResultRow.at < end)
                                   .order_by(ProbeResultRow.at)))
    found = av.flap_times([av.Observation(r.at, r.ok) for r in rows], w, b.cfg.flap_threshold)
    have = {e.at: e for e in b.s.scalars(select(DeviceEvent).where(
        DeviceEvent.device_id == device_id, DeviceEvent.kind == "flapping",
        DeviceEvent.at >= start, DeviceEvent.at < end))}
    for at in found.values():
        if have.pop(at, None) is not None:
            continue
        detail = Msg("At least %(n)s changes in %(window)s s", n=b.cfg.flap_threshold, window=w)
        b.s.add(DeviceEvent(device_id=device_id, kind="flapping", at=at, detected_at=at, detail=detail.stored()))
        b.summary.flapping += 1
        b.pending_events.append(("device_flapping", {"device_id": device_id, "at": at}))
    for stale in have.values():
        b.s.delete(stale)
