"""T6: a resolved ticket verifies only when its device (or every in-service device of its site) has been back
online long enough and every verifier of its fault category agrees; then it may close by itself."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleetops.domain import tickets as rules
from fleetops.domain.choices import IN_SERVICE
from fleetops.domain.errors import ConflictError
from fleetops.domain.text import Msg
from fleetops.models import Device
from fleetops.models.base import utcnow
from fleetops.models.tickets import Ticket
from fleetops.platform import parameters
from fleetops.platform.idempotency import claim_request
from fleetops.services.tickets.history_log import move
from fleetops.services.tickets.queries import get_ticket

log = logging.getLogger(__name__)

# Extra checks by fault category (the quality area registers "a good snapshot since resolution").
# A verifier is func(session, ticket, now) -> None when satisfied, or a sentence (Msg or text) saying what is
# still wrong.
VERIFIERS: dict[str, list[Callable]] = {}


def register_verifier(category: str, func: Callable) -> Callable:
    VERIFIERS.setdefault(category, [])
    if func not in VERIFIERS[category]:
        VERIFIERS[category].append(func)
    return func


def verification_problems(session: Session, t: Ticket, now: datetime) -> list:
    """What still stops the ticket from verifying (Msg or text each): devices not back up long enough, category
    verifiers (T6)."""
    minutes = float(parameters.get(session, "ticket_verify_up_minutes"))
    if t.device is not None:
        devices = [t.device]
    else:
        devices = list(session.scalars(select(Device).where(
            Device.site_id == t.site_id, Device.lifecycle.in_([s.value for s in IN_SERVICE]))))
    problems = []
    for d in devices:
        if d.status != "up" or d.status_since is None:
            problems.append(Msg("%(device)s is not online.", device=d.code))
        elif d.status_since > now - timedelta(minutes=minutes):
            problems.append(Msg("%(device)s has been online less than %(minutes)s min.", device=d.code,
                                minutes=f"{minutes:g}"))
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
        raise ConflictError(Msg("Cannot verify yet: %(problems)s",
                                problems=_joined(problems)), problems=[str(p) for p in problems])
    move(session, t, "verify", actor, now)
    t.verified_at = now
    return t


def _joined(problems: list) -> Msg:
    """The problems as one sentence parameter, each rendered in the reader's language."""
    params = {f"p{i}": p for i, p in enumerate(problems)}
    return Msg(" ".join(f"%(p{i})s" for i in range(len(problems))), **params)


def auto_verify(session: Session, now: datetime | None = None) -> dict:
    """T6: verify resolved tickets whose device has been back long enough; close them when configured."""
    now = now or utcnow()
    auto_close = bool(parameters.get(session, "ticket_auto_close_on_verify"))
    verified = closed = 0
    for t in list(session.scalars(select(Ticket).where(Ticket.state == "resolved"))):
        if verification_problems(session, t, now):
            continue
        move(session, t, "verify", "system", now, note=Msg("Device back online"))
        t.verified_at = now
        verified += 1
        if auto_close:
            move(session, t, "close", "system", now)
            t.closed_at = now
            closed += 1
    return {"verified": verified, "closed": closed}


def job_verify(ctx) -> None:
    """Scheduled each minute (fleetops.wiring.JOBS)."""
    with ctx.session(write=True) as s:
        counts = auto_verify(s)
    log.info("job=ticket_verify verified=%d closed=%d", counts["verified"], counts["closed"])

