"""On-hand quantities that never go negative (S1): stock leaves a location only through a conditional UPDATE
(… WHERE on_hand >= n) whose row count is checked, so two crews taking the last unit at the same moment cannot
both get it — on PostgreSQL and SQLite alike; a CHECK (on_hand >= 0) backs it up. Serialised units move the
same way, conditional on their status. Emits stock_below_minimum(part_type_id, location_id, on_hand, minimum)
where on_hand is the part type's total over all locations (S1 counts sets in stock)."""
from __future__ import annotations

import logging

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from fleetops.domain.errors import InsufficientStock, ValidationFailed
from fleetops.domain.text import Msg
from fleetops.models.tickets import PartType, SerialPart, StockLevel, StockLocation
from fleetops.platform import events

log = logging.getLogger(__name__)


def on_hand(session: Session, part_type_id: int, location_id: int | None = None) -> int:
    q = select(func.coalesce(func.sum(StockLevel.on_hand), 0)).where(StockLevel.part_type_id == part_type_id)
    if location_id is not None:
        q = q.where(StockLevel.location_id == location_id)
    return int(session.scalar(q))


def take(session: Session, pt: PartType, loc: StockLocation, n: int) -> None:
    """Remove n units atomically: the database refuses when fewer than n are on hand (no read-then-write)."""
    result = session.execute(
        update(StockLevel)
        .where(StockLevel.part_type_id == pt.id, StockLevel.location_id == loc.id, StockLevel.on_hand >= n)
        .values(on_hand=StockLevel.on_hand - n)
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        left = on_hand(session, pt.id, loc.id)
        raise InsufficientStock(Msg("Not enough stock: %(left)s × %(part)s at %(location)s, %(needed)s needed.",
                                    left=left, part=pt.code, location=loc.code, needed=n,
                                    part_name=pt.name, location_name=loc.name),
                                on_hand=left, needed=n)


def put(session: Session, pt: PartType, loc: StockLocation, n: int) -> None:
    result = session.execute(
        update(StockLevel).where(StockLevel.part_type_id == pt.id, StockLevel.location_id == loc.id)
        .values(on_hand=StockLevel.on_hand + n).execution_options(synchronize_session=False))
    if result.rowcount == 1:
        return
    session.add(StockLevel(part_type_id=pt.id, location_id=loc.id, on_hand=n))
    session.flush()


def check_minimum(session: Session, pt: PartType, loc: StockLocation) -> None:
    total = on_hand(session, pt.id)
    if total < pt.minimum_stock:
        events.emit(session, "stock_below_minimum", part_type_id=pt.id, location_id=loc.id, on_hand=total,
                    minimum=pt.minimum_stock)


def serial_unit(session: Session, pt: PartType, serial: str) -> SerialPart | None:
    return session.scalar(select(SerialPart).where(SerialPart.part_type_id == pt.id, SerialPart.serial == serial))


def move_serial(session: Session, unit: SerialPart, expect: str, status: str, location_id, ticket_id) -> None:
    """Conditional on the unit's current status, so one serial cannot be issued twice at once."""
    result = session.execute(
        update(SerialPart).where(SerialPart.id == unit.id, SerialPart.status == expect)
        .values(status=status, location_id=location_id, ticket_id=ticket_id)
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        raise InsufficientStock(Msg("Serial %(serial)s is not %(status)s.", serial=unit.serial, status=expect))
    session.expire(unit)


def whole_quantity(value) -> int:
    """A positive whole quantity from a form or a JSON body."""
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise ValidationFailed(Msg("The quantity must be a whole number (got %(value)s).", value=repr(value))) from None
    if n <= 0:
        raise ValidationFailed(Msg("The quantity must be more than 0."))
    return n
