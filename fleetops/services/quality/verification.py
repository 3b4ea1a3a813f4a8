"""T6: a ticket opened by a quality finding verifies only on a good snapshot taken after the repair.

`verify_with_snapshot` is registered by fleetops.wiring (TICKET_VERIFIERS) for every category a finding opens.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleetops.domain import quality as rules
from fleetops.domain.text import Msg
from fleetops.models import Device
from fleetops.models.base import utcnow
from fleetops.models.quality import QualityFinding, SnapshotSample
from fleetops.services.quality import storage
from fleetops.services.quality.common import period_at
from fleetops.services.quality.sampling import sample_device

# Every ticket category a finding can open (the verifier is wired for each).
TICKET_CATEGORIES = tuple(sorted({rules.ticket_category(k, p) for k in rules.FINDING_KINDS
                                  for p in (rules.DAY, rules.NIGHT)}))


def verify_with_snapshot(session: Session, ticket, now: datetime) -> str | None:
    """What still stops a quality ticket from verifying (in the reader's language), or None.

    At night for night faults. Returned as text (the tickets area joins the problems of all its verifiers)."""
    if getattr(ticket, "source", "") != "quality" or ticket.device_id is None:
        return None
    since = ticket.resolved_at or ticket.opened_at
    found = session.execute(select(QualityFinding.kind, QualityFinding.period)
                            .where(QualityFinding.ticket_id == ticket.id)).all()
    kinds = {k for k, _ in found}
    periods = {p for k, p in found if k in rules.PERIOD_BOUND_KINDS and p}
    q = select(SnapshotSample).where(SnapshotSample.device_id == ticket.device_id, SnapshotSample.ok.is_(True),
                                     SnapshotSample.taken_at >= since)
    if len(periods) == 1:
        q = q.where(SnapshotSample.period == next(iter(periods)))
    latest = session.scalar(q.order_by(SnapshotSample.taken_at.desc(), SnapshotSample.id.desc()).limit(1))
    if latest is None:
        latest = _sample_for_verification(session, ticket.device_id, periods)
    if latest is None:
        if periods == {rules.NIGHT}:
            return str(Msg("Needs a good snapshot taken at night after the repair."))
        return str(Msg("Needs a good snapshot taken after the repair."))
    still = [k for k in latest.problems or [] if not kinds or k in kinds]
    if still:
        return str(Msg("The snapshot after the repair still shows: %(kinds)s.", kinds=", ".join(still)))
    return None


def _sample_for_verification(session: Session, device_id: int, periods: set) -> SnapshotSample | None:
    """Inside the app, take a fresh snapshot when verifying (Q3: 'when a ticket is verified')."""
    store_dir = storage.upload_dir()
    if not store_dir:
        return None
    device = session.get(Device, device_id)
    if device is None or not device.snapshot_url or (len(periods) == 1 and period_at(device, utcnow()) not in periods):
        return None
    sample = sample_device(session, device, store_dir=store_dir, trigger="verify")
    return sample if sample.ok else None
