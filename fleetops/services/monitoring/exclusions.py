"""Exclusion requests (U3, A3): the crew (a photo and a note from the tablet) or the system (a dark site whose
cabinet reports mains loss) asks that an outage — or a whole site incident — be excluded as the power utility's
or the network provider's fault; a supervisor approves or rejects from a queue. Only an approval changes the
outage's cause, so only approved exclusions change the contractual figure. A supervisor setting an excluding cause
on the outage page files a request and approves it in the same step (file_and_approve): every exclusion is here."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, object_session, selectinload

from fleetops.domain.errors import ConflictError, NotFound, PermissionDenied, ValidationFailed
from fleetops.domain.text import Msg, stored
from fleetops.domain.uptime import EXCLUDED_CAUSES, OutageCause
from fleetops.models import Device
from fleetops.models.base import utcnow
from fleetops.models.monitoring import ExclusionRequest, Outage, SiteIncident
from fleetops.platform import audit, events
from fleetops.platform.idempotency import actor_name
from fleetops.platform.uploads import stored_file
from fleetops.services.monitoring.causes import apply_outage_cause, apply_site_incident_cause, store_evidence

PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}
NOTE_MAX = 2000


def _cause(cause: str) -> str:
    try:
        value = OutageCause.parse(cause).value
    except ValueError:
        value = ""
    if value not in EXCLUDED_CAUSES:
        raise ValidationFailed(Msg("An exclusion is for the power utility or the network provider."))
    return value


def _pending_for(session: Session, outage_id=None, incident_id=None) -> ExclusionRequest | None:
    q = select(ExclusionRequest).where(ExclusionRequest.state == "pending")
    q = q.where(ExclusionRequest.outage_id == outage_id) if outage_id else \
        q.where(ExclusionRequest.site_incident_id == incident_id)
    return session.scalar(q.limit(1))


def request_exclusion(session: Session, *, cause: str, note: str = "", outage_id: int | None = None,
                      incident_id: int | None = None, actor=None, upload_dir: str = "", photo_name: str = "",
                      photo_stream=None, source: str = "crew", evidence: dict | None = None,
                      at: datetime | None = None, evidence_path: str = "",
                      maintenance_window_id: int | None = None) -> ExclusionRequest:
    """Ask for an outage (or a site incident's outages) to be excluded. A crew request needs a photo and a note;
    one pending request per outage or incident. Audited; emits exclusion_requested. The caller commits.
    A maintenance window entered after the fact (services/maintenance) is filed here too, naming no outage:
    its approval classifies the outages inside it."""
    at = at or utcnow()
    if maintenance_window_id:
        row = ExclusionRequest(maintenance_window_id=maintenance_window_id, cause=cause, note=stored(note),
                               photo_path=evidence_path, source=source, requested_at=at, state="pending",
                               requested_by=actor_name(actor) if actor is not None else "system")
        session.add(row)
        session.flush()
        audit.record(session, actor, "exclusion_requested", "exclusion_request", row.id,
                     summary=Msg("Exclusion requested: %(what)s as %(cause)s", what=_what(session, row),
                                 cause=cause_label(cause)),
                     after={"cause": cause, "maintenance_window_id": maintenance_window_id, "source": source})
        events.emit(session, "exclusion_requested", request_id=row.id, outage_id=None, site_incident_id=None,
                    cause=cause, source=source)
        return row
    value = _cause(cause)
    if bool(outage_id) == bool(incident_id):
        raise ValidationFailed(Msg("Name one outage or one site incident."))
    if outage_id:
        target = session.get(Outage, outage_id)
        if target is None or target.retracted_at is not None:
            raise NotFound(Msg("Outage %(id)s not found.", id=outage_id))
        if target.cause in EXCLUDED_CAUSES and source != "supervisor":  # a supervisor may reclassify
            raise ConflictError(Msg("This outage is already excluded."))
    else:
        target = session.get(SiteIncident, incident_id)
        if target is None or target.retracted_at is not None:
            raise NotFound(Msg("Site incident %(id)s not found.", id=incident_id))
    note_text = note if isinstance(note, Msg) else (note or "").strip()
    if source == "crew":
        if not note_text:
            raise ValidationFailed(Msg("Say what you saw on site (a note is required)."))
        if len(note_text) > NOTE_MAX:
            raise ValidationFailed(Msg("The note is too long (at most %(n)s characters).", n=NOTE_MAX))
        if photo_stream is None or not photo_name:
            raise ValidationFailed(Msg("Add a photo of what you saw on site."))
        if Path(photo_name).suffix.lower() not in PHOTO_SUFFIXES:
            raise ValidationFailed(Msg("The photo must be a JPEG, PNG or WebP image."))
    existing = _pending_for(session, outage_id, incident_id)
    if existing is not None:
        raise ConflictError(Msg("A request for this outage is already waiting for a supervisor (#%(id)s).",
                                id=existing.id))
    photo_path = store_evidence(upload_dir, f"exclusion-{outage_id or 'incident-' + str(incident_id)}",
                                photo_name, photo_stream) if photo_stream is not None and photo_name else evidence_path
    row = ExclusionRequest(outage_id=outage_id, site_incident_id=incident_id, cause=value, note=stored(note_text),
                           photo_path=photo_path, evidence=evidence, source=source,
                           requested_by=actor_name(actor) if actor is not None else "system", requested_at=at,
                           state="pending")
    session.add(row)
    session.flush()
    audit.record(session, actor, "exclusion_requested", "exclusion_request", row.id,
                 summary=Msg("Exclusion requested: %(what)s as %(cause)s", what=_what(session, row),
                             cause=cause_label(value)),
                 after={"cause": value, "outage_id": outage_id, "site_incident_id": incident_id, "source": source})
    events.emit(session, "exclusion_requested", request_id=row.id, outage_id=outage_id, site_incident_id=incident_id,
                cause=value, source=source)
    return row


def file_and_approve(session: Session, *, cause: str, reason: str, outage_id: int | None = None,
                     incident_id: int | None = None, evidence_path: str = "", actor=None,
                     at: datetime | None = None) -> ExclusionRequest:
    """A supervisor excludes an outage (or a site incident) from the outage page: the request is filed in their
    name with their reason and evidence, and approved by them in the same step — audited as both."""
    _require_supervisor(actor)
    row = request_exclusion(session, cause=cause, note=reason, outage_id=outage_id, incident_id=incident_id,
                            actor=actor, source="supervisor", evidence_path=evidence_path, at=at)
    return approve(session, row.id, actor=actor, note=reason, at=at)


def cause_label(value: str):
    try:
        return Msg(OutageCause._LABELS[OutageCause(value).value], context="OutageCause")
    except (KeyError, ValueError):
        from fleetops.services.maintenance import cause_label as window_cause  # contractor / owner windows

        return window_cause(value)


def _what(session: Session, row: ExclusionRequest):
    if row.maintenance_window_id:
        return Msg("maintenance window #%(id)s", id=row.maintenance_window_id)
    if row.outage_id:
        o = row.outage or session.get(Outage, row.outage_id)
        return Msg("outage of %(device)s", device=o.device.code)
    inc = row.site_incident or session.get(SiteIncident, row.site_incident_id)
    return Msg("blackout at %(site)s", site=inc.site.name)


def _require_supervisor(actor) -> None:
    if getattr(actor, "role", None) not in ("supervisor", "admin"):
        raise PermissionDenied(Msg("Only a supervisor can decide on an exclusion request."))


def _pending(session: Session, request_id) -> ExclusionRequest:
    row = get_request(session, request_id)
    if row.state != "pending":
        raise ConflictError(Msg("This request has already been decided."))
    return row


def approve(session: Session, request_id, *, actor, note: str = "", at: datetime | None = None) -> ExclusionRequest:
    """A supervisor approves: the outage (or every outage of the incident) takes the requested cause, with the
    request's note and photo as its reason and evidence; audited twice (the decision and the cause change)."""
    _require_supervisor(actor)
    row = _pending(session, request_id)
    reason = (note or "").strip() or _reason_text(row)
    if row.maintenance_window_id:  # a window entered after the fact: its outages take its cause now
        from fleetops.services import maintenance

        maintenance.apply_after_the_fact(session, row.maintenance_window_id, actor=actor, now=at)
    elif row.outage_id:
        apply_outage_cause(session, row.outage_id, row.cause, reason, row.photo_path, actor)
    else:
        apply_site_incident_cause(session, row.site_incident_id, row.cause, reason, row.photo_path, actor)
    return _decide(session, row, "approved", actor, note, at)


def reject(session: Session, request_id, *, actor, note: str, at: datetime | None = None) -> ExclusionRequest:
    """A supervisor rejects, saying why; the outage keeps counting against the contractor."""
    _require_supervisor(actor)
    if not (note or "").strip():
        raise ValidationFailed(Msg("Say why the request is rejected."))
    row = _pending(session, request_id)
    if row.maintenance_window_id:
        from fleetops.services import maintenance

        maintenance.reject_after_the_fact(session, row.maintenance_window_id, actor=actor)
    return _decide(session, row, "rejected", actor, note, at)


def _reason_text(row: ExclusionRequest) -> str:
    from fleetops.domain.text import render_stored

    text = render_stored(row.note) or ""
    return f"#{row.id} {text}".strip()


def _decide(session: Session, row: ExclusionRequest, state: str, actor, note: str, at) -> ExclusionRequest:
    row.state, row.decided_by, row.decided_at = state, actor_name(actor), at or utcnow()
    row.decision_note = (note or "").strip()
    audit.record(session, actor, f"exclusion_{state}", "exclusion_request", row.id,
                 summary=Msg("Exclusion request #%(id)s: %(what)s", id=row.id, what=_what(session, row)),
                 before={"state": "pending"}, after={"state": state, "note": row.decision_note})
    events.emit(session, "exclusion_decided", request_id=row.id, state=state, by=row.decided_by)
    return row


# ------------------------------------------------------------------------------------------ the system's requests

def on_cabinet_mains_lost(session: Session, site_id, at=None, input_voltage_v=None, **_):
    """A site's cabinet reports its mains input lost: request that the site's open blackout be excluded as the
    power utility's fault (a supervisor still decides). Nothing to do when the site is not dark."""
    at = at or utcnow()
    inc = session.scalar(select(SiteIncident).where(SiteIncident.site_id == site_id, SiteIncident.retracted_at.is_(None),
                                                    SiteIncident.started_at <= at)
                         .where((SiteIncident.ended_at.is_(None)) | (SiteIncident.ended_at >= at))
                         .order_by(SiteIncident.started_at.desc()).limit(1))
    if inc is None or _pending_for(session, incident_id=inc.id) is not None:
        return None
    if session.scalar(select(ExclusionRequest.id).where(ExclusionRequest.site_incident_id == inc.id,
                                                        ExclusionRequest.source == "system").limit(1)):
        return None  # asked once already (a supervisor decided): every poll of the dark site must not ask again
    note = Msg("The cabinet reported mains power lost (input %(volts)s V) during the blackout.",
               volts="?" if input_voltage_v is None else f"{float(input_voltage_v):.0f}")
    return request_exclusion(session, cause="power_utility", note=note, incident_id=inc.id, source="system",
                             evidence={"input_voltage_v": input_voltage_v, "reported_at": at.isoformat()}, at=at)


# ------------------------------------------------------------------------------------------ reading

def pending_count(session: Session) -> int:
    """The queue's badge."""
    return session.scalar(select(func.count()).select_from(ExclusionRequest)
                          .where(ExclusionRequest.state == "pending")) or 0


def list_requests(session: Session, state: str = "pending", limit: int = 200) -> list[ExclusionRequest]:
    q = select(ExclusionRequest).options(
        selectinload(ExclusionRequest.outage).selectinload(Outage.device).selectinload(Device.site),
        selectinload(ExclusionRequest.site_incident).selectinload(SiteIncident.site))
    if state:
        q = q.where(ExclusionRequest.state == state)
    return list(session.scalars(q.order_by(ExclusionRequest.requested_at.desc()).limit(limit)))


def get_request(session: Session, request_id) -> ExclusionRequest:
    try:
        row = session.get(ExclusionRequest, int(request_id))
    except (TypeError, ValueError):
        row = None
    if row is None:
        raise NotFound(Msg("No exclusion request %(id)s.", id=request_id))
    return row


def requests_in(session: Session, start: datetime, end: datetime) -> list[ExclusionRequest]:
    """The requests whose outage or incident overlaps [start, end), for the monthly report (with evidence)."""
    out = []
    for r in list_requests(session, state="", limit=100000):
        t0, t1 = _span(r)
        if t0 is not None and t0 < end and (t1 is None or t1 > start):
            out.append(r)
    return sorted(out, key=lambda r: _span(r)[0])


def _span(r: ExclusionRequest):
    if r.maintenance_window_id:
        from fleetops.services import maintenance

        w = maintenance.get_window(object_session(r), r.maintenance_window_id)
        return w.starts_at, w.last_end_at
    if r.outage is not None:
        return r.outage.started_at, r.outage.ended_at
    if r.site_incident is not None:
        return r.site_incident.started_at, r.site_incident.ended_at
    return None, None


def photo_file(session: Session, request_id, upload_dir: str) -> Path | None:
    """The request's photo, only when it lies inside `upload_dir` and exists."""
    return stored_file(upload_dir, get_request(session, request_id).photo_path)


def request_row(r: ExclusionRequest) -> dict:
    """A request as pages and the report show it."""
    from fleetops.domain.text import render_stored

    start, end = _span(r)
    if r.maintenance_window_id:
        from fleetops.services import maintenance

        device = ""
        site = maintenance.scope_text(object_session(r), maintenance.get_window(object_session(r),
                                                                                r.maintenance_window_id))
    elif r.outage is not None:
        device, site = r.outage.device.code, r.outage.device.site.name
    else:
        device, site = "", r.site_incident.site.name if r.site_incident else ""
    return {"id": r.id, "outage_id": r.outage_id, "incident_id": r.site_incident_id, "cause": r.cause,
            "cause_label": cause_label(r.cause), "note": r.note, "note_text": render_stored(r.note),
            "photo": bool(r.photo_path), "evidence": r.evidence or {}, "source": r.source,
            "requested_by": r.requested_by, "requested_at": r.requested_at, "state": r.state,
            "decided_by": r.decided_by, "decided_at": r.decided_at, "decision_note": r.decision_note,
            "device": device, "site": site, "started_at": start, "ended_at": end,
            "window_id": r.maintenance_window_id}
