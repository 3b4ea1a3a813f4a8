"""Ticket use cases: open (by hand or from monitoring events), dispatch, arrive, checklist, repair, resolve, verify, close; deadlines, breaches, penalties.

Every change is audited (A3) and written to the ticket's history. Events emitted here (besides
ticket_opened / ticket_transitioned): deadline_approaching(ticket_id, which, due_at) and
deadline_breached(ticket_id, which, due_at), where `which` is respond, arrive or repair.
"""
from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Callable
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from fleetops.domain import sla
from fleetops.domain import tickets as rules
from fleetops.domain.choices import IN_SERVICE, Role
from fleetops.domain.errors import ConflictError, NotFound, ValidationFailed
from fleetops.models import Device, Site, User
from fleetops.models.base import utcnow
from fleetops.models.tickets import (
    CrewQualification, RequestKey, SlaPolicyRow, Ticket, TicketBreach, TicketEvent, TicketPhoto,
)
from fleetops.platform import audit, events, parameters
from fleetops.platform.idempotency import actor_name, claim_request  # noqa: F401 - used by spares
from fleetops.domain.errors import DuplicateRequest  # noqa: F401 - re-exported for entry points

log = logging.getLogger(__name__)

# Contract numbers this area reads (key → default, description); registered by fleetops.wiring.
PARAMETERS = {
    "ticket_verify_up_minutes": (10,
        "T6: minutes a device must stay online before its ticket verifies"),
    "ticket_road_factor": (1.3,
        "T2: road distance = great-circle distance from the depot × this factor"),
    "ticket_warn_before_minutes": (30,
        "A1: warn this many minutes before a ticket deadline"),
    "ticket_repairs_before_replacement": (2,
        "T4: consecutive repairs of the same fault after which the device must be replaced"),
    "ticket_auto_close_on_verify": (True,
        "T6: close a ticket as soon as it verifies"),
    "contract_total_yuan": (0,
        "T9: the contract total the penalty rates apply to (yuan)"),
    "penalty_daily_pct": (0.5,
        "T9: % of the contract total per day late"),
    "penalty_not_to_spec_pct": (5,
        "T9: % of the contract total for service not to spec"),
    "photo_keep_location": (False,
        "T7: keep EXIF location in ticket photos"),
    "photo_max_mb": (10,
        "T7: largest photo accepted from the tablet (MB)"),
}


# ---------------------------------------------------------------- SLA policies (data)

def ensure_presets(session: Session) -> None:
    """Seed the two presets of the contract on first use (T5)."""
    if session.scalar(select(func.count()).select_from(SlaPolicyRow)):
        return
    for key, rules_ in sla.PRESETS.items():
        session.add(SlaPolicyRow(key=key, rules=dict(rules_), is_default=(key == "checkpoint_om")))
    session.flush()


def list_policies(session: Session) -> list[SlaPolicyRow]:
    ensure_presets(session)
    return list(session.scalars(select(SlaPolicyRow).order_by(SlaPolicyRow.id)))


def save_policy(session: Session, key: str, rules_: dict, actor, make_default: bool = False) -> SlaPolicyRow:
    """Create or change a policy (admin); validated by the domain, audited (A3)."""
    key = (key or "").strip()
    if not key or len(key) > 40:
        raise ValidationFailed("策略编号必填，最多 40 字 / A policy key is required (at most 40 characters).")
    try:
        policy = sla.SlaPolicy.from_dict(rules_)
    except sla.PolicyError as err:
        raise ValidationFailed(str(err)) from None
    ensure_presets(session)
    row = session.scalar(select(SlaPolicyRow).where(SlaPolicyRow.key == key))
    before = None if row is None else {"rules": row.rules, "is_default": row.is_default}
    if row is None:
        row = SlaPolicyRow(key=key, rules=policy.to_dict(), is_default=False)
        session.add(row)
    else:
        row.rules = policy.to_dict()
    if make_default:
        for other in session.scalars(select(SlaPolicyRow).where(SlaPolicyRow.key != key)):
            other.is_default = False
        row.is_default = True
    row.updated_at = utcnow()
    session.flush()
    audit.record(session, actor, "sla_policy_saved", "sla_policy", key, summary=policy.name,
                 before=before, after={"rules": row.rules, "is_default": row.is_default})
    return row


def _policy_row(session: Session, key: str | None) -> SlaPolicyRow:
    ensure_presets(session)
    if key:
        row = session.scalar(select(SlaPolicyRow).where(SlaPolicyRow.key == key))
        if row is None:
            raise ValidationFailed(f"没有 SLA 策略 {key} / No SLA policy {key!r}.")
        return row
    row = session.scalar(select(SlaPolicyRow).where(SlaPolicyRow.is_default.is_(True)))
    return row or session.scalar(select(SlaPolicyRow).order_by(SlaPolicyRow.id))


# ---------------------------------------------------------------- reading tickets

def get_ticket(session: Session, ticket_id) -> Ticket:
    try:
        ticket = session.get(Ticket, int(ticket_id))
    except (TypeError, ValueError):
        ticket = None
    if ticket is None:
        raise NotFound(f"没有工单 {ticket_id} / No ticket {ticket_id}.")
    return ticket


def next_action(ticket: Ticket) -> str | None:
    return rules.NEXT_CREW_ACTION.get(ticket.state)


def _crew_scope(user: User):
    """A crew member sees tickets assigned to them and unassigned ones in their district ("" = all)."""
    unassigned = Ticket.assignee_id.is_(None)
    if user.district:
        unassigned = unassigned & (Site.district == user.district)
    return or_(Ticket.assignee_id == user.id, unassigned)


def _sort_key(t: Ticket):
    policy = _parsed_policy(t.policy.rules) if t.policy else None
    due = t.repair_by if t.state not in rules.NOT_ARRIVED else (t.arrive_by or t.respond_by or t.repair_by)
    return sla.priority_key(bool(t.site and t.site.key_site), due, policy)


def _eager(q):
    """Load what a list row shows in a few queries instead of one per ticket."""
    return q.options(selectinload(Ticket.site), selectinload(Ticket.device), selectinload(Ticket.policy),
                     selectinload(Ticket.assignee), selectinload(Ticket.breaches))


def _parsed_policy(rules_: dict) -> sla.SlaPolicy:
    return sla.SlaPolicy.from_dict(rules_)


def my_tickets(session: Session, user: User) -> list[Ticket]:
    """The crew's list: open work, key sites first, then the nearest deadline; resolved ones (awaiting verification) last."""
    q = (select(Ticket).join(Site, Ticket.site_id == Site.id)
         .where(Ticket.state.in_(rules.NOT_RESOLVED | {"resolved"})))
    if user.role == Role.CREW:
        q = q.where(_crew_scope(user))
    return sorted(session.scalars(_eager(q)), key=lambda t: (t.state == "resolved", _sort_key(t)))


def list_tickets(session: Session, *, state: str = "", district: str = "", device_code: str = "",
                 overdue_only: bool = False, open_only: bool = False, now: datetime | None = None,
                 limit: int = 500) -> list[Ticket]:
    """Supervisors' list with filters; overdue tickets first, then by deadline (newest closed last)."""
    now = now or utcnow()
    q = select(Ticket).join(Site, Ticket.site_id == Site.id)
    if state:
        q = q.where(Ticket.state == state)
    if open_only:
        q = q.where(Ticket.state.in_(rules.OPEN_STATES))
    if district:
        q = q.where(Site.district == district)
    if device_code:
        q = q.join(Device, Ticket.device_id == Device.id).where(Device.code.contains(device_code))
    rows = list(session.scalars(_eager(q.order_by(Ticket.id.desc()).limit(limit))))
    if overdue_only:
        rows = [t for t in rows if is_overdue(t, now)]
    far = datetime.max.replace(tzinfo=ZoneInfo("UTC"))
    return sorted(rows, key=lambda t: (not is_overdue(t, now), t.state not in rules.OPEN_STATES,
                                       _current_due(t) or far))


def _current_due(t: Ticket) -> datetime | None:
    if t.state in rules.NOT_ARRIVED:
        return t.arrive_by or t.respond_by or t.repair_by
    if t.state in rules.NOT_RESOLVED:
        return t.repair_by
    return None


def is_overdue(t: Ticket, now: datetime) -> bool:
    due = _current_due(t)
    return due is not None and due < now


def breaches_of(t: Ticket, now: datetime | None = None) -> list[dict]:
    now = now or utcnow()
    out = []
    for b in t.breaches:
        if b.kind != "breached":
            continue
        done = {"respond": t.departed_at or t.arrived_at, "arrive": t.arrived_at,
                "repair": t.resolved_at}.get(b.which)
        end = done or now
        out.append({"which": b.which, "due_at": b.due_at.isoformat(),
                    "late_minutes": max(0, int((end - b.due_at).total_seconds() // 60)),
                    "days_late": sla.days_late(b.due_at, end), "still_running": done is None})
    return out


def ticket_row(t: Ticket, now: datetime | None = None) -> dict:
    """The ticket as the API and `fleetops tickets --json` give it."""
    iso = lambda v: v.isoformat() if v else None  # noqa: E731
    return {
        "id": t.id, "device": t.device.code if t.device else None, "site": t.site.code if t.site else None,
        "site_name": t.site.name if t.site else None, "key_site": bool(t.site and t.site.key_site),
        "category": t.category, "tier": t.tier, "source": t.source, "state": t.state,
        "resolution": t.resolution or None, "summary": t.summary,
        "assignee": t.assignee.username if t.assignee else None,
        "policy": t.policy.key if t.policy else None,
        "opened_at": iso(t.opened_at), "detected_at": iso(t.detected_at), "notified_at": iso(t.notified_at),
        "respond_by": iso(t.respond_by), "arrive_by": iso(t.arrive_by), "repair_by": iso(t.repair_by),
        "arrived_at": iso(t.arrived_at), "resolved_at": iso(t.resolved_at), "verified_at": iso(t.verified_at),
        "closed_at": iso(t.closed_at), "day_night": t.day_night or None,
        "distance_km": round(t.distance_km, 1) if t.distance_km is not None else None,
        "requires_replacement": t.requires_replacement, "replacement_reason": t.replacement_reason or None,
        "needs_height": t.needs_height, "checklist": list(t.checklist or []),
        "outage_id": t.outage_id, "incident_id": t.incident_id,
        "breaches": breaches_of(t, now),
    }


def history(session: Session, ticket_id) -> list[TicketEvent]:
    return list(get_ticket(session, ticket_id).events)


# ---------------------------------------------------------------- opening

def _pick_crew(session: Session, site: Site) -> User | None:
    """Auto-dispatch: the crew member of the site's district (else an all-district one) with the fewest open tickets."""
    crews = list(session.scalars(select(User).where(User.role == Role.CREW, User.active.is_(True))))
    local = [u for u in crews if u.district and u.district == site.district] or [u for u in crews if not u.district]
    if not local:
        return None
    load = dict(session.execute(
        select(Ticket.assignee_id, func.count()).where(Ticket.state.in_(rules.NOT_RESOLVED))
        .group_by(Ticket.assignee_id)).all())
    return min(local, key=lambda u: (load.get(u.id, 0), u.id))


def _set_deadlines(session: Session, t: Ticket) -> None:
    """Compute the clocks from the policy, the site's sun and the distance from the crew's depot (T2, T3, T5)."""
    if t.notified_at is None or t.policy is None:
        return
    site = t.site
    depot = (t.assignee.depot if t.assignee and t.assignee.depot else None) or site.depot
    distance = sla.travel_distance_km(site.latitude, site.longitude,
                                      depot.latitude if depot else None, depot.longitude if depot else None,
                                      float(parameters.get(session, "ticket_road_factor")), site.road_distance_km)
    try:
        d = sla.deadlines(sla.SlaPolicy.from_dict(t.policy.rules), t.notified_at, lat=site.latitude,
                          lon=site.longitude, tz_name=site.timezone or "Asia/Shanghai", distance_km=distance,
                          tier=t.tier, arrived_at=t.arrived_at)
    except sla.PolicyError as err:
        raise ValidationFailed(str(err)) from None
    t.day_night, t.distance_km = d.day_night, d.distance_km
    t.respond_by, t.arrive_by, t.repair_by = d.respond_by, d.arrive_by, d.repair_by


def _log(session: Session, t: Ticket, action: str, actor, *, from_state="", note="", data=None, at=None) -> None:
    session.add(TicketEvent(ticket_id=t.id, at=at or utcnow(), actor_name=actor_name(actor), action=action,
                            from_state=from_state, to_state=t.state, note=note, data=data))


def _move(session: Session, t: Ticket, action: str, actor, at: datetime, note: str = "", data=None) -> str:
    """Apply one transition of the state machine, with history, audit (A3) and the ticket_transitioned event."""
    before = t.state
    t.state = rules.transition(t.state, action)
    _log(session, t, action, actor, from_state=before, note=note, data=data, at=at)
    audit.record(session, actor, f"ticket_{action}", "ticket", t.id, summary=note or f"{before} → {t.state}",
                 before={"state": before}, after={"state": t.state, **(data or {})})
    events.emit(session, "ticket_transitioned", ticket_id=t.id, from_state=before, to_state=t.state)
    return before


def _previous_resolutions(session: Session, device_id: int) -> list[tuple[str, str]]:
    rows = session.execute(
        select(Ticket.category, Ticket.resolution).where(
            Ticket.device_id == device_id, Ticket.resolution != "", Ticket.resolved_at.is_not(None))
        .order_by(Ticket.resolved_at, Ticket.id)).all()
    return [(c, r) for c, r in rows]


def open_ticket(session: Session, *, device_id: int | None = None, site_id: int | None = None, category: str,
                source: str, opened_by, detected_at: datetime | None = None, evidence_path: str | None = None,
                summary: str = "", tier: str = "ordinary", policy_key: str | None = None,
                outage_id: int | None = None, incident_id: int | None = None, auto_dispatch: bool = True,
                request_id: str | None = None, now: datetime | None = None) -> Ticket:
    """T1: open a ticket for a device or a whole site. An open ticket for the same device and fault is
    reused, not doubled. With auto-dispatch the clock starts at `detected_at` (replays give the same deadlines)."""
    claim_request(session, request_id, "open_ticket")
    now = now or utcnow()
    try:
        category = rules.FaultCategory(category).value
    except ValueError:
        raise ValidationFailed(f"未知故障类别 {category!r} / Unknown fault category {category!r}.") from None
    if detected_at is not None and detected_at.tzinfo is None:
        raise ValidationFailed("detected_at 需要时区 / detected_at needs a timezone.")
    device = None
    if device_id is not None:
        device = session.get(Device, device_id)
        if device is None:
            raise NotFound(f"没有设备 {device_id} / No device {device_id}.")
        site_id = device.site_id
    site = session.get(Site, site_id) if site_id is not None else None
    if site is None:
        raise ValidationFailed("工单需要设备或点位 / A ticket needs a device or a site.")
    if device is not None:
        existing = session.scalar(select(Ticket).where(
            Ticket.device_id == device.id, Ticket.category == category, Ticket.state.in_(rules.OPEN_STATES)))
        if existing is not None:
            _log(session, existing, "finding_repeated", opened_by, note=summary or source, at=now)
            return existing
    policy_row = _policy_row(session, policy_key)
    t = Ticket(device_id=device.id if device else None, site_id=site.id, outage_id=outage_id, incident_id=incident_id,
               source=source, category=category, tier=tier or "ordinary", summary=summary or "",
               evidence_path=evidence_path or "", state="new", policy_id=policy_row.id,
               opened_by=actor_name(opened_by), opened_at=now, detected_at=detected_at or now,
               needs_height=bool(device and device.kind in rules.AT_HEIGHT_KINDS), checklist=[])
    t.site, t.device, t.policy = site, device, policy_row
    if device is not None:
        reason = sla.replacement_required(_previous_resolutions(session, device.id), category,
                                          int(parameters.get(session, "ticket_repairs_before_replacement")))
        if reason:
            t.requires_replacement, t.replacement_reason = True, reason
    session.add(t)
    session.flush()
    _log(session, t, "opened", opened_by, note=summary, at=now,
         data={"source": source, "category": category, "outage_id": outage_id, "incident_id": incident_id})
    audit.record(session, opened_by, "ticket_opened", "ticket", t.id,
                 summary=f"{device.code if device else site.code}: {category} ({source})",
                 after={"device_id": t.device_id, "site_id": t.site_id, "category": category, "source": source,
                        "tier": t.tier, "requires_replacement": t.requires_replacement})
    events.emit(session, "ticket_opened", ticket_id=t.id)
    if auto_dispatch:
        crew = _pick_crew(session, site)
        dispatch(session, t.id, assignee_id=crew.id if crew else None, actor=opened_by, at=t.detected_at)
    return t


# ---------------------------------------------------------------- the crew's steps

def dispatch(session: Session, ticket_id, *, assignee_id: int | None, actor, at: datetime | None = None,
             request_id: str | None = None) -> Ticket:
    """new → dispatched (or reassign): the clock starts at the first notification and its class is fixed then (T2)."""
    claim_request(session, request_id, "dispatch", ticket_id)
    t = get_ticket(session, ticket_id)
    at = at or utcnow()
    assignee = None
    if assignee_id is not None:
        assignee = session.get(User, assignee_id)
        if assignee is None or assignee.role != Role.CREW or not assignee.active:
            raise ValidationFailed(f"用户 {assignee_id} 不是在岗运维人员 / User {assignee_id} is not an active crew member.")
    t.assignee_id, t.assignee = (assignee.id, assignee) if assignee else (None, None)
    first = t.notified_at is None
    if first:
        t.notified_at = at
    _move(session, t, "dispatch", actor, at, note=f"→ {assignee.username if assignee else '-'}",
          data={"assignee": assignee.username if assignee else None})
    if first:
        _set_deadlines(session, t)
    return t


def depart(session: Session, ticket_id, *, actor, at: datetime | None = None, request_id: str | None = None) -> Ticket:
    claim_request(session, request_id, "depart", ticket_id)
    t = get_ticket(session, ticket_id)
    at = at or utcnow()
    _move(session, t, "depart", actor, at)
    t.departed_at = at
    _record_if_late(session, t, "respond", t.respond_by, at)
    return t


def record_arrival(session: Session, ticket_id, *, actor, at: datetime | None = None, lat: float | None = None,
                   lon: float | None = None, request_id: str | None = None) -> Ticket:
    """Check-in on site, with the tablet's location when the browser gives one; repair_by now counts from here (T3)."""
    claim_request(session, request_id, "arrive", ticket_id)
    t = get_ticket(session, ticket_id)
    at = at or utcnow()
    if (lat is None) != (lon is None):
        raise ValidationFailed("位置需要经度和纬度 / A location needs both latitude and longitude.")
    if lat is not None and not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValidationFailed("位置超出范围 / The location is out of range.")
    was = t.state
    _move(session, t, "arrive", actor, at, data={"lat": lat, "lon": lon})
    t.arrived_at, t.arrival_lat, t.arrival_lon = at, lat, lon
    if t.assignee_id is None and getattr(actor, "role", None) == Role.CREW:  # an unassigned ticket is taken on arrival
        t.assignee_id, t.assignee = actor.id, actor
    if was == "dispatched":
        t.departed_at = t.departed_at or at
        _record_if_late(session, t, "respond", t.respond_by, at)
    _record_if_late(session, t, "arrive", t.arrive_by, at)
    _set_deadlines(session, t)
    return t


def tick_checklist(session: Session, ticket_id, items, *, actor, request_id: str | None = None) -> Ticket:
    """T7: record the roadside safety steps ticked (the full set replaces the previous one)."""
    claim_request(session, request_id, "checklist", ticket_id)
    t = get_ticket(session, ticket_id)
    if t.state not in ("arrived", "repairing"):
        raise ConflictError("到场后才能勾选安全检查 / The safety checklist is ticked on site, after check-in.")
    ticked = rules.validate_checklist_items(list(items or []))
    before = list(t.checklist or [])
    t.checklist = ticked
    _log(session, t, "checklist_ticked", actor, from_state=t.state, data={"items": ticked})
    audit.record(session, actor, "ticket_checklist_ticked", "ticket", t.id, summary=", ".join(ticked),
                 before={"checklist": before}, after={"checklist": ticked})
    return t


def qualifications_of(session: Session, user_id: int) -> list[rules.Qualification]:
    return [rules.Qualification(q.kind, q.valid_from, q.valid_until)
            for q in session.scalars(select(CrewQualification).where(CrewQualification.user_id == user_id))]


def add_qualification(session: Session, user_id: int, kind: str, valid_until, *, valid_from=None,
                      certificate_no: str = "", actor=None) -> CrewQualification:
    """T8: record a crew member's certificate and its validity (audited)."""
    user = session.get(User, user_id)
    if user is None or user.role != Role.CREW:
        raise ValidationFailed(f"用户 {user_id} 不是运维人员 / User {user_id} is not a crew member.")
    if valid_from is not None and valid_from > valid_until:
        raise ValidationFailed("有效期起始晚于截止 / The certificate ends before it starts.")
    try:
        kind = rules.QualificationKind(kind).value
    except ValueError:
        raise ValidationFailed(f"未知资格 {kind!r} / Unknown qualification {kind!r}.") from None
    q = CrewQualification(user_id=user_id, kind=kind, valid_from=valid_from, valid_until=valid_until,
                          certificate_no=certificate_no)
    session.add(q)
    session.flush()
    audit.record(session, actor, "qualification_added", "user", user_id, summary=f"{kind} → {valid_until}",
                 after={"kind": kind, "valid_until": valid_until, "certificate_no": certificate_no})
    return q


def list_qualifications(session: Session) -> list[CrewQualification]:
    return list(session.scalars(select(CrewQualification).options(selectinload(CrewQualification.user))
                                .order_by(CrewQualification.user_id, CrewQualification.kind,
                                          CrewQualification.valid_until)))


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
        local_day = at.astimezone(ZoneInfo(t.site.timezone or "Asia/Shanghai")).date()
        rules.require_qualified(quals, True, local_day, actor_name(actor))
    _move(session, t, "start_repair", actor, at)
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
        raise ValidationFailed(f"未知处理方式 {resolution!r} / Unknown resolution {resolution!r}.") from None
    if t.requires_replacement and resolution != rules.Resolution.DEVICE_REPLACED:
        raise ConflictError(t.replacement_reason or "此设备须整机更换 / This device must be replaced (T4).")
    _move(session, t, "resolve", actor, at, note=notes, data={"resolution": resolution})
    t.resolution, t.resolved_at = resolution, at
    if notes:
        t.work_notes = ((t.work_notes + "\n") if t.work_notes else "") + notes
    _record_if_late(session, t, "repair", t.repair_by, at)
    return t


# T6: extra checks by fault category (e.g. the quality area registers "a good snapshot since resolution").
# A verifier is func(session, ticket, now) -> None when satisfied, or a sentence saying what is still wrong.
VERIFIERS: dict[str, list[Callable]] = {}


def register_verifier(category: str, func: Callable) -> Callable:
    VERIFIERS.setdefault(category, [])
    if func not in VERIFIERS[category]:
        VERIFIERS[category].append(func)
    return func


def verification_problems(session: Session, t: Ticket, now: datetime) -> list[str]:
    """What still stops the ticket from verifying: devices not back up long enough, category verifiers (T6)."""
    minutes = float(parameters.get(session, "ticket_verify_up_minutes"))
    if t.device is not None:
        devices = [t.device]
    else:
        devices = list(session.scalars(select(Device).where(
            Device.site_id == t.site_id, Device.lifecycle.in_([s.value for s in IN_SERVICE]))))
    problems = []
    for d in devices:
        if d.status != "up" or d.status_since is None:
            problems.append(f"{d.code} 未在线 / {d.code} is not online.")
        elif d.status_since > now - timedelta(minutes=minutes):
            problems.append(f"{d.code} 在线未满 {minutes:g} 分钟 / {d.code} has been online less than {minutes:g} min.")
    for verifier in VERIFIERS.get(t.category, ()):
        problem = verifier(session, t, now)
        if problem:
            problems.append(problem)
    return problems


def verify(session: Session, ticket_id, *, actor="system", now: datetime | None = None,
           request_id: str | None = None) -> Ticket:
    """resolved → verified, only when the device has been back online for the configured time (T6)."""
    claim_request(session, request_id, "verify", ticket_id)
    t = get_ticket(session, ticket_id)
    now = now or utcnow()
    rules.transition(t.state, "verify")
    problems = verification_problems(session, t, now)
    if problems:
        raise ConflictError("尚不能验证 / Cannot verify yet: " + " ".join(problems), problems=problems)
    _move(session, t, "verify", actor, now)
    t.verified_at = now
    return t


def close(session: Session, ticket_id, *, actor, at: datetime | None = None, request_id: str | None = None) -> Ticket:
    """verified → closed: a ticket is only closed when the device was verified working (T6)."""
    claim_request(session, request_id, "close", ticket_id)
    t = get_ticket(session, ticket_id)
    at = at or utcnow()
    _move(session, t, "close", actor, at)
    t.closed_at = at
    return t


def reopen(session: Session, ticket_id, *, actor, reason: str, at: datetime | None = None,
           request_id: str | None = None) -> Ticket:
    claim_request(session, request_id, "reopen", ticket_id)
    if not (reason or "").strip():
        raise ValidationFailed("重新维修需要说明原因 / Say why the ticket is reopened.")
    t = get_ticket(session, ticket_id)
    _move(session, t, "reopen", actor, at or utcnow(), note=reason.strip())
    t.resolution, t.resolved_at, t.verified_at = "", None, None
    return t


def cancel(session: Session, ticket_id, *, actor, reason: str, at: datetime | None = None,
           request_id: str | None = None) -> Ticket:
    """Cancel an open ticket (a false alarm, a duplicate); the reason is required and audited."""
    claim_request(session, request_id, "cancel", ticket_id)
    if not (reason or "").strip():
        raise ValidationFailed("取消工单需要说明原因 / Say why the ticket is cancelled.")
    t = get_ticket(session, ticket_id)
    at = at or utcnow()
    _move(session, t, "cancel", actor, at, note=reason.strip())
    t.cancelled_at = at
    return t


def add_note(session: Session, ticket_id, note: str, *, actor, request_id: str | None = None) -> Ticket:
    """What was done, in words (T7); kept in the history and the audit log."""
    claim_request(session, request_id, "note", ticket_id)
    note = (note or "").strip()
    if not note:
        raise ValidationFailed("备注不能为空 / The note is empty.")
    t = get_ticket(session, ticket_id)
    t.work_notes = ((t.work_notes + "\n") if t.work_notes else "") + note
    _log(session, t, "note_added", actor, from_state=t.state, note=note)
    audit.record(session, actor, "ticket_note_added", "ticket", t.id, summary=note[:200])
    return t


def may_act(user: User, t: Ticket) -> bool:
    """Crew act on their own tickets and unassigned ones of their district; supervisors and admins on all."""
    if user.role != Role.CREW:
        return True
    if t.assignee_id is not None:
        return t.assignee_id == user.id
    return not user.district or (t.site is not None and t.site.district == user.district)


def add_photo(session: Session, ticket_id, phase: str, data: bytes, *, upload_dir: str, actor,
              request_id: str | None = None) -> TicketPhoto:
    """T7: a before/after photo: size-limited, JPEG/PNG only, EXIF location stripped unless the admin allows it,
    stored under UPLOAD_DIR/tickets/<id>/ with a thumbnail."""
    from probes import thumbnails

    claim_request(session, request_id, "photo", ticket_id)
    t = get_ticket(session, ticket_id)
    if phase not in ("before", "after"):
        raise ValidationFailed("照片应为维修前或维修后 / A photo is 'before' or 'after'.")
    if t.state not in ("arrived", "repairing", "resolved"):
        raise ConflictError("到场后才能上传现场照片 / Site photos are added after check-in.")
    limit_mb = float(parameters.get(session, "photo_max_mb"))
    if not data:
        raise ValidationFailed("没有收到照片 / No photo was received.")
    if len(data) > limit_mb * 1024 * 1024:
        raise ValidationFailed(f"照片超过 {limit_mb:g} MB / The photo is larger than {limit_mb:g} MB.")
    try:
        content_type, _w, _h = thumbnails.sniff(data)
    except thumbnails.PhotoError as err:
        raise ValidationFailed(str(err)) from None
    keep = bool(parameters.get(session, "photo_keep_location"))
    if not keep:
        data = thumbnails.strip_metadata(data)
    folder = Path(upload_dir) / "tickets" / str(t.id)
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{phase}-{uuid.uuid4().hex[:12]}"
    ext = ".jpg" if content_type == "image/jpeg" else ".png"
    path = folder / f"{stem}{ext}"
    path.write_bytes(data)
    thumb = thumbnails.make_thumbnail(data)
    thumb_rel = ""
    if thumb:
        (folder / f"{stem}.thumb.jpg").write_bytes(thumb)
        thumb_rel = f"tickets/{t.id}/{stem}.thumb.jpg"
    photo = TicketPhoto(ticket_id=t.id, phase=phase, path=f"tickets/{t.id}/{stem}{ext}", thumb_path=thumb_rel,
                        content_type=content_type, size_bytes=len(data), location_kept=keep,
                        taken_by=actor_name(actor), taken_at=utcnow())
    session.add(photo)
    session.flush()
    _log(session, t, "photo_added", actor, from_state=t.state, data={"phase": phase, "photo_id": photo.id})
    audit.record(session, actor, "ticket_photo_added", "ticket", t.id, summary=f"{phase} {photo.path}",
                 after={"phase": phase, "path": photo.path, "size_bytes": photo.size_bytes})
    return photo


# ---------------------------------------------------------------- deadlines, breaches, penalties

def _record_if_late(session: Session, t: Ticket, which: str, due: datetime | None, done_at: datetime) -> None:
    if due is not None and done_at > due:
        _breach(session, t, which, due, "breached", now=done_at)


def _breach(session: Session, t: Ticket, which: str, due: datetime, kind: str, now: datetime) -> bool:
    """Record a deadline event once per (ticket, deadline, kind); emit it for the alerts area."""
    if any(b.which == which and b.kind == kind for b in t.breaches):
        return False
    row = TicketBreach(ticket_id=t.id, which=which, kind=kind, due_at=due, recorded_at=now)
    session.add(row)
    t.breaches.append(row)
    _log(session, t, f"deadline_{kind}", "system", from_state=t.state, at=now,
         data={"which": which, "due_at": due.isoformat()})
    if kind == "breached":
        audit.record(session, None, "ticket_deadline_breached", "ticket", t.id,
                     summary=f"{which} due {due.isoformat()}", after={"which": which, "due_at": due})
    events.emit(session, f"deadline_{'breached' if kind == 'breached' else 'approaching'}",
                ticket_id=t.id, which=which, due_at=due)
    return True


def check_deadlines(session: Session, now: datetime | None = None) -> dict:
    """Warn before and record after each running deadline (respond, arrive, repair) of open tickets."""
    now = now or utcnow()
    warn = timedelta(minutes=float(parameters.get(session, "ticket_warn_before_minutes")))
    counts = {"approaching": 0, "breached": 0}
    for t in session.scalars(select(Ticket).where(Ticket.state.in_(rules.NOT_RESOLVED))
                             .options(selectinload(Ticket.breaches))):
        running = []
        if t.state in ("new", "dispatched"):
            running.append(("respond", t.respond_by))
        if t.state in rules.NOT_ARRIVED:
            running.append(("arrive", t.arrive_by))
        running.append(("repair", t.repair_by))
        for which, due in running:
            if due is None:
                continue
            if due <= now:
                counts["breached"] += _breach(session, t, which, due, "breached", now)
            elif due - warn <= now:
                counts["approaching"] += _breach(session, t, which, due, "approaching", now)
    return counts


def penalty_estimate(session: Session, *, since: datetime | None = None, until: datetime | None = None,
                     not_to_spec_cases: int = 0, now: datetime | None = None) -> dict:
    """T9: days late summed over the breached deadlines of tickets opened in the period, priced per the contract."""
    now = now or utcnow()
    breached = select(TicketBreach.ticket_id).where(TicketBreach.kind == "breached")
    q = select(Ticket).where(Ticket.id.in_(breached))
    if since:
        q = q.where(Ticket.opened_at >= since)
    if until:
        q = q.where(Ticket.opened_at < until)
    per_ticket = []
    total_days = 0
    for t in session.scalars(q):
        days = sum(b["days_late"] for b in breaches_of(t, now))
        total_days += days
        per_ticket.append({"ticket_id": t.id, "days_late": days})
    est = sla.estimate_penalty(Decimal(str(parameters.get(session, "contract_total_yuan"))), total_days,
                               not_to_spec_cases, Decimal(str(parameters.get(session, "penalty_daily_pct"))),
                               Decimal(str(parameters.get(session, "penalty_not_to_spec_pct"))))
    return {"contract_total": str(est.contract_total), "days_late": est.days_late,
            "not_to_spec_cases": est.not_to_spec, "late_amount": str(est.late_amount),
            "not_to_spec_amount": str(est.not_to_spec_amount), "total": str(est.total), "tickets": per_ticket}


def auto_verify(session: Session, now: datetime | None = None) -> dict:
    """T6: verify resolved tickets whose device has been back long enough; close them when configured."""
    now = now or utcnow()
    auto_close = bool(parameters.get(session, "ticket_auto_close_on_verify"))
    verified = closed = 0
    for t in list(session.scalars(select(Ticket).where(Ticket.state == "resolved"))):
        if verification_problems(session, t, now):
            continue
        _move(session, t, "verify", "system", now, note="设备恢复在线 / device back online")
        t.verified_at = now
        verified += 1
        if auto_close:
            _move(session, t, "close", "system", now)
            t.closed_at = now
            closed += 1
    return {"verified": verified, "closed": closed}


# ---------------------------------------------------------------- reacting to monitoring (T1, U5)

def on_outage_opened(session: Session, outage_id, device_id, started_at=None, detected_at=None, **_):
    if session.scalar(select(Ticket.id).where(Ticket.outage_id == outage_id)) is not None:
        return  # replayed event
    device = session.get(Device, device_id)
    if device is None:
        log.warning("outage_opened for unknown device_id=%s", device_id)
        return
    site_ticket = session.scalar(select(Ticket).where(
        Ticket.site_id == device.site_id, Ticket.device_id.is_(None), Ticket.incident_id.is_not(None),
        Ticket.state.in_(rules.OPEN_STATES)))
    if site_ticket is not None:  # U5: one ticket per site incident, not one per child device
        _log(session, site_ticket, "device_outage_joined", "monitoring", from_state=site_ticket.state,
             note=device.code, data={"outage_id": outage_id})
        return
    open_ticket(session, device_id=device.id, category="offline", source="outage", opened_by="monitoring",
                detected_at=detected_at or started_at, outage_id=outage_id,
                summary=f"{device.code} 离线 / offline")


def on_site_incident_opened(session: Session, incident_id, site_id, started_at=None, detected_at=None, **_):
    if session.scalar(select(Ticket.id).where(Ticket.incident_id == incident_id)) is not None:
        return
    site = session.get(Site, site_id)
    if site is None:
        log.warning("site_incident_opened for unknown site_id=%s", site_id)
        return
    t = open_ticket(session, site_id=site.id, category="site_dark", source="incident", opened_by="monitoring",
                    detected_at=detected_at or started_at, incident_id=incident_id,
                    summary=f"{site.code} {site.name} 整点断电/断网 / whole site dark")
    # Device tickets this incident explains, still untouched by the crew, are merged into it (U5).
    for child in session.scalars(select(Ticket).where(
            Ticket.site_id == site.id, Ticket.device_id.is_not(None), Ticket.source == "outage",
            Ticket.state.in_(("new", "dispatched")))):
        cancel(session, child.id, actor="monitoring", reason=f"并入点位工单 #{t.id} / merged into site ticket #{t.id}")


def _note_back_online(session: Session, t: Ticket | None, at) -> None:
    if t is not None and t.state in rules.OPEN_STATES:
        _log(session, t, "back_online", "monitoring", from_state=t.state, at=at)


def on_outage_closed(session: Session, outage_id, device_id=None, ended_at=None, **_):
    _note_back_online(session, session.scalar(select(Ticket).where(Ticket.outage_id == outage_id)), ended_at)


def on_site_incident_closed(session: Session, incident_id, site_id=None, ended_at=None, **_):
    _note_back_online(session, session.scalar(select(Ticket).where(Ticket.incident_id == incident_id)), ended_at)


# ---------------------------------------------------------------- scheduled jobs

def job_deadlines(app) -> None:
    from fleetops.db import session_scope

    with session_scope(app.extensions["fleetops.sessionmaker"]) as s:
        counts = check_deadlines(s)
    log.info("job=ticket_deadlines approaching=%d breached=%d", counts["approaching"], counts["breached"])


def job_verify(app) -> None:
    from fleetops.db import session_scope

    with session_scope(app.extensions["fleetops.sessionmaker"]) as s:
        counts = auto_verify(s)
    log.info("job=ticket_verify verified=%d closed=%d", counts["verified"], counts["closed"])
