"""Overdue inspections alert the supervisor once (P3): open orders past the end of their period, grouped by plan,
district and period, announced once through `inspection_overdue` (the alerts area raises the alert)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from fleetops.models.base import utcnow
from fleetops.models.inspections import InspectionOrder
from fleetops.platform import events


def check_overdue(session: Session, now: datetime | None = None) -> int:
    """Announce each group of newly overdue orders once; returns the number of groups announced."""
    now = now or utcnow()
    groups: dict[tuple, list[InspectionOrder]] = {}
    for o in session.scalars(select(InspectionOrder).where(
            InspectionOrder.state == "open", InspectionOrder.due_at <= now,
            InspectionOrder.overdue_alerted_at.is_(None)).options(selectinload(InspectionOrder.plan))
            .order_by(InspectionOrder.id)):
        groups.setdefault((o.plan_id, o.district, o.period_start), []).append(o)
    for (plan_id, district, period_start), orders in groups.items():
        for o in orders:
            o.overdue_alerted_at = now
        events.emit(session, "inspection_overdue", plan_id=plan_id, plan_name=orders[0].plan.name, district=district,
                    period_start=period_start, due_at=orders[0].due_at, count=len(orders),
                    order_ids=[o.id for o in orders])
    session.flush()
    return len(groups)
