"""Reading inspections: the crew's route (sites nearest-first from the depot), one order's page, the supervisors'
overview, a device's last inspection of each plan, and the month's completion figures."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from fleetops.domain import inspections as rules
from fleetops.domain.choices import Role
from fleetops.domain.errors import PermissionDenied
from fleetops.domain.text import Msg
from fleetops.models import Depot, Device, Site, User
from fleetops.models.base import utcnow
from fleetops.models.inspections import InspectionOrder, InspectionPlan
from fleetops.models.tickets import Ticket


def _eager(q):
    return q.options(selectinload(InspectionOrder.plan), selectinload(InspectionOrder.device),
                     selectinload(InspectionOrder.site), selectinload(InspectionOrder.ticket))


def _crew_scope(user: User):
    """A crew member's orders: assigned to them, or unassigned in their district ("" = all)."""
    unassigned = Ticket.assignee_id.is_(None)
    if user.district:
        unassigned = unassigned & (InspectionOrder.district == user.district)
    return or_(Ticket.assignee_id == user.id, unassigned)


def depot_of(session: Session, user: User, district: str = "") -> Depot | None:
    """Where the crew's route starts: their own depot, else their district's."""
    if user.depot is not None:
        return user.depot
    district = user.district or district
    if district:
        return session.scalar(select(Depot).where(Depot.district == district).order_by(Depot.id).limit(1))
    return None


def my_route(session: Session, user: User, now: datetime | None = None) -> dict:
    """The crew's route for today: every open order whose period has begun (overdue ones too), grouped by site;
    sites in visiting order — nearest first from the depot, then nearest from each site (straight line)."""
    now = now or utcnow()
    q = (select(InspectionOrder).join(Ticket, Ticket.id == InspectionOrder.ticket_id)
         .where(InspectionOrder.state == "open", InspectionOrder.period_start <= now))
    if user.role == Role.CREW:
        q = q.where(_crew_scope(user))
    orders = list(session.scalars(_eager(q)))
    by_site: dict[int, list[InspectionOrder]] = {}
    for o in orders:
        by_site.setdefault(o.site_id, []).append(o)
    sites = {o.site_id: o.site for o in orders}
    depot = depot_of(session, user, next(iter(sites.values())).district if sites else "")
    start = (depot.latitude, depot.longitude) if depot is not None else None
    order = rules.route_order(start, {sid: (s.latitude, s.longitude) for sid, s in sites.items()})
    stops = []
    here = start
    for sid in order:
        site = sites[sid]
        km = rules._km(here, (site.latitude, site.longitude)) if here is not None else None
        here = (site.latitude, site.longitude)
        rows = sorted(by_site[sid], key=lambda o: (o.device.code, o.plan_id))
        stops.append({"site": site, "km": km, "orders": rows, "overdue": any(o.due_at <= now for o in rows)})
    return {"depot": depot, "stops": stops, "count": len(orders)}


def order_for(session: Session, user: User, order_id) -> InspectionOrder:
    """One order, if this user may do it (crew: their own or unassigned in their district)."""
    from fleetops.services.inspections.complete import get_order

    order = get_order(session, order_id)
    if user.role == Role.CREW:
        t = order.ticket
        mine = t is not None and (t.assignee_id == user.id or (
            t.assignee_id is None and (not user.district or order.district == user.district)))
        if not mine:
            raise PermissionDenied(Msg("This inspection is assigned to someone else."))
    return order


def order_of_ticket(session: Session, user: User, ticket_id: int) -> InspectionOrder | None:
    """The inspection order whose work is this ticket (None for any other ticket)."""
    order_id = session.scalar(select(InspectionOrder.id).where(InspectionOrder.ticket_id == ticket_id))
    return order_for(session, user, order_id) if order_id is not None else None


def overview(session: Session, now: datetime | None = None) -> list[dict]:
    """Per plan: orders of its current period, done, not OK, open, and overdue orders (any period) still open."""
    from fleetops.platform import clock

    now = now or utcnow()
    out = []
    for plan in session.scalars(select(InspectionPlan).options(selectinload(InspectionPlan.site))
                                .order_by(InspectionPlan.id)):
        start, end = rules.period_bounds(plan.period, now, clock.local_zone())
        counts = dict(session.execute(select(InspectionOrder.state, func.count()).where(
            InspectionOrder.plan_id == plan.id, InspectionOrder.period_start == start)
            .group_by(InspectionOrder.state)).all())
        not_ok = session.scalar(select(func.count()).select_from(InspectionOrder).where(
            InspectionOrder.plan_id == plan.id, InspectionOrder.period_start == start,
            InspectionOrder.result == "not_ok")) or 0
        overdue = session.scalar(select(func.count()).select_from(InspectionOrder).where(
            InspectionOrder.plan_id == plan.id, InspectionOrder.state == "open", InspectionOrder.due_at <= now)) or 0
        total = sum(counts.values())
        out.append({"plan": plan, "period_start": start, "period_end": end, "total": total,
                    "done": counts.get("done", 0), "open": counts.get("open", 0), "not_ok": not_ok,
                    "overdue": overdue})
    return out


def overdue_orders(session: Session, now: datetime | None = None, limit: int = 200) -> list[InspectionOrder]:
    now = now or utcnow()
    return list(session.scalars(_eager(select(InspectionOrder).where(
        InspectionOrder.state == "open", InspectionOrder.due_at <= now)
        .order_by(InspectionOrder.due_at, InspectionOrder.id).limit(limit))))


def last_of_device(session: Session, device: Device) -> list[dict]:
    """The device page (P3 proof): the last inspection done of each plan, with its date and result, and each plan
    whose order for the device is still open."""
    rows = []
    for plan in session.scalars(select(InspectionPlan).order_by(InspectionPlan.id)):
        last = session.scalar(select(InspectionOrder).where(
            InspectionOrder.plan_id == plan.id, InspectionOrder.device_id == device.id,
            InspectionOrder.state == "done").order_by(InspectionOrder.done_at.desc()).limit(1))
        pending = session.scalar(select(InspectionOrder).where(
            InspectionOrder.plan_id == plan.id, InspectionOrder.device_id == device.id,
            InspectionOrder.state == "open").order_by(InspectionOrder.due_at).limit(1))
        if last is None and pending is None:
            continue
        rows.append({"plan": plan, "last": last, "pending": pending})
    return rows


def device_panel(session: Session, device: Device) -> dict:
    """The context of the device page's inspections panel (web/inventory.DEVICE_PANELS)."""
    return {"inspections": last_of_device(session, device)}


def month_orders(session: Session, start: datetime, end: datetime) -> list[InspectionOrder]:
    """Orders of the periods that begin in [start, end) (each order counts in one month), cancelled ones left out."""
    return list(session.scalars(select(InspectionOrder).where(
        InspectionOrder.period_start >= start, InspectionOrder.period_start < end,
        InspectionOrder.state != "cancelled").options(selectinload(InspectionOrder.plan))))
