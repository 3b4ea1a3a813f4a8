"""Image quality use cases: sample cameras, keep findings and their tickets, plate-accuracy audits (Q1–Q4).

Events emitted: quality_finding_opened(finding_id, device_id, kind), quality_finding_cleared(finding_id, device_id).
"""
from __future__ import annotations

import calendar
import hashlib
import logging
import random
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fleetops.domain import quality as rules
from fleetops.domain import sla
from fleetops.domain.choices import CAMERA_KINDS, IN_SERVICE
from fleetops.domain.errors import ConflictError, FleetopsError, NotFound, ValidationFailed
from fleetops.models import Device
from fleetops.models.base import utcnow
from fleetops.models.quality import (
    AuditSample, PassRecord, QualityFinding, ReferenceImage, SamplingPlan, SnapshotSample,
)
from fleetops.platform import audit, events, parameters
from probes import imaging, plate_reader, snapshot

log = logging.getLogger(__name__)

# Contract numbers this area reads (key → default, description); registered by fleetops.wiring.
PARAMETERS = {
    "quality_thresholds": ({"default": {"all": dict(rules.DEFAULT_THRESHOLDS), "night": dict(rules.NIGHT_OVERRIDES)}},
        "Q3: image thresholds: default.all, then default.day / default.night, then the same per camera kind, "
    'e.g. add "speed_camera": {"day": {"min_sharpness": 60}}'),
    "quality_persist_samples": (3,
        "Q3: consecutive bad snapshots before a finding (and its ticket) opens"),
    "quality_sample_interval_min": (60,
        "Q3: minutes between scheduled snapshots of one camera (day and night alike)"),
    "quality_keep_good_images_days": (14,
        "Q3: days to keep the images of good snapshots (evidence and problem frames are kept)"),
    "quality_plate_target_day": (0.98,
        "Q1: plate recognition accuracy by day"),
    "quality_plate_target_night": (0.95,
        "Q1: plate recognition accuracy at night"),
    "quality_audit_margin_day": (0.01,
        "Q1: audit precision by day (±, at the confidence)"),
    "quality_audit_margin_night": (0.02,
        "Q1: audit precision at night (±)"),
    "quality_audit_confidence": (0.95,
        "Q1: confidence of the audit intervals"),
    "quality_audit_human_share": (0.05,
        "Q1: share of records the reader agreed with that still go to a person"),
    "quality_audit_min_judged": (30,
        "Q1: audited records needed before a camera can be flagged"),
}

MAX_PARALLEL_FETCHES = 8
_rng = random.Random()


# ---------------------------------------------------------------- helpers

def period_at(device: Device, at: datetime) -> str:
    """T2/Q1: day or night by the sun at the device's site."""
    site = device.site
    return sla.day_or_night(site.latitude, site.longitude, at, site.timezone or "Asia/Shanghai")


def _thresholds(session: Session, device: Device, period: str) -> dict:
    t = rules.thresholds_for(parameters.get(session, "quality_thresholds") or {}, device.kind, period)
    t["_night"] = period == rules.NIGHT and bool(t.get("check_faces_at_night"))
    return t


def _imaging_thresholds(t: dict) -> imaging.Thresholds:
    names = imaging.Thresholds.__dataclass_fields__
    return imaging.Thresholds(**{k: float(v) for k, v in t.items() if k in names})


def _store(store_dir: str | Path, rel: str, data: bytes) -> str:
    path = Path(store_dir) / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".part")
    tmp.write_bytes(data)
    tmp.replace(path)
    return rel


def _safe_code(code: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", code)


def image_file(store_dir: str | Path, rel: str) -> Path | None:
    """The stored image for a relative path, refusing anything outside the store (path traversal)."""
    if not rel:
        return None
    root = (Path(store_dir) / "quality").resolve()
    path = (Path(store_dir) / rel).resolve()
    if root not in path.parents or not path.is_file():
        return None
    return path


def get_device(session: Session, code: str) -> Device:
    device = session.scalar(select(Device).where(Device.code == code))
    if device is None:
        raise NotFound(f"没有设备 {code} / No device {code}.")
    return device


def cameras(session: Session) -> list[Device]:
    """In-service cameras with a snapshot source (Q3)."""
    return list(session.scalars(select(Device).where(
        Device.kind.in_([k.value for k in CAMERA_KINDS]), Device.lifecycle.in_([s.value for s in IN_SERVICE]),
        Device.snapshot_url != "").order_by(Device.code)))


# ---------------------------------------------------------------- sampling (Q3)

@dataclass
class Capture:
    """A fetched and scored frame, before it is compared with history and stored (no database)."""

    device_id: int
    at: datetime
    ok: bool
    detail: str = ""
    data: bytes = b""
    image: object = None
    scores: dict | None = None


def capture(device_id: int, code: str, source: str, username: str, password: str, thresholds: dict,
            timeout_s: float = 5.0) -> Capture:
    """Fetch one snapshot and score it; a bad device gives ok=False with the reason, never an exception."""
    at = utcnow()
    result = snapshot.fetch_snapshot(code, source, username, password, timeout_s)
    if not result.ok:
        return Capture(device_id, at, False, result.detail)
    try:
        img = imaging.decode_image(result.data)
    except imaging.ImageError as err:
        return Capture(device_id, at, False, f"抓拍图片无效 / snapshot is not a usable image: {err}")
    try:
        # Q2: faces are judged at night only; by day the face search (the costliest score) is skipped.
        scores = imaging.score_image(img, _imaging_thresholds(thresholds), faces=bool(thresholds.get("_night")))
    except Exception:  # a scorer bug on one frame must not stop the other cameras' samples
        log.exception("scoring the snapshot of %s failed", code)
        return Capture(device_id, at, False, "评分失败 (已记录) / scoring failed; logged for the developers")
    return Capture(device_id, at, True, "", result.data, img, scores)


def sample_device(session: Session, device: Device, *, store_dir: str | Path, trigger: str = "on_demand",
                  timeout_s: float = 5.0, now: datetime | None = None) -> SnapshotSample:
    """Take one snapshot of a camera now: fetch → score → store → findings (and tickets). The caller commits."""
    now = now or utcnow()
    period = period_at(device, now)
    cap = capture(device.id, device.code, device.snapshot_url, device.snapshot_username,
                  device.snapshot_password, _thresholds(session, device, period), timeout_s)
    cap.at = now
    return record_capture(session, device, cap, store_dir=store_dir, trigger=trigger)


def record_capture(session: Session, device: Device, cap: Capture, *, store_dir: str | Path,
                   trigger: str = "schedule") -> SnapshotSample:
    """Compare a capture with the camera's last frame and reference view, store it, update findings."""
    period = period_at(device, cap.at)
    sample = SnapshotSample(device_id=device.id, taken_at=cap.at, period=period, ok=cap.ok, detail=cap.detail,
                            trigger=trigger, problems=[])
    if not cap.ok:
        session.add(sample)
        session.flush()
        return sample  # an unreachable camera is monitoring's business (U1), not an image finding
    t = _thresholds(session, device, period)
    prev = session.scalar(select(SnapshotSample).where(
        SnapshotSample.device_id == device.id, SnapshotSample.ok.is_(True))
        .order_by(SnapshotSample.taken_at.desc(), SnapshotSample.id.desc()).limit(1))
    data_sha1 = hashlib.sha1(cap.data).hexdigest()
    frozen = bool(prev and prev.scores and (
        prev.scores.get("data_sha1") == data_sha1
        or (float(t["frozen_max_diff"]) > 0 and imaging.is_frozen(
            prev.scores.get("fingerprint", ""), cap.scores.get("fingerprint", ""), float(t["frozen_max_diff"])))))
    shift = None
    ref = session.scalar(select(ReferenceImage).where(ReferenceImage.device_id == device.id))
    ref_path = image_file(store_dir, ref.image_path) if ref else None
    # Aim is checked by day only: a night frame shares too few features with a daylight reference.
    if ref_path is not None and period == rules.DAY:
        try:
            shift = imaging.scene_shift(imaging.read_image_file(str(ref_path)), cap.image)
        except imaging.ImageError as err:
            log.warning("reference image of %s unusable: %s", device.code, err)
    problems = rules.frame_problems(cap.scores, t, period, frozen=frozen, shift=shift)
    scores = dict(cap.scores)
    scores["data_sha1"] = data_sha1
    if shift is not None:
        scores["scene_shift"] = shift
    scores["problem_reasons"] = {k: why for k, why in problems}
    sample.scores = scores
    sample.problems = [k for k, _ in problems]
    stamp = cap.at.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    sample.image_path = _store(store_dir, f"quality/{_safe_code(device.code)}/{stamp}.jpg",
                               cap.data if cap.data[:2] == b"\xff\xd8" else imaging.encode_jpeg(cap.image))
    session.add(sample)
    session.flush()
    if ref is None and not problems and period == rules.DAY:
        # The first good view becomes the reference, so a camera knocked out of aim later is noticed (Q3).
        session.add(ReferenceImage(device_id=device.id, image_path=sample.image_path, set_at=cap.at, set_by="quality"))
        audit.record(session, "quality", "quality_reference_set", "device", device.id,
                     summary=f"{device.code} reference view (first good snapshot)", after={"image_path": sample.image_path})
    update_findings(session, device, sample)
    return sample


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
            _open_finding(session, device, kind, sample, reasons.get(kind, ""), needed)
    for kind, finding in open_findings.items():
        # A dead fill light is invisible by day: night-only faults clear only on a good frame of their period.
        if kind not in (sample.problems or []) and (kind not in rules.PERIOD_BOUND_KINDS
                                                     or finding.period == sample.period):
            _clear_finding(session, finding, sample)


def _open_finding(session: Session, device: Device, kind: str, sample: SnapshotSample, reason: str,
                  count: int, summary: str = "") -> QualityFinding:
    first = session.scalars(select(SnapshotSample.taken_at).where(
        SnapshotSample.device_id == device.id, SnapshotSample.ok.is_(True))
        .order_by(SnapshotSample.taken_at.desc()).limit(max(count, 1))).all()
    finding = QualityFinding(device_id=device.id, kind=kind, state="open", period=sample.period,
                             first_seen_at=min(first) if first else sample.taken_at, last_seen_at=sample.taken_at,
                             count=count, evidence_path=sample.image_path, detail=reason)
    session.add(finding)
    session.flush()
    audit.record(session, "quality", "quality_finding_opened", "quality_finding", finding.id,
                 summary=f"{device.code}: {kind} ({reason})",
                 after={"device_id": device.id, "kind": kind, "evidence_path": finding.evidence_path})
    events.emit(session, "quality_finding_opened", finding_id=finding.id, device_id=device.id, kind=kind)
    finding.ticket_id = _open_ticket(session, device, finding, summary or f"{kind}: {reason}")
    return finding


def _open_ticket(session: Session, device: Device, finding: QualityFinding, summary: str) -> int | None:
    """Q3: a finding opens a ticket with the evidence image (the tickets area dedupes per device and fault)."""
    try:
        from fleetops.services import tickets
    except ImportError:  # the tickets area not installed: the event above is the only announcement
        return None
    t = tickets.open_ticket(session, device_id=device.id, category=rules.ticket_category(finding.kind, finding.period),
                            source="quality", opened_by="quality", detected_at=finding.first_seen_at,
                            evidence_path=finding.evidence_path, summary=f"图像质量 / image quality: {summary}")
    return t.id


def _clear_finding(session: Session, finding: QualityFinding, sample: SnapshotSample | None, note: str = "") -> None:
    finding.state = "cleared"
    finding.cleared_at = sample.taken_at if sample else utcnow()
    audit.record(session, "quality", "quality_finding_cleared", "quality_finding", finding.id,
                 summary=note or f"good snapshot {sample.image_path if sample else ''}".strip(),
                 before={"state": "open"}, after={"state": "cleared"})
    events.emit(session, "quality_finding_cleared", finding_id=finding.id, device_id=finding.device_id)


def set_reference(session: Session, device: Device, sample_id: int, actor) -> ReferenceImage:
    """Make a stored good snapshot the camera's reference view (scene-shift checks compare with it)."""
    sample = session.get(SnapshotSample, sample_id)
    if sample is None or sample.device_id != device.id or not sample.ok or not sample.image_path:
        raise ValidationFailed("该抓拍不能作为参考图 / That snapshot cannot be the reference view.")
    ref = session.scalar(select(ReferenceImage).where(ReferenceImage.device_id == device.id))
    before = {"image_path": ref.image_path} if ref else None
    if ref is None:
        ref = ReferenceImage(device_id=device.id, image_path=sample.image_path)
        session.add(ref)
    ref.image_path, ref.set_at = sample.image_path, utcnow()
    ref.set_by = getattr(actor, "username", None) or str(actor)
    audit.record(session, actor, "quality_reference_set", "device", device.id, summary=f"{device.code} reference view",
                 before=before, after={"image_path": sample.image_path})
    return ref


SAMPLE_SLACK = timedelta(seconds=30)


def due_cameras(session: Session, now: datetime) -> list[Device]:
    """Cameras whose last snapshot is older than the sampling interval (several a day, by day and at night)."""
    interval = timedelta(minutes=float(parameters.get(session, "quality_sample_interval_min")))
    last = dict(session.execute(select(SnapshotSample.device_id, func.max(SnapshotSample.taken_at))
                                .group_by(SnapshotSample.device_id)).all())
    out = []
    for d in cameras(session):
        seen = last.get(d.id)
        if seen is not None and seen.tzinfo is None:
            seen = seen.replace(tzinfo=timezone.utc)
        # Half a job period of slack: the job runs every 60 s, and a camera sampled 1:59.9 ago is due now,
        # not a minute later (otherwise a 2-min interval samples every 3 min).
        if seen is None or now - seen >= interval - SAMPLE_SLACK:
            out.append(d)
    return out


def sample_cameras(session: Session, devices: list[Device], *, store_dir: str | Path, trigger: str = "schedule",
                   timeout_s: float = 5.0, now: datetime | None = None) -> dict:
    """Fetch and score many cameras in parallel (a slow camera delays nobody), then record them in order."""
    now = now or utcnow()
    jobs = []
    for d in devices:
        period = period_at(d, now)
        jobs.append((d, (d.id, d.code, d.snapshot_url, d.snapshot_username, d.snapshot_password,
                         _thresholds(session, d, period), timeout_s)))
    counts = {"sampled": 0, "failed": 0, "problems": 0}
    with ThreadPoolExecutor(max_workers=MAX_PARALLEL_FETCHES) as pool:
        futures = [(d, pool.submit(capture, *args)) for d, args in jobs]
        for d, fut in futures:
            cap = fut.result()
            cap.at = now
            sample = record_capture(session, d, cap, store_dir=store_dir, trigger=trigger)
            counts["sampled" if sample.ok else "failed"] += 1
            counts["problems"] += bool(sample.problems)
    return counts


# ---------------------------------------------------------------- ticket verification (T6)

def _verify_with_snapshot(session: Session, ticket, now: datetime) -> str | None:
    """T6: a quality ticket verifies only on a good snapshot taken after the repair (at night for night faults)."""
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
        night = periods == {rules.NIGHT}
        return (f"需要维修后{'夜间' if night else ''}的一张合格抓拍 / "
                f"Needs a good snapshot taken {'at night ' if night else ''}after the repair.")
    still = [k for k in latest.problems or [] if not kinds or k in kinds]
    if still:
        return f"维修后抓拍仍有问题 / The snapshot after the repair still shows: {', '.join(still)}."
    return None


def _sample_for_verification(session: Session, device_id: int, periods: set) -> SnapshotSample | None:
    """Inside the app, take a fresh snapshot when verifying (Q3: 'when a ticket is verified')."""
    try:
        from flask import current_app

        store_dir = current_app.config["UPLOAD_DIR"]
    except (ImportError, RuntimeError, KeyError):
        return None
    device = session.get(Device, device_id)
    if device is None or not device.snapshot_url or (len(periods) == 1 and period_at(device, utcnow()) not in periods):
        return None
    sample = sample_device(session, device, store_dir=store_dir, trigger="verify")
    return sample if sample.ok else None


def _register_verifiers() -> None:
    try:
        from fleetops.services import tickets
    except ImportError:
        return
    for category in {rules.ticket_category(k, p) for k in rules.FINDING_KINDS for p in (rules.DAY, rules.NIGHT)}:
        tickets.register_verifier(category, _verify_with_snapshot)


_register_verifiers()


# ---------------------------------------------------------------- plate-accuracy audits (Q1)

PLATE_TEXT_RE = re.compile(r"^[\u4e00-\u9fffA-Z0-9]{5,10}$")


def _local(device: Device, at: datetime) -> datetime:
    return at.astimezone(ZoneInfo(device.site.timezone or "Asia/Shanghai"))


def month_of(device: Device, at: datetime) -> str:
    return _local(device, at).strftime("%Y-%m")


def _month_fraction(device: Device, at: datetime) -> float:
    local = _local(device, at)
    days = calendar.monthrange(local.year, local.month)[1]
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return (local - start).total_seconds() / (days * 86400)


def plan_for(session: Session, device: Device, month: str, period: str) -> SamplingPlan:
    """Q1: the month's sample size for a camera by day or night: n = z²p(1−p)/e² (≈753 day, ≈457 night)."""
    plan = session.scalar(select(SamplingPlan).where(
        SamplingPlan.device_id == device.id, SamplingPlan.month == month, SamplingPlan.period == period))
    if plan is None:
        target = float(parameters.get(session, f"quality_plate_target_{period}"))
        margin = float(parameters.get(session, f"quality_audit_margin_{period}"))
        n = rules.sample_size(target, margin, float(parameters.get(session, "quality_audit_confidence")))
        plan = SamplingPlan(device_id=device.id, month=month, period=period, target_samples=n, selected=0)
        session.add(plan)
        session.flush()
    return plan


def record_pass(session: Session, *, device_code: str, captured_at: datetime, plate: str, store_dir: str | Path,
                image: bytes | None = None, external_id: str = "", source: str = "api", reader="default",
                rng: random.Random | None = None) -> PassRecord:
    """Q1: store one pass record as the camera reported it; it may be drawn for the accuracy audit.

    The same (camera, external_id) sent twice is stored once. Bad input raises ValidationFailed, nothing stored.
    """
    errors = []
    text = plate_reader.normalise_plate(plate)
    if not PLATE_TEXT_RE.match(text):
        errors.append(f"号牌 {plate!r} 格式不对 / plate {plate!r} is not a plate number")
    if not isinstance(captured_at, datetime) or captured_at.tzinfo is None:
        errors.append("抓拍时间需要时区 / captured_at needs a timezone (ISO 8601 with offset)")
    img = None
    if image:
        try:
            img = imaging.decode_image(image)
        except imaging.ImageError as err:
            errors.append(f"图片 / image: {err}")
    device = session.scalar(select(Device).where(Device.code == device_code))
    if device is None:
        errors.append(f"没有设备 {device_code} / no device {device_code}")
    if errors:
        raise ValidationFailed("过车记录无效 / The pass record is not valid: " + "; ".join(errors), errors=errors)
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
        rec.image_path = _store(store_dir, f"quality/passes/{_safe_code(device.code)}/{stamp}_{_rng.randrange(16**6):06x}.jpg",
                                image if image[:2] == b"\xff\xd8" else imaging.encode_jpeg(img))
    session.add(rec)
    session.flush()
    _maybe_audit(session, device, rec, img, plate_reader.default_reader() if reader == "default" else reader,
                 rng or _rng)
    return rec


def _maybe_audit(session: Session, device: Device, rec: PassRecord, img, reader, rng: random.Random) -> AuditSample | None:
    """Q1: draw the record for the audit when the month's quota is behind, check it with the reader, queue for people."""
    if img is None:
        return None  # nothing to audit against
    month = month_of(device, rec.captured_at)
    plan = plan_for(session, device, month, rec.period)
    if plan.selected >= rules.quota_due(plan.target_samples, _month_fraction(device, rec.captured_at)):
        return None
    plan.selected += 1
    plates = imaging.score_image(img, faces=False)["plates"]
    bbox = plates[0]["bbox"] if plates else None
    auto_text, result = "", "no_reader"
    if reader is not None:
        # The reference reader reads the whole frame: the reported plate may be any vehicle's in view.
        reads = reader.read_plates(img)
        same = [(text, box) for text, box in reads if text == rec.reported_plate]
        if same:
            (auto_text, bbox), result = same[0], "agree"
        elif reads:
            (auto_text, bbox), result = reads[0], "disagree"
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


def audit_queue(session: Session, limit: int = 50) -> list[AuditSample]:
    """The human audit queue, oldest first: disagreements, unread plates and the random share."""
    return list(session.scalars(select(AuditSample).where(AuditSample.queued.is_(True), AuditSample.outcome.is_(None))
                                .order_by(AuditSample.id).limit(limit)))


def review(session: Session, audit_id: int, *, verdict: str, corrected_text: str = "", actor) -> AuditSample:
    """Q1: a person's verdict on a queued record: the reported plate was correct, or wrong (with the right text)."""
    sample = session.get(AuditSample, audit_id)
    if sample is None:
        raise NotFound(f"没有抽检记录 {audit_id} / No audit sample {audit_id}.")
    if verdict not in ("correct", "wrong"):
        raise ValidationFailed("结论只能是 正确 或 错误 / The verdict is 'correct' or 'wrong'.")
    corrected = plate_reader.normalise_plate(corrected_text)
    if verdict == "wrong" and corrected and not PLATE_TEXT_RE.match(corrected):
        raise ValidationFailed(f"更正号牌 {corrected_text!r} 格式不对 / {corrected_text!r} is not a plate number.")
    if verdict == "wrong" and corrected == sample.pass_record.reported_plate:
        raise ValidationFailed("更正号牌与上报相同 / The corrected plate equals the reported one: choose 'correct'.")
    if sample.reviewed_at is not None:
        raise ConflictError("该记录已被审核 / Someone already reviewed this record.")
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
    """Q1: cameras whose whole interval is below target get a finding and a ticket (once per month and period)."""
    opened = []
    for old in session.scalars(select(QualityFinding).where(
            QualityFinding.kind == "accuracy_low", QualityFinding.state == "open",
            QualityFinding.detail.not_like(f"{month} %"))):
        if old.detail[:7] < month:  # a new month is a new audit: last month's verdict is closed
            _clear_finding(session, old, None, note=f"new audit month {month}")
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
                     summary=f"{device.code}: plate accuracy {detail}", after={"kind": "accuracy_low"})
        events.emit(session, "quality_finding_opened", finding_id=finding.id, device_id=device.id, kind="accuracy_low")
        finding.ticket_id = _open_ticket(session, device, finding, f"号牌识别准确率不达标 / plate accuracy {detail}")
        opened.append(finding)
    return opened


# Upload folder file names: <DEVICE CODE>_<YYYYmmddHHMMSS>_<PLATE>.jpg, time in the site's zone.
PASS_FILE_RE = re.compile(r"^(?P<code>.+)_(?P<ts>\d{14})_(?P<plate>[^_.]+)\.(jpe?g|png)$", re.IGNORECASE)


def import_pass_folder(session: Session, folder: str | Path, *, store_dir: str | Path, reader="default") -> dict:
    """Q1: pass records from the upload folder; a file already imported is skipped, a bad one reported."""
    imported, skipped, errors = 0, 0, []
    folder = Path(folder)
    if not folder.is_dir():
        raise ValidationFailed(f"上传目录不存在 / upload folder {folder} does not exist.")
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.suffix.lower() not in (".jpg", ".jpeg", ".png"):
            continue
        m = PASS_FILE_RE.match(path.name)
        if not m:
            errors.append(f"{path.name}: 文件名应为 / name should be <DEVICE>_<YYYYmmddHHMMSS>_<PLATE>.jpg")
            continue
        device = session.scalar(select(Device).where(Device.code == m["code"]))
        if device is None:
            errors.append(f"{path.name}: 没有设备 / no device {m['code']}")
            continue
        if session.scalar(select(PassRecord.id).where(PassRecord.device_id == device.id,
                                                      PassRecord.external_id == path.name)):
            skipped += 1
            continue
        try:
            local = datetime.strptime(m["ts"], "%Y%m%d%H%M%S").replace(
                tzinfo=ZoneInfo(device.site.timezone or "Asia/Shanghai"))
            with session.begin_nested():
                record_pass(session, device_code=device.code, captured_at=local, plate=m["plate"],
                            store_dir=store_dir, image=path.read_bytes(), external_id=path.name, source="folder",
                            reader=reader)
            imported += 1
        except (FleetopsError, ValueError, OSError) as err:
            errors.append(f"{path.name}: {getattr(err, 'message', None) or err}")
    return {"imported": imported, "skipped": skipped, "errors": errors}


# ---------------------------------------------------------------- lists for pages and the API

def plate_crop(store_dir: str | Path, sample: AuditSample) -> bytes | None:
    """The plate region of an audited record's image, for the human audit queue."""
    path = image_file(store_dir, sample.pass_record.image_path)
    if path is None:
        return None
    try:
        return imaging.crop_jpeg(path.read_bytes(), sample.plate_bbox)
    except (imaging.ImageError, OSError):
        return None


def current_month(tz_name: str = "Asia/Shanghai") -> str:
    return utcnow().astimezone(ZoneInfo(tz_name)).strftime("%Y-%m")

def findings(session: Session, state: str = "open", device_id: int | None = None, limit: int = 200) -> list[QualityFinding]:
    q = select(QualityFinding).order_by(QualityFinding.last_seen_at.desc()).limit(limit)
    if state:
        q = q.where(QualityFinding.state == state)
    if device_id is not None:
        q = q.where(QualityFinding.device_id == device_id)
    return list(session.scalars(q))


def latest_samples(session: Session, device_id: int, limit: int = 12) -> list[SnapshotSample]:
    return list(session.scalars(select(SnapshotSample).where(SnapshotSample.device_id == device_id)
                                .order_by(SnapshotSample.taken_at.desc(), SnapshotSample.id.desc()).limit(limit)))


def finding_dict(f: QualityFinding) -> dict:
    return {"id": f.id, "device_code": f.device.code, "kind": f.kind, "state": f.state, "period": f.period,
            "first_seen_at": f.first_seen_at.isoformat(), "last_seen_at": f.last_seen_at.isoformat(),
            "count": f.count, "detail": f.detail, "ticket_id": f.ticket_id,
            "cleared_at": f.cleared_at.isoformat() if f.cleared_at else None}


def prune_images(session: Session, store_dir: str | Path, now: datetime | None = None, batch: int = 2000) -> int:
    """Delete the image files of old good snapshots (a camera a hour is ~2.6 TB a year across a fleet); problem
    frames, evidence and reference views are kept. The sample rows and their scores stay."""
    now = now or utcnow()
    cutoff = now - timedelta(days=float(parameters.get(session, "quality_keep_good_images_days")))
    keep = set(session.scalars(select(QualityFinding.evidence_path))) | set(session.scalars(select(ReferenceImage.image_path)))
    removed, last_id = 0, 0
    while removed < batch:  # kept frames stay in the scan, so walk on by id instead of re-reading them
        chunk = list(session.scalars(select(SnapshotSample).where(
            SnapshotSample.taken_at < cutoff, SnapshotSample.image_path != "", SnapshotSample.id > last_id)
            .order_by(SnapshotSample.id).limit(500)))
        if not chunk:
            break
        last_id = chunk[-1].id
        for sample in chunk:
            if sample.problems or sample.image_path in keep:
                continue
            path = image_file(store_dir, sample.image_path)
            if path is not None:
                path.unlink(missing_ok=True)
            sample.image_path = ""
            removed += 1
    return removed


# ---------------------------------------------------------------- scheduled job

def job_sample(app) -> None:
    from fleetops.db import session_scope

    started = time.monotonic()
    with session_scope(app.extensions["fleetops.sessionmaker"]) as s:
        now = utcnow()
        due = due_cameras(s, now)[:200]  # bounded per run; the rest are due next minute
        counts = sample_cameras(s, due, store_dir=app.config["UPLOAD_DIR"], now=now) if due else {
            "sampled": 0, "failed": 0, "problems": 0}
    log.info("job=quality_sample due=%d sampled=%d failed=%d with_problems=%d duration_s=%.1f", len(due),
             counts["sampled"], counts["failed"], counts["problems"], time.monotonic() - started)


def job_accuracy(app) -> None:
    from fleetops.db import session_scope

    with session_scope(app.extensions["fleetops.sessionmaker"]) as s:
        month = utcnow().astimezone(ZoneInfo(app.config.get("TIMEZONE", "Asia/Shanghai"))).strftime("%Y-%m")
        opened = flag_low_accuracy(s, month)
        folder = Path(app.config["UPLOAD_DIR"]) / "passes"
        imported = import_pass_folder(s, folder, store_dir=app.config["UPLOAD_DIR"]) if folder.is_dir() else None
    log.info("job=quality_accuracy month=%s flagged=%d imported=%s", month, len(opened),
             imported and imported["imported"])


def job_prune_images(app) -> None:
    from fleetops.db import session_scope

    with session_scope(app.extensions["fleetops.sessionmaker"]) as s:
        removed = prune_images(s, app.config["UPLOAD_DIR"])
    log.info("job=quality_prune_images removed=%d", removed)
