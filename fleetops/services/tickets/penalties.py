"""T9: the penalty estimate: days late summed over breached deadlines, priced per the contract's rates."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleetops.domain import sla
from fleetops.models.base import utcnow
from fleetops.models.tickets import Ticket, TicketBreach
from fleetops.platform import parameters
from fleetops.services.tickets.queries import breaches_of


def penalty_estimate(session: Session, *, since: datetime | None = None, until: datetime | None = None,
                     not_to_spec_cases: int = 0, now: datetime | None = None) -> dict:
    """Days late summed over the breached deadlines of tickets opened in the period, priced per the contract."""
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
