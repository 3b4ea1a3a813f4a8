"""Ticket use cases (T1–T8): open (by hand or from monitoring), dispatch, depart, arrive, checklist, start the
repair, resolve, reopen, cancel, add a note. Every change is audited (A3) and written to the ticket's history;
each transition emits ticket_transitioned, opening emits ticket_opened. Verification lives in verification.py."""
from __future__ import annotations

from datetime import datetime
from typing import Callable
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleetops.domain import sla
from fleetops.domain import tickets as rules
from fleetops.domain.choices import Role
from fleetops.domain.errors import ConflictError, NotFound, ValidationFailed
from fleetops.domain.text import Msg
from fleetops.models import Device, Site
from fleetops.models.base import utcnow
from fleetops.models.tickets import Ticket
from fleetops.platform import audit, events, parameters
from fleetops.platform.idempotency import actor_name, claim_request
from fleetops.services.tickets.crew import CrewPool, active_crew_member, pick_crew, qualifications_of
from fleetops.services.tickets.deadlines import record_if_late, set_deadlines, set_swap_deadline, site_zone
from fleetops.services.tickets.history_log import log_event, move
from fleetops.services.tickets.policies import policy_row
from fleetops.services.tickets.queries import get_ticket


def _policy(session: Session, key: str | None):
    """policy_row, looked up once per transaction: a blackout opens a hundred tickets under the same policy."""
    tx = session.get_transaction()
    if tx is None:
        return policy_row(session, key)
    memo = session.info.get("fleetops.tickets.policy")
    if memo is None or memo[0] is not tx:
        memo = session.info["fleetops.tickets.policy"] = (tx, {})
    if key not in memo[1]:
        memo[1][key] = policy_row(session, key)
    return memo[1][key]


def _previous_resolutions(session: Session, device_id: int) -> list[tuple[str, str]]:
    rows = session.execute(
        select(Ticket.category, Ticket.resolution).where(
            Ticket.device_id == device_id, Ticket.resolution != "", Ticket.resolved_at.is_not(None))
        .order_by(Ticket.resolved_at, Ticket.id)).all()
    return [(c, r) for c, r in rows]


def open_ticket(session: Session, *, device_id: int | None = None, site_id: int | None = None, category: str,
                source: str, opened_by, detected_at: datetime | None = None, evidence_path: str | None = None,
                summary: Msg | str = "", tier: str = "ordinary", policy_key: str | None = None,
                outage_id: int | None = None, incident_id: int | None = None, auto_dispatch: bool = True,
                request_id: str | None = None, now: datetime | None = None) -> Ticket:
    """T1: open a ticket for a device or a whole site. An open ticket for the same device and fault is
    reused, not doubled. With auto-dispatch the clock starts at `detected_at` (replays give the same deadlines).
    `summary` is free text or a Msg (stored as msgid + parameters)."""
    claim_request(session, request_id, "open_ticket")
    return open_tickets(session, [dict(
        device_id=device_id, site_id=site_id, category=category, source=source, detected_at=detected_at,
        evidence_path=evidence_path, summary=summary, tier=tier, policy_key=policy_key, outage_id=outage_id,
        incident_id=incident_id)], opened_by=opened_by, auto_dispatch=auto_dispatch, now=now)[0]


def open_tickets(session: Session, specs: list[dict], *, opened_by, auto_dispatch: bool = True,
                 now: datetime | None = None, pool: CrewPool | None = None,
                 after: Callable[[Ticket], None] | None = None) -> list[Ticket]:
    """open_ticket for many at once (a blackout's site tickets, issue 14): each spec holds open_ticket's keyword
    arguments (device_id … incident_id). Every spec is checked before anything is written; the new tickets go in
    with one INSERT, and the crew, their certificates and load, the SLA policy and the road factor are read once
    (`pool`: a CrewPool the caller already tracks tickets with). Then each ticket in turn is recorded, dispatched
    and handed to `after(ticket)` exactly as if it were opened alone: the same crew is picked, the same
    escalations raised; their history and audit rows go in with the next flush. Returns one ticket per spec (an
    open ticket of the same device and fault when there is one, as open_ticket; `after` sees only new ones)."""
    now = now or utcnow()
    out: list[Ticket] = []
    new: list[tuple[Ticket, dict]] = []
    pending: dict[tuple[int, str], Ticket] = {}
    for spec in specs:
        t, is_new = _new_ticket(session, now, opened_by, pending, **spec)
        out.append(t)
        if is_new:
            new.append((t, spec))
    if not new:
        return out
    session.add_all([t for t, _spec in new])
    session.flush()  # one INSERT, every id
    if auto_dispatch:
        pool = pool or CrewPool(session, gather_escalations=True)
        pool.track(t for t, _spec in new)
        road_factor = float(parameters.get(session, "ticket_road_factor"))
    with events.deferred(session, "ticket_transitioned"):  # its handler reads the alerts of each: one query
        for t, spec in new:
            source, category, summary = spec["source"], t.category, spec.get("summary", "")
            log_event(session, t, "opened", opened_by, note=summary, at=now,
                      data={"source": source, "category": category, "outage_id": spec.get("outage_id"),
                            "incident_id": spec.get("incident_id")})
            audit.record(session, opened_by, "ticket_opened", "ticket", t.id,
                         summary=Msg("%(target)s: %(fault)s", target=t.device.code if t.device else t.site.code,
                                     fault=Msg(rules.FaultCategory._LABELS.get(category, category),
                                               context="FaultCategory")),
                         after={"device_id": t.device_id, "site_id": t.site_id, "category": category,
                                "source": source, "tier": t.tier, "requires_replacement": t.requires_replacement})
            events.emit(session, "ticket_opened", ticket_id=t.id)
            if auto_dispatch:
                crew = pick_crew(session, t.site, ticket=t, pool=pool)  # T8: only qualified crew; else escalated
                _dispatch(session, t, crew.id if crew else None, opened_by, t.detected_at, road_factor)
            if after is not None:
                after(t)
        if auto_dispatch and pool.escalations is not None:
            pool.raise_escalations()  # before the held ticket_transitioned: their handler reads these alerts
    return out


def _new_ticket(session: Session, now: datetime, opened_by, pending: dict, *, device_id: int | None = None,
                site_id: int | None = None, category: str, source: str, detected_at: datetime | None = None,
                evidence_path: str | None = None, summary: Msg | str = "", tier: str = "ordinary",
                policy_key: str | None = None, outage_id: int | None = None,
                incident_id: int | None = None) -> tuple[Ticket, bool]:
    """Check one spec and build its ticket (not added), or return the open one of the same device and fault."""
    try:
        category = rules.FaultCategory(category).value
    except ValueError:
        raise ValidationFailed(Msg("Unknown fault category %(category)s.", category=repr(category))) from None
    if category in rules.NOT_FAULT_CATEGORIES:  # P3: planned work comes from its plan (open_planned_work)
        raise ValidationFailed(Msg("Unknown fault category %(category)s.", category=repr(category)))
    if detected_at is not None and detected_at.tzinfo is None:
        raise ValidationFailed(Msg("detected_at needs a timezone."))
    device = None
    if device_id is not None:
        device = session.get(Device, device_id)
        if device is None:
            raise NotFound(Msg("No device %(id)s.", id=device_id))
        site_id = device.site_id
    site = session.get(Site, site_id) if site_id is not None else None
    if site is None:
        raise ValidationFailed(Msg("A ticket needs a device or a site."))
    if device is not None:
        existing = pending.get((device.id, category)) or session.scalar(select(Ticket).where(
            Ticket.device_id == device.id, Ticket.category == category, Ticket.state.in_(rules.OPEN_STATES)))
        if existing is not None:
            log_event(session, existing, "finding_repeated", opened_by, note=summary or source, at=now)
            return existing, False
    policy = _policy(session, policy_key)
    t = Ticket(device_id=device.id if device else None, site_id=site.id, outage_id=outage_id, incident_id=incident_id,
               source=source, category=category, tier=tier or "ordinary", summary=_stored(summary),
               evidence_path=evidence_path or "", state="new", policy_id=policy.id,
               opened_by=actor_name(opened_by), opened_at=now, detected_at=detected_at or now,
               needs_height=bool(device and device.kind in rules.AT_HEIGHT_KINDS), checklist=[])
    t.site, t.device, t.policy = site, device, policy
    if device is not None:
        reason = sla.replacement_required(_previous_resolutions(session, device.id), category,
                                          int(parameters.get(session, "ticket_repairs_before_replacement")))
        if reason:
            t.requires_replacement, t.replacement_reason = True, _stored(reason)
        pending[(device.id, category)] = t
    return t, True


def open_planned_work(session: Session, works: list[dict], *, category: str, source: str, opened_by,
                      now: datetime | None = None) -> list[Ticket]:
    """P3: tickets for planned work (inspection orders), one per `works` item {"device": Device, "summary": Msg or
    text, "assignee_id": int or None}: never merged with another open ticket of the device, no SLA policy and so no
    respond/arrive/repair clocks (the deadline is the plan period's end, kept by the inspections area); dispatched at
    once when an assignee is given. History, audit and events as any ticket; inserted in batches (a month's orders
    for a whole fleet arrive at once)."""
    now = now or utcnow()
    if category not in rules.NOT_FAULT_CATEGORIES:
        raise ValidationFailed(Msg("Unknown fault category %(category)s.", category=repr(category)))
    made = []
    for w in works:
        device = w["device"]
        t = Ticket(device_id=device.id, site_id=device.site_id, source=source, category=category, tier="ordinary",
                   summary=_stored(w.get("summary")), state="new", policy_id=None, opened_by=actor_name(opened_by),
                   opened_at=now, detected_at=now, needs_height=False, checklist=[])
        t.site, t.device = device.site, device
        session.add(t)
        made.append(t)
    session.flush()
    with session.no_autoflush:  # the rows below go in with the next flush, in batches
        for t, w in zip(made, works):
            log_event(session, t, "opened", opened_by, note=w.get("summary") or "", at=now,
                      data={"source": source, "category": category})
            audit.record(session, opened_by, "ticket_opened", "ticket", t.id,
                         summary=f"{t.device.code}: {category} ({source})",
                         after={"device_id": t.device_id, "site_id": t.site_id, "category": category, "source": source})
            events.emit(session, "ticket_opened", ticket_id=t.id)
            if w.get("assignee_id") is not None:
                dispatch(session, t.id, assignee_id=w["assignee_id"], actor=opened_by, at=now)
    session.flush()
    return made


def complete_inspection(session: Session, ticket_id, *, actor, note: Msg | str = "", data=None,
                        at: datetime | None = None) -> Ticket:
    """P3: arrived (or repairing) → closed for an inspection order, done on site in one step (its checklist is the
    plan's)."""
    t = get_ticket(session, ticket_id)
    if t.category not in rules.NOT_FAULT_CATEGORIES:
        raise ConflictError(Msg("Only an inspection order is completed this way."))
    at = at or utcnow()
    move(session, t, "complete_inspection", actor, at, note=note, data=data)
    t.resolution, t.resolved_at, t.closed_at = "", at, at
    return t


def _stored(text) -> str:
    return text.stored() if isinstance(text, Msg) else (text or "")


def dispatch(session: Session, ticket_id, *, assignee_id: int | None, actor, at: datetime | None = None,
             request_id: str | None = None) -> Ticket:
    """new → dispatched (or reassign): the clock starts at the first notification and its class is fixed then (T2)."""
    claim_request(session, request_id, "dispatch", ticket_id)
    return _dispatch(session, get_ticket(session, ticket_id), assignee_id, actor, at or utcnow())


def _dispatch(session: Session, t: Ticket, assignee_id: int | None, actor, at: datetime,
              road_factor: float | None = None) -> Ticket:
    assignee = active_crew_member(session, assignee_id) if assignee_id is not None else None
    t.assignee_id, t.assignee = (assignee.id, assignee) if assignee else (None, None)
    first = t.notified_at is None
    if first:
        t.notified_at = at
    move(session, t, "dispatch", actor, at, note=f"→ {assignee.username if assignee else '-'}",
         data={"assignee": assignee.username if assignee else None})
    if first:
        set_deadlines(session, t, road_factor=road_factor)
    return t


def depart(session: Session, ticket_id, *, actor, at: datetime | None = None, request_id: str | None = None) -> Ticket:
    claim_request(session, request_id, "depart", ticket_id)
    t = get_ticket(session, ticket_id)
    at = at or utcnow()
    move(session, t, "depart", actor, at)
    t.departed_at = at
    record_if_late(session, t, "respond", t.respond_by, at)
    return t


def record_arrival(session: Session, ticket_id, *, actor, at: datetime | None = None, lat: float | None = None,
                   lon: float | None = None, request_id: str | None = None) -> Ticket:
    """Check-in on site, with the tablet's location when the browser gives one; repair_by now counts from here (T3)."""
    claim_request(session, request_id, "arrive", ticket_id)
    t = get_ticket(session, ticket_id)
    at = at or utcnow()
    if (lat is None) != (lon is None):
        raise ValidationFailed(Msg("A location needs both latitude and longitude."))
    if lat is not None and not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValidationFailed(Msg("The location is out of range."))
    was = t.state
    move(session, t, "arrive", actor, at, data={"lat": lat, "lon": lon})
    t.arrived_at, t.arrival_lat, t.arrival_lon = at, lat, lon
    if t.assignee_id is None and getattr(actor, "role", None) == Role.CREW:  # an unassigned ticket is taken on arrival
        t.assignee_id, t.assignee = actor.id, actor
    if was == "dispatched":
        t.departed_at = t.departed_at or at
        record_if_late(session, t, "respond", t.respond_by, at)
    record_if_late(session, t, "arrive", t.arrive_by, at)
    set_deadlines(session, t)
    return t


def tick_checklist(session: Session, ticket_id, items, *, actor, request_id: str | None = None) -> Ticket:
    """T7: record the roadside safety steps ticked (the full set replaces the previous one)."""
    claim_request(session, request_id, "checklist", ticket_id)
    t = get_ticket(session, ticket_id)
    if t.state not in ("arrived", "repairing"):
        raise ConflictError(Msg("The safety checklist is ticked on site, after check-in."))
    ticked = rules.validate_checklist_items(list(items or []))
    before = list(t.checklist or [])
    t.checklist = ticked
    log_event(session, t, "checklist_ticked", actor, from_state=t.state, data={"items": ticked})
    audit.record(session, actor, "ticket_checklist_ticked", "ticket", t.id, summary=Msg("%(done)s of %(total)s safety checklist items ticked", done=len(ticked),
                                   total=len(rules.CHECKLIST_KEYS)),
                 before={"checklist": before}, after={"checklist": ticked})
    return t


def start_repair(session: Session, ticket_id, *, actor, at: datetime | None = None,
                 request_id: str | None = None) -> Ticket:
    """arrived → repairing, only with the safety checklist complete (T7) and, for work at height, a certificate
    valid today at the site (T8)."""
    claim_request(session, request_id, "start_repair", ticket_id)
    t = get_ticket(session, ticket_id)
    at = at or utcnow()
    rules.transition(t.state, "start_repair")  # refuse illegal moves before anything else
    rules.require_checklist_complete(t.checklist)
    if t.needs_height:
        user_id = getattr(actor, "id", None)
        quals = qualifications_of(session, user_id) if user_id else []
        local_day = at.astimezone(ZoneInfo(site_zone(t.site))).date()
        rules.require_qualified(quals, True, local_day, actor_name(actor))
    move(session, t, "start_repair", actor, at)
    t.repair_started_at = at
    return t


def resolve(session: Session, ticket_id, resolution: str, *, actor, notes: str = "", at: datetime | None = None,
            request_id: str | None = None) -> Ticket:
    """repairing → resolved with how: repaired, part swapped or device replaced; T4 may demand a replacement."""
    claim_request(session, request_id, "resolve", ticket_id)
    t = get_ticket(session, ticket_id)
    at = at or utcnow()
    try:
        resolution = rules.Resolution(resolution).value
    except ValueError:
        raise ValidationFailed(Msg("Unknown resolution %(resolution)s.", resolution=repr(resolution))) from None
    if t.requires_replacement and resolution != rules.Resolution.DEVICE_REPLACED:
        raise ConflictError(Msg.from_stored(t.replacement_reason) or t.replacement_reason
                            or Msg("This device must be replaced."))
    from fleetops.services.tickets.crew import require_after_photo

    require_after_photo(t)  # T7: the fault's kind may need an "after" photo (domain/tickets.AFTER_PHOTO_REQUIRED)
    move(session, t, "resolve", actor, at, note=notes, data={"resolution": resolution})
    t.resolution, t.resolved_at = resolution, at
    if notes:
        t.work_notes = ((t.work_notes + "\n") if t.work_notes else "") + notes
    if t.swap_started_at is None:
        record_if_late(session, t, "repair", t.repair_by, at)
    else:
        record_if_late(session, t, "swap", t.swap_by, at)
    return t


def cannot_repair_on_site(session: Session, ticket_id, *, actor, note: str = "", at: datetime | None = None,
                          request_id: str | None = None) -> Ticket:
    """T3: the crew finds the device cannot be repaired on site: the repair clock stops (late if already past) and
    the spare-swap clock starts (`swap_h` of the policy). Recorded once; audited (A3)."""
    claim_request(session, request_id, "cannot_repair", ticket_id)
    t = get_ticket(session, ticket_id)
    at = at or utcnow()
    if t.state not in ("arrived", "repairing"):
        raise ConflictError(Msg("Only a crew on site can say the device cannot be repaired there."))
    if t.swap_started_at is not None:
        raise ConflictError(Msg("The spare swap has already been started."))
    t.swap_started_at = at
    set_swap_deadline(t)
    record_if_late(session, t, "repair", t.repair_by, at)
    note = (note or "").strip()
    log_event(session, t, "swap_started", actor, from_state=t.state, at=at,
              note=note or Msg("Cannot be repaired on site: swapping in a spare"),
              data={"swap_by": t.swap_by.isoformat() if t.swap_by else None})
    audit.record(session, actor, "ticket_swap_started", "ticket", t.id,
                 summary=Msg("Cannot be repaired on site: swapping in a spare"),
                 after={"swap_started_at": at, "swap_by": t.swap_by})
    return t


def close(session: Session, ticket_id, *, actor, at: datetime | None = None, request_id: str | None = None) -> Ticket:
    """verified → closed: a ticket is only closed when the device was verified working (T6)."""
    claim_request(session, request_id, "close", ticket_id)
    t = get_ticket(session, ticket_id)
    at = at or utcnow()
    move(session, t, "close", actor, at)
    t.closed_at = at
    return t


def reopen(session: Session, ticket_id, *, actor, reason: str, at: datetime | None = None,
           request_id: str | None = None) -> Ticket:
    claim_request(session, request_id, "reopen", ticket_id)
    if not (reason or "").strip():
        raise ValidationFailed(Msg("Say why the ticket is reopened."))
    t = get_ticket(session, ticket_id)
    move(session, t, "reopen", actor, at or utcnow(), note=reason.strip())
    t.resolution, t.resolved_at, t.verified_at = "", None, None
    return t


def cancel(session: Session, ticket_id, *, actor, reason: Msg | str, at: datetime | None = None,
           request_id: str | None = None) -> Ticket:
    """Cancel an open ticket (a false alarm, a duplicate); the reason is required and audited."""
    claim_request(session, request_id, "cancel", ticket_id)
    if not isinstance(reason, Msg):
        if not (reason or "").strip():
            raise ValidationFailed(Msg("Say why the ticket is cancelled."))
        reason = reason.strip()
    t = get_ticket(session, ticket_id)
    at = at or utcnow()
    move(session, t, "cancel", actor, at, note=reason)
    t.cancelled_at = at
    return t


def add_note(session: Session, ticket_id, note: str, *, actor, request_id: str | None = None) -> Ticket:
    """What was done, in words (T7); kept in the history and the audit log."""
    claim_request(session, request_id, "note", ticket_id)
    note = (note or "").strip()
    if not note:
        raise ValidationFailed(Msg("The note is empty."))
    t = get_ticket(session, ticket_id)
    t.work_notes = ((t.work_notes + "\n") if t.work_notes else "") + note
    log_event(session, t, "note_added", actor, from_state=t.state, note=note)
    audit.record(session, actor, "ticket_note_added", "ticket", t.id, summary=note[:200])
    return t

