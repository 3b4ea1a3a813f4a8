"""Reads for the quality pages, the API and the CLI (no writes)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleetops.domain.choices import CAMERA_KINDS, IN_SERVICE
from fleetops.models import Device
from fleetops.models.quality import AuditSample, QualityFinding, ReferenceImage, SnapshotSample
from fleetops.services.inventory.devices import get_device  # noqa: F401 - the one lookup by code, re-exported


def cameras(session: Session) -> list[Device]:
    """In-service cameras with a snapshot source (Q3)."""
    return list(session.scalars(select(Device).where(
        Device.kind.in_([k.value for k in CAMERA_KINDS]), Device.lifecycle.in_([s.value for s in IN_SERVICE]),
        Device.snapshot_url != "").order_by(Device.code)))


def devices_with_snapshot_source(session: Session) -> list[Device]:
    """Every device with a snapshot source, whatever its kind or lifecycle (the cameras page)."""
    return list(session.scalars(select(Device).where(Device.snapshot_url != "").order_by(Device.code)))


def list_findings(session: Session, state: str = "open", device_id: int | None = None, limit: int = 200) -> list[QualityFinding]:
    q = select(QualityFinding).order_by(QualityFinding.last_seen_at.desc()).limit(limit)
    if state:
        q = q.where(QualityFinding.state == state)
    if device_id is not None:
        q = q.where(QualityFinding.device_id == device_id)
    return list(session.scalars(q))


def latest_samples(session: Session, device_id: int, limit: int = 12) -> list[SnapshotSample]:
    return list(session.scalars(select(SnapshotSample).where(SnapshotSample.device_id == device_id)
                                .order_by(SnapshotSample.taken_at.desc(), SnapshotSample.id.desc()).limit(limit)))


def reference_of(session: Session, device_id: int) -> ReferenceImage | None:
    return session.scalar(select(ReferenceImage).where(ReferenceImage.device_id == device_id))


def camera_page(session: Session, code: str) -> dict:
    """A camera's page: the device, its last 12 snapshots, its reference view and its last 20 findings."""
    device = get_device(session, code)
    return {"device": device, "samples": latest_samples(session, device.id, 12),
            "reference": reference_of(session, device.id),
            "findings": list_findings(session, state="", device_id=device.id, limit=20)}


def audit_queue(session: Session, limit: int = 50) -> list[AuditSample]:
    """The human audit queue, oldest first: disagreements, unread plates and the random share."""
    return list(session.scalars(select(AuditSample).where(AuditSample.queued.is_(True), AuditSample.outcome.is_(None))
                                .order_by(AuditSample.id).limit(limit)))


def audit_sample_of(session: Session, pass_record_id: int) -> AuditSample | None:
    return session.scalar(select(AuditSample).where(AuditSample.pass_record_id == pass_record_id))


def finding_dict(f: QualityFinding) -> dict:
    return {"id": f.id, "device_code": f.device.code, "kind": f.kind, "state": f.state, "period": f.period,
            "first_seen_at": f.first_seen_at.isoformat(), "last_seen_at": f.last_seen_at.isoformat(),
            "count": f.count, "detail": f.detail, "ticket_id": f.ticket_id,
            "cleared_at": f.cleared_at.isoformat() if f.cleared_at else None}
