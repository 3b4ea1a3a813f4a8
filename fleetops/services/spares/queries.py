"""Reading stock: the overview per part type and location (S1), locations, part types, the ledger, serials,
the below-minimum list and the daily below-minimum job."""
from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleetops.models.tickets import PartType, SerialPart, StockLevel, StockLocation, StockMovement
from fleetops.platform import events

log = logging.getLogger(__name__)


def stock_overview(session: Session) -> list[dict]:
    """Per part type: on hand per location, total, minimum, and whether it is below (S1)."""
    locs = locations(session)
    levels = {(lv.part_type_id, lv.location_id): lv.on_hand for lv in session.scalars(select(StockLevel))}
    rows = []
    for pt in session.scalars(select(PartType).order_by(PartType.code)):
        per = {loc.id: levels.get((pt.id, loc.id), 0) for loc in locs}
        total = sum(per.values())
        rows.append({"part_type": pt, "per_location": per, "total": total, "minimum": pt.minimum_stock,
                     "below_minimum": total < pt.minimum_stock})
    return rows


def stock_rows(session: Session) -> list[dict]:
    """The overview as plain rows (API and `fleetops stock`): codes instead of objects."""
    codes = {loc.id: loc.code for loc in locations(session)}
    return [{"part_type": r["part_type"].code, "name": r["part_type"].name, "serialised": r["part_type"].serialised,
             "total": r["total"], "minimum": r["minimum"], "below_minimum": r["below_minimum"],
             "per_location": {codes[k]: v for k, v in r["per_location"].items()}} for r in stock_overview(session)]


def locations(session: Session) -> list[StockLocation]:
    return list(session.scalars(select(StockLocation).order_by(StockLocation.kind.desc(), StockLocation.code)))


def part_types(session: Session) -> list[PartType]:
    return list(session.scalars(select(PartType).order_by(PartType.code)))


def ledger(session: Session, *, part_type_id: int | None = None, ticket_id: int | None = None,
           limit: int = 200) -> list[StockMovement]:
    q = select(StockMovement).order_by(StockMovement.id.desc()).limit(limit)
    if part_type_id:
        q = q.where(StockMovement.part_type_id == part_type_id)
    if ticket_id:
        q = q.where(StockMovement.ticket_id == ticket_id)
    return list(session.scalars(q))


def serial_in_stock(session: Session, part_type_id: int, location_id: int) -> list[str]:
    return list(session.scalars(select(SerialPart.serial).where(
        SerialPart.part_type_id == part_type_id, SerialPart.location_id == location_id,
        SerialPart.status == "in_stock").order_by(SerialPart.serial)))


def below_minimum(session: Session) -> list[dict]:
    return [r for r in stock_overview(session) if r["below_minimum"]]


def job_stock_minimum(ctx) -> None:
    """S1: announce part types below their minimum once a day (alerts deduplicates)."""
    with ctx.session(write=True) as s:
        rows = below_minimum(s)
        for r in rows:
            events.emit(s, "stock_below_minimum", part_type_id=r["part_type"].id, location_id=None,
                        on_hand=r["total"], minimum=r["minimum"])
    log.info("job=stock_minimum below=%d", len(rows))
