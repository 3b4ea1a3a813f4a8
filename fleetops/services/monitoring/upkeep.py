"""Regular upkeep: the sampled real-time online rate (U4; devices gone quiet become unknown) and pruning raw
results past the retention window."""
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, func, select, update
from sqlalchemy.orm import Session

from fleetops.domain.choices import CONTRACT_KINDS, IN_SERVICE, DeviceStatus
from fleetops.models import Device
from fleetops.models.base import utcnow
from fleetops.models.monitoring import MonitorState, OnlineRateSample, ProbeResultRow
from fleetops.services.monitoring.settings import IngestConfig


POLLER_SILENT_COVERS = 5  # 30 s polls: silent after 5 min without any result; 60 s polls: after 10 min


def sample_online_rate(session: Session, cfg: IngestConfig | None = None, now: datetime | None = None
                       ) -> OnlineRateSample | None:
    """U4: mark devices whose results stopped coming as unknown, then record the share of devices online now.

    "Stopped coming" is measured against the poller's own progress (the newest result of any device), not the
    wall clock: a poll cycle that runs late (a slow cycle on a busy host, or this job firing beside the first
    poll after a restart) used to turn the whole fleet unknown and record a 0 % sample while the devices were
    up — the dashboard's chart ended at 0 % beside a 98.91 % tile (issue 13). When no device has reported for
    POLLER_SILENT_COVERS times what a result covers, the poller itself is silent: devices become unknown (the
    status page must not say "online" from old results), but no sample is recorded — a gap, not a 0 %."""
    cfg = cfg or IngestConfig()
    now = now or utcnow()
    rows = session.execute(
        select(Device.id, Device.kind, MonitorState.last_at)
        .join(MonitorState, and_(MonitorState.device_id == Device.id, MonitorState.probe == Device.liveness_probe))
        .where(Device.status != DeviceStatus.UNKNOWN.value)).all()
    newest = session.scalar(select(func.max(MonitorState.last_at)))
    poller_silent = newest is None or now - newest > POLLER_SILENT_COVERS * cfg.max_cover("")
    ref = now if poller_silent else newest
    stale = [{"did": r.id, "since": r.last_at + cfg.max_cover(r.kind)} for r in rows
             if r.last_at is not None and ref - r.last_at > cfg.max_cover(r.kind)]
    if stale:
        table = Device.__table__
        stmt = update(table).where(table.c.id == bindparam("did")).values(
            status=DeviceStatus.UNKNOWN.value, status_since=bindparam("since"))
        session.connection().execute(stmt, stale)
    if poller_silent and newest is not None:
        return None
    in_service = [x.value for x in IN_SERVICE]
    base = select(func.count(Device.id)).where(Device.lifecycle.in_(in_service), Device.ip_address.is_not(None))
    contract = base.where(Device.kind.in_([str(k) for k in CONTRACT_KINDS]))
    up = Device.status == DeviceStatus.UP.value
    sample = OnlineRateSample(at=now, in_service=session.scalar(base) or 0, online=session.scalar(base.where(up)) or 0,
                              contract_in_service=session.scalar(contract) or 0,
                              contract_online=session.scalar(contract.where(up)) or 0)
    session.add(sample)
    return sample


def prune_results(session: Session, retention_days: int, now: datetime | None = None) -> int:
    """Drop raw results past the retention window; outages, intervals and events stay forever."""
    cutoff = (now or utcnow()) - timedelta(days=retention_days)
    res = session.execute(ProbeResultRow.__table__.delete().where(ProbeResultRow.at < cutoff))
    return res.rowcount or 0
