"""Q1: plate-accuracy audits — pass records, the month's sampling plan, the reference reader, the human queue,
Wilson intervals per camera and day/night, and a finding (with its ticket) when a camera misses the target."""
from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fleetops.domain import quality as rules
from fleetops.domain.errors import ConflictError, NotFound, ValidationFailed
from fleetops.domain.probe_reasons import error_msg
from fleetops.domain.text import Msg
from fleetops.models import Device
from fleetops.models.base import utcnow
from fleetops.models.quality import AuditSample, PassRecord, QualityFinding, SamplingPlan
from fleetops.platform import audit, events, parameters
from fleetops.services.quality import findings, queries, storage
from fleetops.services.quality.common import imaging_thresholds, month_fraction, month_of, period_at
from probes.vision import imaging, plate_reader

PLATE_TEXT_RE = re.compile(r"^[\u4e00-\u9fffA-Z0-9]{5,10}$")
_rng = random.Random()


def plan_for(session: Session, device: Device, month: str, period: str) -> SamplingPlan:
    """Q1: the month's sample size for a camera by day or night: n = z²p(1−p)/e² (≈753 day, ≈457 night)."""
    plan = _existing_plan(session, device, month, period)
    if plan is None:
        plan = SamplingPlan(device_id=device.id, month=month, period=period,
                            target_samples=_sample_size(session, period), selected=0)
        session.add(plan)
        session.flush()
    return plan


def _existing_plan(session: Session, device: Device, month: str, period: str) -> SamplingPlan | None:
    return session.scalar(select(SamplingPlan).where(
        SamplingPlan.device_id == device.id, SamplingPlan.month == month, SamplingPlan.period == period))


def _behind(target: int, selected: int, device: Device, captured_at: datetime) -> bool:
    """Q1: is the month's quota behind at this record's time (so the record is drawn)?"""
    return selected < rules.quota_due(target, month_fraction(device, captured_at))


def _sample_size(session: Session, period: str) -> int:
    target = float(parameters.get(session, f"quality_plate_target_{period}"))
    margin = float(parameters.get(session, f"quality_audit_margin_{period}"))
    return rules.sample_size(target, margin, float(parameters.get(session, "quality_audit_confidence")))


def would_draw(session: Session, device: Device, captured_at: datetime) -> bool:
    """Q1: would a pass record of this camera at this time be drawn for the audit now? Reads only (no plan is
    created), so a caller can run the slow reading before it opens the transaction that writes."""
    period = period_at(device, captured_at)
    plan = _existing_plan(session, device, month_of(device, captured_at), period)
    target, selected = (plan.target_samples, plan.selected) if plan else (_sample_size(session, period), 0)
    return _behind(target, selected, device, captured_at)


@dataclass(frozen=True)
class Look:
    """What the image shows to the machines, computed outside any transaction: the scorer's first plate box and
    every plate the reference reader read in the whole frame (None: no reader installed); `img`, the decoded frame
    they were read from, so that record_pass does not decode the same bytes again."""
    plate_box: list[int] | None
    reads: list[tuple[str, list[int]]] | None
    img: object = field(default=None, repr=False, compare=False)


def look_at(img, reader) -> Look:
    """Q1: the slow part of an audit draw (OpenCV scoring, then the reader: ~1 s a frame with rapidocr)."""
    plates = imaging.score_image(img, imaging_thresholds(rules.DEFAULT_THRESHOLDS), faces=False)["plates"]
    return Look(plates[0]["bbox"] if plates else None, None if reader is None else list(reader.read_plates(img)),
                img)


def look_at_image(image: bytes | None, reader="default") -> Look | None:
    """look_at on a file's bytes; None when there is no image or it cannot be decoded (record_pass names why)."""
    if not image:
        return None
    try:
        img = imaging.decode_image(image)
    except imaging.ImageError:
        return None
    return look_at(img, plate_reader.default_reader() if reader == "default" else reader)


def look_first(session: Session, device_code: str, captured_at: datetime, image: bytes | None,
               reader="default") -> Look | None:
    """Q1: before a pass record is written, read its image if it will be drawn — with no transaction open while the
    reader works (~1 s): the session's transaction, which must have written nothing yet, is ended first. Pass the
    result to record_pass as `look`. None when the record will not be drawn, or its input will be refused anyway."""
    device = session.scalar(select(Device).where(Device.code == device_code))
    drawn = (image is not None and device is not None and isinstance(captured_at, datetime)
             and captured_at.tzinfo is not None and would_draw(session, device, captured_at))
    session.rollback()
    return look_at_image(image, reader) if drawn else None


def record_pass(session: Session, *, device_code: str, captured_at: datetime, plate: str, store_dir: str | Path,
                image: bytes | None = None, external_id: str = "", source: str = "api", reader="default",
                rng: random.Random | None = None, look: Look | None = None) -> PassRecord:
    """Q1: store one pass record as the camera reported it; it may be drawn for the accuracy audit.

    `look`: the reading of this same `image` made beforehand (look_first), so that no write transaction waits on the
    reader; without it a drawn record is read here.

    The same (camera, external_id) sent twice is stored once. Bad input raises ValidationFailed, nothing stored;
    `details["errors"]` lists each problem (as Msg)."""
    errors = []
    text = plate_reader.normalise_plate(plate)
    if not PLATE_TEXT_RE.match(text):
        errors.append(Msg("plate %(plate)s is not a plate number", plate=repr(plate)))
    if not isinstance(captured_at, datetime) or captured_at.tzinfo is None:
        errors.append(Msg("captured_at needs a timezone (ISO 8601 with offset)"))
    img = look.img if look is not None else None
    if image and img is None:
        try:
            img = imaging.decode_image(image)
        except imaging.ImageError as err:
            errors.append(Msg("image: %(error)s", error=error_msg(err)))
    device = session.scalar(select(Device).where(Device.code == device_code))
    if device is None:
        errors.append(Msg("no device %(code)s", code=device_code))
    if errors:
        raise ValidationFailed(Msg("The pass record is not valid: %(errors)s", errors=_joined(errors)), errors=errors)
    external_id = (external_id or f"{captured_at.astimezone(timezone.utc).isoformat()}:{text}")[:100]
    existing = session.scalar(select(PassRecord).where(
        PassRecord.device_id == device.id, PassRecord.external_id == external_id))
    if existing is not None:
        return existing
    period = period_at(device, captured_at)
    rec = PassRecord(device_id=device.id, captured_at=captured_at, period=period, reported_plate=text,
                     source=source, external_id=external_id)
    if image:
        stamp = captured_at.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
        rec.image_path = storage.store(
            store_dir, f"quality/passes/{storage.safe_code(device.code)}/{stamp}_{_rng.randrange(16**6):06x}.jpg",
            storage.as_jpeg(image, img))
    session.add(rec)
    session.flush()
    _maybe_audit(session, device, rec, img, reader, rng or _rng, look)
    return rec


def _joined(parts: list[Msg]) -> Msg:
    msgid = "; ".join(f"%(p{i})s" for i in range(len(parts)))
    return Msg(msgid, **{f"p{i}": p for i, p in enumerate(parts)})


def submit_pass_record(session: Session, **fields) -> dict:
    """POST /api/v1/pass-records: record_pass, then what the caller learns about it (audited? queued?). The web layer
    reads a drawn image first (look_first) and passes `look`."""
    rec = record_pass(session, **fields)
    sample = queries.audit_sample_of(session, rec.id)
    return {"id": rec.id, "period": rec.period, "plate": rec.reported_plate, "audited": sample is not None,
            "queued_for_review": bool(sample and sample.queued)}


def _maybe_audit(session: Session, device: Device, rec: PassRecord, img, reader, rng: random.Random,
                 look: Look | None = None) -> AuditSample | None:
    """Q1: draw the record for the audit when the month's quota is behind, check it with the reader, queue for people."""
    if img is None:
        return None  # nothing to audit against
    month = month_of(device, rec.captured_at)
    plan = plan_for(session, device, month, rec.period)
    if not _behind(plan.target_samples, plan.selected, device, rec.captured_at):
        return None
    plan.selected += 1
    if look is None:  # the reference reader is loaded (once) only when a record is drawn
        look = look_at(img, plate_reader.default_reader() if reader == "default" else reader)
    bbox, auto_text, result = look.plate_box, "", "no_reader"
    if look.reads is not None:
        # The reference reader reads the whole frame: the reported plate may be any vehicle's in view.
        same = [(text, box) for text, box in look.reads if text == rec.reported_plate]
        if same:
            (auto_text, bbox), result = same[0], "agree"
        elif look.reads:
            (auto_text, bbox), result = look.reads[0], "disagree"
        else:
            result = "unread"
    sample = AuditSample(pass_record_id=rec.id, device_id=device.id, month=month, period=rec.period,
                         auto_text=auto_text, auto_result=result, plate_bbox=bbox)
    share = float(parameters.get(session, "quality_audit_human_share"))
    if result == "agree" and rng.random() >= share:
        sample.outcome = "correct"
    else:
        sample.queued = True
        sample.queue_reason = {"agree": "random", "disagree": "disagreement"}.get(result, result)
    session.add(sample)
    session.flush()
    return sample


def review(session: Session, audit_id: int, *, verdict: str, corrected_text: str = "", actor) -> AuditSample:
    """Q1: a person's verdict on a queued record: the reported plate was correct, or wrong (with the right text)."""
    sample = session.get(AuditSample, audit_id)
    if sample is None:
        raise NotFound(Msg("No audit sample %(id)s.", id=audit_id))
    if verdict not in ("correct", "wrong"):
        raise ValidationFailed(Msg("The verdict is 'correct' or 'wrong'."))
    corrected = plate_reader.normalise_plate(corrected_text)
    if verdict == "wrong" and corrected and not PLATE_TEXT_RE.match(corrected):
        raise ValidationFailed(Msg("%(plate)s is not a plate number.", plate=repr(corrected_text)))
    if verdict == "wrong" and corrected == sample.pass_record.reported_plate:
        raise ValidationFailed(Msg("The corrected plate equals the reported one: choose 'correct'."))
    if sample.reviewed_at is not None:
        raise ConflictError(Msg("Someone already reviewed this record."))
    before = {"outcome": sample.outcome}
    sample.human_verdict, sample.corrected_text = verdict, corrected if verdict == "wrong" else ""
    sample.outcome = verdict
    sample.reviewed_by = getattr(actor, "username", None) or str(actor)
    sample.reviewed_at = utcnow()
    audit.record(session, actor, "plate_audit_reviewed", "quality_audit_sample", sample.id,
                 summary=f"{sample.pass_record.reported_plate}: {verdict} {sample.corrected_text}".strip(),
                 before=before, after={"outcome": verdict, "corrected_text": sample.corrected_text})
    return sample


def accuracy_table(session: Session, month: str) -> list[dict]:
    """Q1: accuracy per camera and day/night for a month, with Wilson intervals against 98 % / 95 %."""
    rows = session.execute(
        select(AuditSample.device_id, AuditSample.period, AuditSample.outcome, func.count())
        .where(AuditSample.month == month)
        .group_by(AuditSample.device_id, AuditSample.period, AuditSample.outcome)).all()
    tally: dict[tuple[int, str], dict] = {}
    for device_id, period, outcome, n in rows:
        t = tally.setdefault((device_id, period), {"correct": 0, "wrong": 0, "pending": 0})
        t[outcome or "pending"] += n
    confidence = float(parameters.get(session, "quality_audit_confidence"))
    min_judged = int(parameters.get(session, "quality_audit_min_judged"))
    devices = {d.id: d for d in session.scalars(select(Device).where(Device.id.in_([k[0] for k in tally])))}
    plans = {(p.device_id, p.period): p for p in session.scalars(select(SamplingPlan).where(SamplingPlan.month == month))}
    out = []
    for (device_id, period), t in sorted(tally.items(), key=lambda kv: (devices[kv[0][0]].code, kv[0][1])):
        target = float(parameters.get(session, f"quality_plate_target_{period}"))
        acc = rules.accuracy(t["correct"], t["correct"] + t["wrong"], t["pending"], target, confidence, min_judged)
        plan = plans.get((device_id, period))
        out.append({"device_id": device_id, "device_code": devices[device_id].code, "period": period,
                    "month": month, "correct": acc.correct, "judged": acc.judged, "pending": acc.pending,
                    "rate": acc.rate, "low": acc.low, "high": acc.high, "target": target, "flagged": acc.flagged,
                    "planned": plan.target_samples if plan else None})
    return out


def flag_low_accuracy(session: Session, month: str) -> list[QualityFinding]:
    """Q1: cameras whose whole interval is below target get a finding and a ticket (once per month and period).

    The finding's `detail` starts with the month ("2026-06 day: …"): that is how a month's verdict is found."""
    opened = []
    for old in session.scalars(select(QualityFinding).where(
            QualityFinding.kind == "accuracy_low", QualityFinding.state == "open",
            QualityFinding.detail.not_like(f"{month} %"))):
        if old.detail[:7] < month:  # a new month is a new audit: last month's verdict is closed
            findings.clear_finding(session, old, None, note=Msg("New audit month %(month)s", month=month))
    for row in accuracy_table(session, month):
        if not row["flagged"]:
            continue
        detail = (f"{month} {row['period']}: {row['rate'] * 100:.1f}% "
                  f"(95% CI {row['low'] * 100:.1f}–{row['high'] * 100:.1f}%) < {row['target'] * 100:.0f}%")
        exists = session.scalar(select(QualityFinding).where(
            QualityFinding.device_id == row["device_id"], QualityFinding.kind == "accuracy_low",
            QualityFinding.period == row["period"], QualityFinding.detail.like(f"{month} %")))
        if exists is not None:
            continue
        device = session.get(Device, row["device_id"])
        now = utcnow()
        finding = QualityFinding(device_id=device.id, kind="accuracy_low", state="open", period=row["period"],
                                 first_seen_at=now, last_seen_at=now, count=row["judged"], detail=detail)
        session.add(finding)
        session.flush()
        audit.record(session, "quality", "quality_finding_opened", "quality_finding", finding.id,
                     summary=Msg("%(code)s: plate accuracy %(detail)s", code=device.code, detail=detail),
                     after={"kind": "accuracy_low"})
        events.emit(session, "quality_finding_opened", finding_id=finding.id, device_id=device.id, kind="accuracy_low")
        finding.ticket_id = findings.open_ticket(
            session, device, finding, Msg("Plate accuracy below target: %(detail)s", detail=detail))
        opened.append(finding)
    return opened
