"""T6: a ticket opened by a quality finding verifies only on a good snapshot taken after the repair.

`verify_with_snapshot` is registered by fleetops.wiring (TICKET_VERIFIERS) for every category a finding opens.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fleetops.domain import quality as rules
from fleetops.domain.text import Msg
from fleetops.models.quality import QualityFinding, SnapshotSample
from fleetops.models.tickets import Ticket

# Every ticket category a finding can open (the verifier is wired for each).
TICKET_CATEGORIES = tuple(sorted({rules.ticket_category(k, p) for k in rules.FINDING_KINDS
                                  for p in (rules.DAY, rules.NIGHT)}))


def verify_with_snapshot(session: Session, ticket, now: datetime) -> str | None:
    """What still stops a quality ticket from verifying (in the reader's language), or None.

    At night for night faults. Returned as text (the tickets area joins the problems of all its verifiers). No camera
    is contacted here: the sampling job takes the cameras of resolved quality tickets first (`awaiting_snapshot`), so
    the next verification after it finds the fresh snapshot."""
    if getattr(ticket, "source", "") != "quality" or ticket.device_id is None:
        return None
    since = ticket.resolved_at or ticket.opened_at
    found = session.execute(select(QualityFinding.kind, QualityFinding.period)
                            .where(QualityFinding.ticket_id == ticket.id)).all()
    kinds = {k for k, _ in found}
    periods = {p for k, p in found if k in rules.PERIOD_BOUND_KINDS and p}
    q = select(SnapshotSample).where(SnapshotSample.device_id == ticket.device_id, SnapshotSample.ok.is_(True),
                                     SnapshotSample.taken_at >= since)
    if len(periods) == 1:
        q = q.where(SnapshotSample.period == next(iter(periods)))
    latest = session.scalar(q.order_by(SnapshotSample.taken_at.desc(), SnapshotSample.id.desc()).limit(1))
    if latest is None:  # the sampling job takes this camera first (awaiting_snapshot), outside any transaction
        if periods == {rules.NIGHT}:
            return str(Msg("Needs a good snapshot taken at night after the repair."))
        return str(Msg("Needs a good snapshot taken after the repair."))
    still = [k for k in latest.problems or [] if not kinds or k in kinds]
    if still:
        return str(Msg("The snapshot after the repair still shows: %(kinds)s.", kinds=", ".join(still)))
    return None


def awaiting_snapshot(session: Session) -> set[int]:
    """Cameras of resolved quality tickets with no good snapshot since the repair: the sampling job takes them first.

    The verifier itself never fetches: it runs inside the ticket jobs' and pages' transactions, and a camera that is
    slow to answer would hold the database's write lock meanwhile (SQLite: every other writer waits)."""
    since = func.coalesce(Ticket.resolved_at, Ticket.opened_at)
    good_since = select(SnapshotSample.id).where(SnapshotSample.device_id == Ticket.device_id,
                                                 SnapshotSample.ok.is_(True), SnapshotSample.taken_at >= since)
    return set(session.scalars(select(Ticket.device_id).where(
        Ticket.source == "quality", Ticket.state == "resolved", Ticket.device_id.is_not(None), ~good_since.exists())))
