"""Reading tickets: one ticket, the crew's list, the supervisors' filtered list, deadlines and breaches as rows,
and the look-ups the ticket pages, API and CLI need (they do not query the tables themselves)."""
from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session, selectinload

from fleetops.domain import sla
from fleetops.domain import tickets as rules
from fleetops.domain.choices import Role
from fleetops.domain.errors import NotFound
from fleetops.domain.text import Msg, render_stored
from fleetops.models import AuditLog, Device, Site, User
from fleetops.models.base import utcnow
from fleetops.models.tickets import Ticket, TicketBreach, TicketEvent, TicketPhoto


def get_ticket(session: Session, ticket_id) -> Ticket:
    try:
        ticket = session.get(Ticket, int(ticket_id))
    except (TypeError, ValueError):
        ticket = None
    if ticket is None:
        raise NotFound(Msg("No ticket %(id)s.", id=ticket_id))
    return ticket


def next_action(ticket: Ticket) -> str | None:
    return rules.NEXT_CREW_ACTION.get(ticket.state)


def may_act(user: User, t: Ticket) -> bool:
    """Crew act on their own tickets and unassigned ones of their district; supervisors and admins on all."""
    if user.role != Role.CREW:
        return True
    if t.assignee_id is not None:
        return t.assignee_id == user.id
    return not user.district or (t.site is not None and t.site.district == user.district)


def _crew_scope(user: User):
    """A crew member sees tickets assigned to them and unassigned ones in their district ("" = all)."""
    unassigned = Ticket.assignee_id.is_(None)
    if user.district:
        unassigned = unassigned & (Site.district == user.district)
    return or_(Ticket.assignee_id == user.id, unassigned)


def _sort_key(t: Ticket):
    policy = sla.SlaPolicy.from_dict(t.policy.rules) if t.policy else None
    due = t.repair_by if t.state not in rules.NOT_ARRIVED else (t.arrive_by or t.respond_by or t.repair_by)
    return sla.priority_key(bool(t.site and t.site.key_site), due, policy)


def _eager(q):
    """Load what a list row shows in a few queries instead of one per ticket."""
    return q.options(selectinload(Ticket.site), selectinload(Ticket.device), selectinload(Ticket.policy),
                     selectinload(Ticket.assignee), selectinload(Ticket.breaches))


def my_tickets(session: Session, user: User) -> list[Ticket]:
    """The crew's list: open work, key sites first, then the nearest deadline; resolved ones (awaiting verification) last."""
    q = (select(Ticket).join(Site, Ticket.site_id == Site.id)
         .where(Ticket.state.in_(rules.NOT_RESOLVED | {"resolved"}),
                Ticket.category.not_in(rules.NOT_FAULT_CATEGORIES)))  # P3: inspections are on "My route"
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
        q = q.join(Device, Ticket.device_id == Device.id).where(Device.code.contains(device_code, autoescape=True))
    rows = list(session.scalars(_eager(q.order_by(Ticket.id.desc()).limit(limit))))
    if overdue_only:
        rows = [t for t in rows if is_overdue(t, now)]
    far = datetime.max.replace(tzinfo=ZoneInfo("UTC"))
    return sorted(rows, key=lambda t: (not is_overdue(t, now), t.state not in rules.OPEN_STATES,
                                       current_due(t) or far))


# ---------------------------------------------------------------- the two lists, paged in SQL (issue 14: no cap)

def _due_sql():
    """current_due in SQL: the arrival deadline before arrival, the repair deadline until resolved, else none."""
    return case((Ticket.state.in_(sorted(rules.NOT_ARRIVED)),
                 func.coalesce(Ticket.arrive_by, Ticket.respond_by, Ticket.repair_by)),
                (Ticket.state.in_(sorted(rules.NOT_RESOLVED)), Ticket.repair_by), else_=None)


def _key_sites_first_policies(session: Session) -> list[int]:
    from fleetops.models.tickets import SlaPolicyRow

    return [p.id for p in session.scalars(select(SlaPolicyRow))
            if sla.SlaPolicy.from_dict(p.rules or {}).key_sites_first]


def _page_rows(session: Session, ids: list[int], breaches: bool = True) -> list[SimpleNamespace]:
    """The tickets `ids` (a page, in that order) as plain rows holding what a list row shows: the ticket's state and
    deadlines, its site (name, key site, road), device code, assignee's name and, on the supervisors' list, its
    breaches — read with two statements and no ORM object (issue 14 part 4: loading whole tickets, devices and sites
    was half of the ticket list's time). The rows keep the ORM's shape (t.site.name, t.device.code, t.assignee,
    t.breaches), so the templates and is_overdue read them alike."""
    if not ids:
        return []
    q = (select(Ticket.id, Ticket.state, Ticket.category, Ticket.notified_at, Ticket.respond_by, Ticket.arrive_by,
                Ticket.repair_by, Ticket.day_night, Ticket.distance_km, Site.name.label("site_name"), Site.key_site,
                Site.road, Site.direction, Device.code.label("device_code"), User.username, User.display_name)
         .outerjoin(Site, Site.id == Ticket.site_id).outerjoin(Device, Device.id == Ticket.device_id)
         .outerjoin(User, User.id == Ticket.assignee_id).where(Ticket.id.in_(ids)))
    late: dict[int, list] = {i: [] for i in ids}
    if breaches:
        for tid, which, kind in session.execute(select(TicketBreach.ticket_id, TicketBreach.which, TicketBreach.kind)
                                                .where(TicketBreach.ticket_id.in_(ids)).order_by(TicketBreach.id)):
            late[tid].append(SimpleNamespace(which=which, kind=kind))
    by_id = {}
    for r in session.execute(q):
        by_id[r.id] = SimpleNamespace(
            id=r.id, state=r.state, category=r.category, notified_at=r.notified_at, respond_by=r.respond_by,
            arrive_by=r.arrive_by, repair_by=r.repair_by, day_night=r.day_night, distance_km=r.distance_km,
            site=SimpleNamespace(name=r.site_name, key_site=r.key_site, road=r.road, direction=r.direction),
            device=None if r.device_code is None else SimpleNamespace(code=r.device_code),
            assignee=None if r.username is None else SimpleNamespace(username=r.username,
                                                                     display_name=r.display_name),
            breaches=late[r.id])
    return [by_id[i] for i in ids if i in by_id]


def my_tickets_page(session: Session, user: User, *, limit: int = 20, offset: int = 0) -> tuple[list, int]:
    """My tickets, one page, in the order of my_tickets (open work, key sites first where the ticket's policy says
    so, then the nearest deadline; resolved ones last) — sorted and cut by the database; (rows, total)."""
    q = (select(Ticket).join(Site, Ticket.site_id == Site.id)
         .where(Ticket.state.in_(sorted(rules.NOT_RESOLVED | {"resolved"}))))
    if user.role == Role.CREW:
        q = q.where(_crew_scope(user))
    total = session.scalar(select(func.count()).select_from(q.with_only_columns(Ticket.id).subquery())) or 0
    first_ids = _key_sites_first_policies(session)
    key_first = case((Site.key_site.is_(True) & (Ticket.policy_id.is_(None) | Ticket.policy_id.in_(first_ids or [0])),
                      0), else_=1)
    due = _due_sql()
    ids = list(session.scalars(q.with_only_columns(Ticket.id).order_by(
        case((Ticket.state == "resolved", 1), else_=0), key_first, due.asc().nulls_last(), Ticket.id)
        .limit(limit).offset(offset)))
    return _page_rows(session, ids, breaches=False), int(total)


def ticket_list_page(session: Session, *, state: str = "", district: str = "", device_code: str = "",
                     overdue_only: bool = False, open_only: bool = False, now: datetime | None = None,
                     limit: int = 50, offset: int = 0) -> tuple[list, int]:
    """The supervisors' list, one page, in the order of list_tickets (overdue first, then open ones by deadline,
    closed ones last, newest first), filtered, sorted and cut by the database; (rows, total).

    Only open tickets have a deadline (so only they can be overdue): the open ones, few, are sorted by deadline;
    the closed ones, which pile up, follow newest first, read backwards along the primary key — a sort of every
    ticket ever opened per page view was the cost of this page."""
    now = now or utcnow()
    due = _due_sql()
    q = select(Ticket)
    if state:
        q = q.where(Ticket.state == state)
    if district:  # every ticket has a site: the join is needed only to filter by it
        q = q.join(Site, Ticket.site_id == Site.id).where(Site.district == district)
    if device_code:
        q = q.join(Device, Ticket.device_id == Device.id).where(Device.code.contains(device_code, autoescape=True))
    if overdue_only:
        q = q.where(due < now)
    opened = q.where(Ticket.state.in_(sorted(rules.OPEN_STATES)))
    closed = None if open_only else q.where(Ticket.state.not_in(sorted(rules.OPEN_STATES)))

    # Both totals from one count grouped by state (issue 14 part 4): a few rows, read from the state index.
    by_state = dict(session.execute(q.with_only_columns(Ticket.state, func.count()).group_by(Ticket.state)).all())
    n_open = sum(int(n) for st, n in by_state.items() if st in rules.OPEN_STATES)
    n_closed = 0 if closed is None else sum(int(n) for st, n in by_state.items() if st not in rules.OPEN_STATES)
    ids: list[int] = []
    if offset < n_open:
        overdue = case((due < now, 0), else_=1)
        ids = list(session.scalars(opened.with_only_columns(Ticket.id)
                                   .order_by(overdue, due.asc().nulls_last(), Ticket.id.desc())
                                   .limit(limit).offset(offset)))
    if closed is not None and len(ids) < limit and n_closed:
        skip = max(0, offset - n_open)
        ids += list(session.scalars(closed.with_only_columns(Ticket.id).order_by(Ticket.id.desc())
                                    .limit(limit - len(ids)).offset(skip)))
    rows = _page_rows(session, ids)
    return rows, n_open + n_closed


def current_due(t: Ticket) -> datetime | None:
    if t.state in rules.NOT_ARRIVED:
        return t.arrive_by or t.respond_by or t.repair_by
    if t.state in rules.NOT_RESOLVED:
        return t.repair_by
    return None


def is_overdue(t: Ticket, now: datetime) -> bool:
    due = current_due(t)
    return due is not None and due < now


def breaches_of(t: Ticket, now: datetime | None = None) -> list[dict]:
    now = now or utcnow()
    out = []
    for b in t.breaches:
        if b.kind != "breached":
            continue
        done = {"respond": t.departed_at or t.arrived_at, "arrive": t.arrived_at,
                "repair": t.swap_started_at or t.resolved_at, "swap": t.resolved_at}.get(b.which)
        end = done or t.cancelled_at or now
        out.append({"which": b.which, "due_at": b.due_at.isoformat(),
                    "late_minutes": max(0, int((end - b.due_at).total_seconds() // 60)),
                    "days_late": sla.days_late(b.due_at, end), "still_running": done is None})
    return out


def ticket_row(t: Ticket, now: datetime | None = None) -> dict:
    """The ticket as the API and `fleetops tickets --json` give it (stored sentences rendered for the reader)."""
    iso = lambda v: v.isoformat() if v else None  # noqa: E731
    return {
        "id": t.id, "device": t.device.code if t.device else None, "site": t.site.code if t.site else None,
        "site_name": t.site.name if t.site else None, "key_site": bool(t.site and t.site.key_site),
        "category": t.category, "tier": t.tier, "source": t.source, "state": t.state,
        "resolution": t.resolution or None, "summary": render_stored(t.summary),
        "assignee": t.assignee.username if t.assignee else None,
        "policy": t.policy.key if t.policy else None,
        "opened_at": iso(t.opened_at), "detected_at": iso(t.detected_at), "notified_at": iso(t.notified_at),
        "respond_by": iso(t.respond_by), "arrive_by": iso(t.arrive_by), "repair_by": iso(t.repair_by),
        "arrived_at": iso(t.arrived_at), "resolved_at": iso(t.resolved_at), "verified_at": iso(t.verified_at),
        "closed_at": iso(t.closed_at), "day_night": t.day_night or None,
        "distance_km": round(t.distance_km, 1) if t.distance_km is not None else None,
        "requires_replacement": t.requires_replacement, "replacement_reason": render_stored(t.replacement_reason) or None,
        "needs_height": t.needs_height, "checklist": list(t.checklist or []),
        "outage_id": t.outage_id, "incident_id": t.incident_id,
        "breaches": breaches_of(t, now),
    }


def history(session: Session, ticket_id) -> list[TicketEvent]:
    return list(get_ticket(session, ticket_id).events)


def history_rows(t: Ticket) -> list[dict]:
    """The ticket's history as the API gives it (notes rendered in the reader's language)."""
    return [{"at": e.at.isoformat(), "actor": e.actor_name, "action": e.action, "from_state": e.from_state,
             "to_state": e.to_state, "note": render_stored(e.note), "data": e.data} for e in t.events]


# ---------------------------------------------------------------- look-ups for the entry points

def audit_rows(session: Session, ticket_id: int) -> list[AuditLog]:
    return list(session.scalars(select(AuditLog).where(AuditLog.entity_type == "ticket",
                                                       AuditLog.entity_id == str(ticket_id)).order_by(AuditLog.id)))


def crew_members(session: Session, *, active_only: bool = False) -> list[User]:
    q = select(User).where(User.role == "crew")
    if active_only:
        q = q.where(User.active.is_(True))
    return list(session.scalars(q.order_by(User.username)))


def districts(session: Session) -> list[str]:
    return sorted({d for d in session.scalars(select(Site.district).distinct()) if d})


def find_target(session: Session, device_code: str | None, site_code: str | None) -> tuple[int | None, int | None]:
    """(device_id, site_id) of the device code, else the site code; (None, None) when neither is known."""
    device = session.scalar(select(Device).where(Device.code == device_code)) if device_code else None
    if device is not None:
        return device.id, None
    site = session.scalar(select(Site).where(Site.code == site_code)) if site_code else None
    return None, (site.id if site else None)


def user_id_by_name(session: Session, username: str) -> int | None:
    return session.scalar(select(User.id).where(User.username == username))


def photo_of(session: Session, ticket_id: int, photo_id: int) -> TicketPhoto | None:
    p = session.get(TicketPhoto, photo_id)
    return p if p is not None and p.ticket_id == ticket_id else None


def detail_page(session: Session, t: Ticket, user: User, now: datetime | None = None) -> dict:
    """What the ticket page shows beside the ticket: stock to take parts from, parts used, the audit trail
    (not for crew), crew to dispatch to, what still stops verification, and the breaches."""
    from fleetops.services import spares
    from fleetops.services.tickets.crew import crew_fit
    from fleetops.services.tickets.verification import verification_problems

    now = now or utcnow()
    return {
        "locations": spares.locations(session), "part_types": spares.part_types(session),
        "used": spares.ledger(session, ticket_id=t.id),
        "audit_rows": audit_rows(session, t.id) if user.role != Role.CREW else [],
        "crews": crew_members(session, active_only=True),
        "crew_fit": crew_fit(session, t) if user.role != Role.CREW else {},  # T8: who holds what
        "problems": verification_problems(session, t, now) if t.state == "resolved" else [],
        "next_action": next_action(t), "breaches": breaches_of(t, now), "now": now,
    }
