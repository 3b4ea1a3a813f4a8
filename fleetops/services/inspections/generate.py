"""Work generated on time (P3): every active plan's current period becomes one inspection order — and its ticket —
per device in scope; the orders of a district go to one crew member (the day's route).

Exactly once: the unique key (plan, device, period start) is claimed in a savepoint before the ticket is made, so a
repeated run, or one running at the same moment in another process, adds nothing. Periods are local calendar
periods (platform.clock's TIMEZONE)."""
from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from fleetops.domain import inspections as rules
from fleetops.domain.choices import IN_SERVICE
from fleetops.domain.text import Msg
from fleetops.models import Device, Site
from fleetops.models.base import utcnow
from fleetops.models.inspections import InspectionOrder, InspectionPlan
from fleetops.platform import clock
from fleetops.services.tickets.crew import pick_crew
from fleetops.services.tickets.lifecycle import cancel, open_planned_work

log = logging.getLogger(__name__)

CATEGORY = "routine_inspection"
SOURCE = "inspection_plan"
_IN_SERVICE = [s.value for s in IN_SERVICE]


def devices_in_scope(session: Session, plan: InspectionPlan) -> list[Device]:
    """In-service devices of the plan's kinds (at its one site, or at key sites only, when it says so)."""
    q = (select(Device).join(Site, Site.id == Device.site_id)
         .where(Device.kind.in_(list(plan.device_kinds or [])), Device.lifecycle.in_(_IN_SERVICE))
         .options(selectinload(Device.site)))
    if plan.site_id is not None:
        q = q.where(Device.site_id == plan.site_id)
    if plan.key_sites_only:
        q = q.where(Site.key_site.is_(True))
    return list(session.scalars(q.order_by(Site.district, Site.code, Device.code)))


def _claim(session: Session, orders: list[InspectionOrder]) -> list[InspectionOrder]:
    """Insert the orders (the unique key claims them); when another run made some a moment ago, claim the rest one by
    one. Returns the orders this run made."""
    try:
        with session.begin_nested():
            session.add_all(orders)
            session.flush()
        return orders
    except IntegrityError:
        pass
    made = []
    for o in orders:
        fresh = InspectionOrder(plan_id=o.plan_id, device_id=o.device_id, site_id=o.site_id, district=o.district,
                                period_start=o.period_start, due_at=o.due_at, state="open", results=[],
                                created_at=o.created_at)
        try:
            with session.begin_nested():
                session.add(fresh)
                session.flush()
        except IntegrityError:
            continue
        made.append(fresh)
    return made


def generate_due(session: Session, now: datetime | None = None) -> dict:
    """Make the orders of the period containing `now` for every active plan (idempotent). Returns counts."""
    now = now or utcnow()
    zone = clock.local_zone()
    created = existing = 0
    crews: dict[str, int | None] = {}
    for plan in session.scalars(select(InspectionPlan).where(InspectionPlan.active.is_(True))
                                .order_by(InspectionPlan.id)):
        start, end = rules.period_bounds(plan.period, now, zone)
        have = set(session.scalars(select(InspectionOrder.device_id).where(
            InspectionOrder.plan_id == plan.id, InspectionOrder.period_start == start)))
        devices = {d.id: d for d in devices_in_scope(session, plan) if d.id not in have}
        existing += len(have)
        if not devices:
            continue
        made = _claim(session, [
            InspectionOrder(plan_id=plan.id, device_id=d.id, site_id=d.site_id, district=d.site.district or "",
                            period_start=start, due_at=end, state="open", results=[], created_at=now)
            for d in devices.values()])
        existing += len(devices) - len(made)
        summary = Msg("Inspection “%(plan)s”, period from %(start)s", plan=Msg(plan.name),
                      start=start.date().isoformat())
        for o in made:  # a district's orders go to one crew member: the day's route
            if o.district not in crews:
                crew = pick_crew(session, devices[o.device_id].site)
                crews[o.district] = crew.id if crew else None
        tickets = open_planned_work(
            session, [{"device": devices[o.device_id], "summary": summary, "assignee_id": crews[o.district]}
                      for o in made], category=CATEGORY, source=SOURCE, opened_by="system", now=now)
        for o, t in zip(made, tickets):
            o.ticket_id = t.id
        created += len(made)
    cancelled = cancel_out_of_service(session, now)
    session.flush()
    return {"created": created, "existing": existing, "cancelled": cancelled}


def cancel_out_of_service(session: Session, now: datetime) -> int:
    """Open orders of devices no longer in service (retired, replaced) are cancelled with their tickets: nobody
    inspects a device that is gone, and it is no overdue inspection either."""
    rows = list(session.scalars(select(InspectionOrder).join(Device, Device.id == InspectionOrder.device_id).where(
        InspectionOrder.state == "open", Device.lifecycle.not_in(_IN_SERVICE))))
    for o in rows:
        o.state = "cancelled"
        if o.ticket_id is not None:
            cancel(session, o.ticket_id, actor="system", reason=Msg("The device is no longer in service."), at=now)
    return len(rows)
