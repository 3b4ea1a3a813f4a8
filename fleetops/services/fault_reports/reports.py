"""Fault reports from the pole (T1): anyone who scans a device's QR code may say what is wrong, with an optional
photo and a phone number, without logging in. Abuse-resistant without a CAPTCHA: the web layer limits each address
(Flask-Limiter) and checks CSRF; here the text and the photo are size-limited, the photo must decode as an image
(EXIF location stripped), the phone must look like a phone number, a filled honeypot is dropped silently, and a
second report for the same device within `fault_reports.fold_minutes` is folded into the first. A supervisor
triages: one click turns a report into a ticket (the photo as its evidence), or dismisses it with a reason; both
audited (A3)."""
from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fleetops.domain import probe_reasons
from fleetops.domain.errors import ConflictError, NotFound, PermissionDenied, ValidationFailed
from fleetops.domain.maintenance import FaultProblem
from fleetops.domain.text import Msg, N_
from fleetops.models import Device
from fleetops.models.base import utcnow
from fleetops.models.maintenance import FaultReport
from fleetops.platform import audit, parameters
from fleetops.platform.idempotency import actor_name
from fleetops.platform.uploads import stored_file

PARAMETERS = {
    "fault_reports.fold_minutes": (30, N_(
        "A second public fault report for the same device within this many minutes is folded into the first")),
    "fault_reports.photo_max_mb": (5, N_("Largest photo a public fault report may carry (MB)")),
}
DETAILS_MAX = 500
PHONE = re.compile(r"^(?:\+?86)?(?:1[3-9]\d{9}|0\d{2,3}\d{7,8})$")
TICKET_CATEGORY = {"damaged": "other", "knocked": "aim", "light": "fill_light", "cabinet_open": "other",
                   "wires": "other", "other": "other"}


def _phone(value) -> str:
    raw = value if isinstance(value, str) else ""
    digits = re.sub(r"[\s\-()]", "", raw)
    if not PHONE.match(digits):
        raise ValidationFailed(Msg("Enter a mobile or landline number we can call back, e.g. 13912345678."),
                               field="phone")
    return digits


def client_hash(secret: str, address: str) -> str:
    """A keyed hash of the reporter's address: abuse can be traced, the address itself is not stored."""
    return hmac.new((secret or "").encode(), (address or "").encode(), hashlib.sha256).hexdigest()


def _photo(session: Session, data: bytes | None) -> tuple[bytes, str] | None:
    from probes.vision import thumbnails

    if not data:
        return None
    limit_mb = float(parameters.get(session, "fault_reports.photo_max_mb"))
    if len(data) > limit_mb * 1024 * 1024:
        raise ValidationFailed(Msg("The photo is larger than %(mb)s MB.", mb=f"{limit_mb:g}"), field="photo")
    try:
        content_type, _w, _h = thumbnails.sniff(data)
    except thumbnails.PhotoError as err:
        raise ValidationFailed(probe_reasons.error_msg(err), field="photo") from None
    if thumbnails.make_thumbnail(data, max_px=64) is None:  # the header is not enough: it must decode
        raise ValidationFailed(Msg("The photo could not be read as an image."), field="photo")
    return thumbnails.strip_metadata(data), (".jpg" if content_type == "image/jpeg" else ".png")


def submit_report(session: Session, device_code: str, *, problem, details="", phone="", photo: bytes | None = None,
                  honeypot: str = "", address: str = "", secret: str = "", upload_dir: str = "",
                  now: datetime | None = None) -> tuple[FaultReport | None, bool]:
    """Record a public report. Returns (report, folded); (None, False) when the honeypot was filled (a robot:
    nothing stored, the page still thanks it). Everything is checked before anything is written."""
    now = now or utcnow()
    device = session.scalar(select(Device).where(Device.code == device_code, Device.lifecycle != "retired")) \
        if isinstance(device_code, str) and len(device_code) <= 60 else None
    if device is None:
        raise NotFound(Msg("No device %(code)s.", code=str(device_code)[:60]))
    if honeypot:
        return None, False
    try:
        value = FaultProblem(problem if isinstance(problem, str) else "").value
    except ValueError:
        raise ValidationFailed(Msg("Choose what is wrong."), field="problem") from None
    text = (details if isinstance(details, str) else "").strip()
    if len(text) > DETAILS_MAX:
        raise ValidationFailed(Msg("The description is too long (at most %(n)s characters).", n=DETAILS_MAX),
                               field="details")
    number = _phone(phone)
    image = _photo(session, photo)
    fold_after = now - timedelta(minutes=int(parameters.get(session, "fault_reports.fold_minutes")))
    existing = session.scalar(select(FaultReport).where(
        FaultReport.device_id == device.id, FaultReport.state == "new", FaultReport.last_reported_at >= fold_after)
        .order_by(FaultReport.id.desc()).limit(1))
    if existing is not None:  # the same pole reported again: one triage item, counted
        existing.repeats += 1
        existing.last_reported_at = now
        if image and not existing.photo_path:
            existing.photo_path = _store(upload_dir, image)
        return existing, True
    row = FaultReport(device_id=device.id, problem=value, details=text, phone=number,
                      photo_path=_store(upload_dir, image) if image else "",
                      client_hash=client_hash(secret, address), reported_at=now, last_reported_at=now, repeats=1,
                      state="new")
    session.add(row)
    session.flush()
    return row, False


def _store(upload_dir: str, image: tuple[bytes, str]) -> str:
    data, suffix = image
    rel = Path("fault-reports") / f"{uuid.uuid4().hex}{suffix}"
    target = Path(upload_dir) / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return str(rel)


# ------------------------------------------------------------------------------------------ the supervisor's triage

def _require_supervisor(actor) -> None:
    if getattr(actor, "role", None) not in ("supervisor", "admin"):
        raise PermissionDenied(Msg("Only a supervisor can triage fault reports."))


def get_report(session: Session, report_id) -> FaultReport:
    try:
        row = session.get(FaultReport, int(report_id))
    except (TypeError, ValueError, OverflowError):
        row = None
    if row is None:
        raise NotFound(Msg("No fault report %(id)s.", id=report_id))
    return row


def _new(session: Session, report_id) -> FaultReport:
    row = get_report(session, report_id)
    if row.state != "new":
        raise ConflictError(Msg("This report has already been handled."))
    return row


def make_ticket(session: Session, report_id, *, actor, now: datetime | None = None):
    """One click: a ticket for the device, the report's photo as its evidence; audited."""
    from fleetops.services.tickets import open_ticket

    _require_supervisor(actor)
    row = _new(session, report_id)
    device = session.get(Device, row.device_id)
    problem = Msg(FaultProblem._LABELS[row.problem], context="FaultProblem")
    t = open_ticket(session, device_id=device.id, category=TICKET_CATEGORY.get(row.problem, "other"),
                    source="public_report", opened_by=actor, detected_at=row.reported_at,
                    evidence_path=row.photo_path or None, now=now,
                    summary=Msg("%(device)s: %(problem)s (reported from the pole)", device=device.code,
                                problem=problem))
    row.state, row.ticket_id = "ticketed", t.id
    row.decided_by, row.decided_at = actor_name(actor), now or utcnow()
    audit.record(session, actor, "fault_report_ticketed", "fault_report", row.id,
                 summary=Msg("Fault report #%(id)s on %(device)s turned into ticket #%(ticket)s", id=row.id,
                             device=device.code, ticket=t.id),
                 before={"state": "new"}, after={"state": "ticketed", "ticket_id": t.id})
    return t


def dismiss(session: Session, report_id, *, actor, reason: str, now: datetime | None = None) -> FaultReport:
    _require_supervisor(actor)
    reason = (reason if isinstance(reason, str) else "").strip()
    if not reason:
        raise ValidationFailed(Msg("Say why the report is dismissed."), field="reason")
    if len(reason) > 500:
        raise ValidationFailed(Msg("The reason is too long (at most %(n)s characters).", n=500), field="reason")
    row = _new(session, report_id)
    row.state, row.decision_note = "dismissed", reason
    row.decided_by, row.decided_at = actor_name(actor), now or utcnow()
    audit.record(session, actor, "fault_report_dismissed", "fault_report", row.id,
                 summary=Msg("Fault report #%(id)s dismissed", id=row.id), before={"state": "new"},
                 after={"state": "dismissed", "reason": reason})
    return row


def list_reports(session: Session, state: str = "new", limit: int = 200) -> list[dict]:
    q = select(FaultReport, Device).join(Device, Device.id == FaultReport.device_id)
    if state:
        q = q.where(FaultReport.state == state)
    out = []
    for r, d in session.execute(q.order_by(FaultReport.last_reported_at.desc()).limit(limit)):
        out.append({"id": r.id, "device": d.code, "device_name": d.name, "site": d.site.name, "problem": r.problem,
                    "details": r.details, "phone": r.phone, "photo": bool(r.photo_path), "repeats": r.repeats,
                    "reported_at": r.reported_at, "last_reported_at": r.last_reported_at, "state": r.state,
                    "ticket_id": r.ticket_id, "decided_by": r.decided_by, "decision_note": r.decision_note})
    return out


def new_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(FaultReport).where(FaultReport.state == "new")) or 0


def photo_file(session: Session, report_id, upload_dir: str) -> Path | None:
    return stored_file(upload_dir, get_report(session, report_id).photo_path)


def ticket_photo(session: Session, ticket_id, upload_dir: str) -> Path | None:
    """The photo of the report a ticket was opened from (the ticket's evidence), if any."""
    r = session.scalar(select(FaultReport).where(FaultReport.ticket_id == ticket_id).limit(1))
    return photo_file(session, r.id, upload_dir) if r is not None else None
