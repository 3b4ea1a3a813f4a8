"""Q3: findings — open one when a problem persists over N samples (with its ticket), clear it on a good frame.

Events emitted: quality_finding_opened(finding_id, device_id, kind), quality_finding_cleared(finding_id, device_id).
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleetops.domain import quality as rules
from fleetops.domain.text import Msg
from fleetops.models import Device
from fleetops.models.base import utcnow
from fleetops.models.quality import QualityFinding, SnapshotSample
from fleetops.platform import audit, events, parameters
from fleetops.services import tickets


def update_findings(session: Session, device: Device, sample: SnapshotSample) -> None:
    """Q3: open a finding when the last N samples all show a problem; a good sample clears it."""
    needed = int(parameters.get(session, "quality_persist_samples"))
    history = [s.problems or [] for s in session.scalars(
        select(SnapshotSample).where(SnapshotSample.device_id == device.id, SnapshotSample.ok.is_(True))
        .order_by(SnapshotSample.taken_at.desc(), SnapshotSample.id.desc()).limit(max(needed, 1)))]
    open_findings = {f.kind: f for f in session.scalars(select(QualityFinding).where(
        QualityFinding.device_id == device.id, QualityFinding.state == "open",
        QualityFinding.kind != "accuracy_low"))}
    reasons = (sample.scores or {}).get("problem_reasons", {})
    for kind in sample.problems or []:
        finding = open_findings.get(kind)
        if finding is not None:
            finding.last_seen_at = sample.taken_at
            finding.count += 1
        elif rules.persists(history, kind, needed):
            open_finding(session, device, kind, sample, reasons.get(kind, ""), needed)
    for kind, finding in open_findings.items():
        # A dead fill light is invisible by day: night-only faults clear only on a good frame of their period.
        if kind not in (sample.problems or []) and (kind not in rules.PERIOD_BOUND_KINDS
                                                     or finding.period == sample.period):
            clear_finding(session, finding, sample)


def open_finding(session: Session, device: Device, kind: str, sample: SnapshotSample, reason: str,
                 count: int) -> QualityFinding:
    """A frame finding with the sample's image as evidence, its audit row, its event and its ticket."""
    first = session.scalars(select(SnapshotSample.taken_at).where(
        SnapshotSample.device_id == device.id, SnapshotSample.ok.is_(True))
        .order_by(SnapshotSample.taken_at.desc()).limit(max(count, 1))).all()
    # An illegible plate is shown by the crop round it (the frame stays with the sample); others by the frame.
    evidence = ((sample.scores or {}).get("evidence_crop") if kind == "plate_illegible" else None) or sample.image_path
    finding = QualityFinding(device_id=device.id, kind=kind, state="open", period=sample.period,
                             first_seen_at=min(first) if first else sample.taken_at, last_seen_at=sample.taken_at,
                             count=count, evidence_path=evidence, detail=reason)
    session.add(finding)
    session.flush()
    why = Msg.from_stored(reason) or reason  # the plate's reasons are a stored Msg: words in the reader's language
    label = Msg(rules.FindingKind._LABELS[kind], context="FindingKind") if kind in rules.FindingKind._LABELS else kind
    audit.record(session, "quality", "quality_finding_opened", "quality_finding", finding.id,
                 summary=Msg("%(code)s: %(kind)s (%(reason)s)", code=device.code, kind=label, reason=why),
                 after={"device_id": device.id, "kind": kind, "evidence_path": finding.evidence_path})
    events.emit(session, "quality_finding_opened", finding_id=finding.id, device_id=device.id, kind=kind)
    finding.ticket_id = open_ticket(session, device, finding,
                                    Msg("Image quality: %(kind)s: %(reason)s", kind=label, reason=why))
    return finding


def open_ticket(session: Session, device: Device, finding: QualityFinding, summary: Msg) -> int:
    """Q3: a finding opens a ticket with the evidence image (the tickets area dedupes per device and fault)."""
    t = tickets.open_ticket(session, device_id=device.id, category=rules.ticket_category(finding.kind, finding.period),
                            source="quality", opened_by="quality", detected_at=finding.first_seen_at,
                            evidence_path=finding.evidence_path, summary=summary.stored())
    return t.id


def clear_finding(session: Session, finding: QualityFinding, sample: SnapshotSample | None,
                  note: Msg | None = None) -> None:
    finding.state = "cleared"
    finding.cleared_at = sample.taken_at if sample else utcnow()
    summary = note or Msg("Good snapshot %(image)s", image=sample.image_path if sample else "")
    audit.record(session, "quality", "quality_finding_cleared", "quality_finding", finding.id,
                 summary=summary, before={"state": "open"}, after={"state": "cleared"})
    events.emit(session, "quality_finding_cleared", finding_id=finding.id, device_id=finding.device_id)
