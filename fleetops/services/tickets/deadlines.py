"""The clocks of a ticket (T2, T3, T5): computing respond/arrive/repair/swap deadlines, warning before them and
recording breaches after (A1). Emits deadline_approaching / deadline_breached(ticket_id, which, due_at)."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from fleetops.domain import sla
from fleetops.domain import tickets as rules
from fleetops.domain.errors import ValidationFailed
from fleetops.models.base import utcnow
from fleetops.models.tickets import Ticket, TicketBreach
from fleetops.platform import audit, clock, events, parameters
from fleetops.services.tickets.history_log import log_event
from fleetops.services.tickets.policies import parse_policy

log = logging.getLogger(__name__)


def site_zone(site) -> str:
    """The site's time zone name, else the one configured TIMEZONE."""
    return (site.timezone if site is not None else None) or clock.zone_name()


def set_deadlines(session: Session, t: Ticket, road_factor: float | None = None) -> None:
    """Compute the clocks from the policy, the site's sun and the distance from the crew's depot (T2, T3, T5).
    `road_factor`: the contract number, when the caller read it once for a batch."""
    if t.notified_at is None or t.policy is None:
        return
    site = t.site
    depot = (t.assignee.depot if t.assignee and t.assignee.depot else None) or site.depot
    if road_factor is None:
        road_factor = float(parameters.get(session, "ticket_road_factor"))
    distance = sla.travel_distance_km(site.latitude, site.longitude,
                                      depot.latitude if depot else None, depot.longitude if depot else None,
                                      road_factor, site.road_distance_km)
    policy = parse_policy(t.policy.rules)
    try:
        d = sla.deadlines(policy, t.notified_at, lat=site.latitude, lon=site.longitude, tz_name=site_zone(site),
                          distance_km=distance, tier=t.tier, arrived_at=t.arrived_at)
    except sla.PolicyError as err:
        raise ValidationFailed(err.msg) from None
    t.day_night, t.distance_km = d.day_night, d.distance_km
    t.respond_by, t.arrive_by, t.repair_by = d.respond_by, d.arrive_by, d.repair_by
    set_swap_deadline(t, policy)


def set_swap_deadline(t: Ticket, policy: sla.SlaPolicy | None = None) -> None:
    """T3: once the crew says the device cannot be repaired on site, a spare must be in within `swap_h`."""
    if t.swap_started_at is None:
        t.swap_by = None
        return
    policy = policy or (parse_policy(t.policy.rules) if t.policy is not None else None)
    hours = policy.swap_h if policy is not None else None
    t.swap_by = t.swap_started_at + sla._hours(hours) if hours else None


def record_if_late(session: Session, t: Ticket, which: str, due: datetime | None, done_at: datetime) -> None:
    if due is not None and done_at > due:
        _breach(session, t, which, due, "breached", now=done_at)


def _breach(session: Session, t: Ticket, which: str, due: datetime, kind: str, now: datetime) -> bool:
    """Record a deadline event once per (ticket, deadline, kind); emit it for the alerts area."""
    if any(b.which == which and b.kind == kind for b in t.breaches):
        return False
    row = TicketBreach(ticket_id=t.id, which=which, kind=kind, due_at=due, recorded_at=now)
    session.add(row)
    t.breaches.append(row)
    log_event(session, t, f"deadline_{kind}", "system", from_state=t.state, at=now,
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
        # T3: two clocks — on-site repair until the crew says it cannot be done there, then the spare swap.
        if t.swap_started_at is None:
            running.append(("repair", t.repair_by))
        else:
            running.append(("swap", t.swap_by))
        for which, due in running:
            if due is None:
                continue
            if due <= now:
                counts["breached"] += _breach(session, t, which, due, "breached", now)
            elif due - warn <= now:
                counts["approaching"] += _breach(session, t, which, due, "approaching", now)
    return counts


def job_deadlines(ctx) -> None:
    """Scheduled each minute (fleetops.wiring.JOBS)."""
    with ctx.session(write=True) as s:
        counts = check_deadlines(s)
    log.info("job=ticket_deadlines approaching=%d breached=%d", counts["approaching"], counts["breached"])
