"""Outage causes (U3, U5, A3): a supervisor records why an outage (or a whole site incident) happened, with an
optional evidence file; power-utility and network-provider causes take the time out of the contractual figure."""
import os
import shutil
import uuid
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleetops.domain.errors import NotFound, PermissionDenied, ValidationFailed
from fleetops.domain.text import Msg
from fleetops.domain.uptime import EXCLUDED_CAUSES, OutageCause
from fleetops.models.base import utcnow
from fleetops.models.monitoring import Outage, SiteIncident
from fleetops.platform import audit, events
from fleetops.platform.uploads import stored_file

EVIDENCE_SUFFIXES = {".pdf", ".jpg", ".jpeg", ".png", ".txt", ".doc", ".docx", ".xls", ".xlsx", ".eml"}


def set_outage_cause(session: Session, outage_id: int, cause: str, reason: str, evidence_path: str = "",
                     actor=None) -> Outage:
    """U3/A3: a supervisor records why an outage happened. A cause that takes the outage out of the contractual
    figure (power utility, network provider) needs a reason and is never set directly: it is filed as an exclusion
    request and approved in the same step by the supervisor (exclusions.file_and_approve), so every exclusion is
    in the queue and audited as both. Other causes are set here (audited; emits outage_cause_set). Caller commits."""
    outage, value, reason = _checked(session, outage_id, cause, reason, actor)
    if value in EXCLUDED_CAUSES:
        from fleetops.services.monitoring import exclusions  # the queue is built on this module

        exclusions.file_and_approve(session, cause=value, reason=reason, outage_id=outage.id,
                                    evidence_path=evidence_path, actor=actor)
        return outage
    return _apply(session, outage, value, reason, evidence_path, actor)


def apply_outage_cause(session: Session, outage_id: int, cause: str, reason: str, evidence_path: str = "",
                       actor=None) -> Outage:
    """Set the cause itself, whatever it is — only exclusions.approve calls this for an excluding cause."""
    outage, value, reason = _checked(session, outage_id, cause, reason, actor)
    return _apply(session, outage, value, reason, evidence_path, actor)


def _checked(session: Session, outage_id: int, cause: str, reason: str, actor) -> tuple[Outage, str, str]:
    role = getattr(actor, "role", None)
    if role not in ("supervisor", "admin"):
        raise PermissionDenied(Msg("Only a supervisor can set an outage's cause."))
    outage = session.get(Outage, outage_id)
    if outage is None or outage.retracted_at is not None:
        raise NotFound(Msg("Outage %(id)s not found.", id=outage_id))
    value = _parse(cause)
    reason = (reason or "").strip()
    if value in EXCLUDED_CAUSES and not reason:
        raise ValidationFailed(Msg("An excluded cause needs a recorded reason."))
    return outage, value, reason


def _parse(cause: str) -> str:
    try:
        return OutageCause.parse(cause).value
    except ValueError:
        raise ValidationFailed(Msg("Unknown cause %(cause)s", cause=repr(cause))) from None


def _apply(session: Session, outage: Outage, value: str, reason: str, evidence_path: str, actor) -> Outage:
    before = {"cause": outage.cause, "cause_reason": outage.cause_reason, "evidence_path": outage.evidence_path}
    outage.cause, outage.cause_reason = value, reason
    if evidence_path:
        outage.evidence_path = evidence_path
    outage.cause_set_by = getattr(actor, "username", "") or str(actor)
    outage.cause_set_at = utcnow()
    after = {"cause": outage.cause, "cause_reason": outage.cause_reason, "evidence_path": outage.evidence_path}
    audit.record(session, actor, "outage_cause_set", "outage", outage.id,
                 summary=Msg("Outage of %(device)s: cause %(before)s → %(after)s", device=outage.device.code,
                             before=_cause(before["cause"]), after=_cause(value)),
                 before=before, after=after)
    events.emit(session, "outage_cause_set", outage_id=outage.id, cause=value, by=outage.cause_set_by)
    return outage


def _cause(value):
    """A cause as its label (a Msg, shown in the reader's language); an unknown stored value as it is."""
    try:
        return Msg(OutageCause._LABELS[OutageCause(value).value], context="OutageCause")
    except (KeyError, ValueError):
        return value or ""


def set_site_incident_cause(session: Session, incident_id: int, cause: str, reason: str, evidence_path: str = "",
                            actor=None) -> list[Outage]:
    """U5: a site power cut or carrier cut — the same cause for every outage of the incident, each audited; an
    excluding cause goes through the exclusion queue as one request for the incident (see set_outage_cause)."""
    members = _incident_members(session, incident_id)
    value = _parse(cause)
    if value in EXCLUDED_CAUSES and members:
        _checked(session, members[0].id, value, reason, actor)
        from fleetops.services.monitoring import exclusions

        exclusions.file_and_approve(session, cause=value, reason=(reason or "").strip(), incident_id=incident_id,
                                    evidence_path=evidence_path, actor=actor)
        return members
    return [set_outage_cause(session, o.id, value, reason, evidence_path, actor) for o in members]


def apply_site_incident_cause(session: Session, incident_id: int, cause: str, reason: str,
                              evidence_path: str = "", actor=None) -> list[Outage]:
    """Every outage of the incident takes the cause itself (exclusions.approve)."""
    return [apply_outage_cause(session, o.id, cause, reason, evidence_path, actor)
            for o in _incident_members(session, incident_id)]


def _incident_members(session: Session, incident_id: int) -> list[Outage]:
    incident = session.get(SiteIncident, incident_id)
    if incident is None or incident.retracted_at is not None:
        raise NotFound(Msg("Site incident %(id)s not found.", id=incident_id))
    return list(session.scalars(select(Outage).where(Outage.site_incident_id == incident_id,
                                                     Outage.retracted_at.is_(None)).order_by(Outage.id)))


# ------------------------------------------------------------------------------------------ with evidence

def record_outage_cause(session: Session, outage_id: int, cause: str, reason: str, upload_dir: str,
                        evidence_name: str = "", evidence_stream=None, actor=None) -> Outage:
    """The outage page's form: keep the evidence file (if any) under `upload_dir`, then set the cause."""
    path = store_evidence(upload_dir, outage_id, evidence_name, evidence_stream)
    return set_outage_cause(session, outage_id, cause, reason, path, actor)


def record_site_incident_cause(session: Session, incident_id: int, cause: str, reason: str, upload_dir: str,
                               evidence_name: str = "", evidence_stream=None, actor=None) -> list[Outage]:
    """The status page's incident form: one evidence file, the same cause for every outage of the incident."""
    path = store_evidence(upload_dir, f"incident-{incident_id}", evidence_name, evidence_stream)
    return set_site_incident_cause(session, incident_id, cause, reason, path, actor)


def store_evidence(upload_dir: str, owner, filename: str, stream) -> str:
    """Store an uploaded evidence file (a utility's notice, a carrier ticket) under `upload_dir`; the path
    relative to it, or '' when no file was sent."""
    if stream is None or not filename:
        return ""
    suffix = Path(filename).suffix.lower()
    if suffix not in EVIDENCE_SUFFIXES:
        raise ValidationFailed(Msg("Evidence must be a PDF, image, text, Word, Excel or e-mail file."))
    rel = Path("outage-evidence") / str(owner) / f"{uuid.uuid4().hex}{suffix}"
    target = Path(upload_dir) / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as fh:
        shutil.copyfileobj(stream, fh)
    if os.path.getsize(target) == 0:
        target.unlink()
        raise ValidationFailed(Msg("The evidence file is empty."))
    return str(rel)


def evidence_file(session: Session, outage_id: int, upload_dir: str) -> Path | None:
    """The stored evidence file of an outage, only when it lies inside `upload_dir` and exists."""
    o = session.get(Outage, outage_id)
    return stored_file(upload_dir, o.evidence_path) if o is not None else None
