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
from fleetops.services.tickets.lifecycle import open_planned_work

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
        for device in devices_in_scope(session, plan):
            if device.id in have:
                existing += 1
                continue
            order = InspectionOrder(plan_id=plan.id, device_id=device.id, site_id=device.site_id,
                                    district=device.site.district or "", period_start=start, due_at=end,
                                    state="open", results=[], created_at=now)
            try:
                with session.begin_nested():  # the unique key: another run may have made it a moment ago
                    session.add(order)
                    session.flush()
            except IntegrityError:
                existing += 1
                continue
            district = order.district
            if district not in crews:
                crew = pick_crew(session, device.site)
                crews[district] = crew.id if crew else None
            ticket = open_planned_work(
                session, device_id=device.id, category=CATEGORY, source=SOURCE, opened_by="system",
                summary=Msg("Inspection “%(plan)s”, period from %(start)s", plan=Msg(plan.name),
                            start=start.date().isoformat()),
                assignee_id=crews[district], now=now)
            order.ticket_id = ticket.id
            created += 1
    session.flush()
    return {"created": created, "existing": existing}
