"""The spare-parts catalogue: part types (with their minimum stock, S1) and stock locations (warehouses, vans)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleetops.domain.errors import ConflictError, NotFound, ValidationFailed
from fleetops.domain.text import Msg
from fleetops.models.tickets import PartType, StockLevel, StockLocation
from fleetops.platform import audit


def create_part_type(session: Session, code: str, name: str, *, device_kind: str = "", serialised: bool = False,
                     minimum_stock: int = 3, actor=None) -> PartType:
    code, name = (code or "").strip(), (name or "").strip()
    if not code or not name:
        raise ValidationFailed(Msg("A part type needs a code and a name."))
    if int(minimum_stock) < 0:
        raise ValidationFailed(Msg("The minimum stock cannot be negative."))
    if session.scalar(select(PartType.id).where(PartType.code == code)) is not None:
        raise ConflictError(Msg("Part type %(code)s already exists.", code=code))
    pt = PartType(code=code, name=name, device_kind=device_kind, serialised=bool(serialised),
                  minimum_stock=int(minimum_stock))
    session.add(pt)
    session.flush()
    # A zero row per location up front: later receipts are plain UPDATEs, so two at once cannot race on the insert.
    for loc_id in session.scalars(select(StockLocation.id)):
        session.add(StockLevel(part_type_id=pt.id, location_id=loc_id, on_hand=0))
    audit.record(session, actor, "part_type_created", "part_type", pt.id, summary=f"{code} {name}",
                 after={"code": code, "name": name, "minimum_stock": pt.minimum_stock, "serialised": pt.serialised})
    return pt


def set_minimum(session: Session, part_type_id: int, minimum: int, *, actor) -> PartType:
    pt = part_type(session, part_type_id)
    if int(minimum) < 0:
        raise ValidationFailed(Msg("The minimum stock cannot be negative."))
    before = pt.minimum_stock
    pt.minimum_stock = int(minimum)
    audit.record(session, actor, "part_minimum_changed", "part_type", pt.id, summary=f"{pt.code}: {before} → {minimum}",
                 before={"minimum_stock": before}, after={"minimum_stock": pt.minimum_stock})
    return pt


def create_location(session: Session, code: str, name: str, *, kind: str = "warehouse", user_id: int | None = None,
                    actor=None) -> StockLocation:
    code, name = (code or "").strip(), (name or "").strip()
    if not code or not name:
        raise ValidationFailed(Msg("A stock location needs a code and a name."))
    if kind not in ("warehouse", "van"):
        raise ValidationFailed(Msg("A location is a warehouse or a van."))
    if session.scalar(select(StockLocation.id).where(StockLocation.code == code)) is not None:
        raise ConflictError(Msg("Location %(code)s already exists.", code=code))
    loc = StockLocation(code=code, name=name, kind=kind, user_id=user_id)
    session.add(loc)
    session.flush()
    for pt_id in session.scalars(select(PartType.id)):
        session.add(StockLevel(part_type_id=pt_id, location_id=loc.id, on_hand=0))
    session.flush()
    audit.record(session, actor, "stock_location_created", "stock_location", loc.id, summary=f"{code} {name}",
                 after={"code": code, "name": name, "kind": kind})
    return loc


def part_type(session: Session, part_type_id) -> PartType:
    pt = session.get(PartType, int(part_type_id)) if str(part_type_id).isdigit() else None
    if pt is None:
        raise NotFound(Msg("No part type %(id)s.", id=part_type_id))
    return pt


def location(session: Session, location_id) -> StockLocation:
    loc = session.get(StockLocation, int(location_id)) if str(location_id).isdigit() else None
    if loc is None:
        raise NotFound(Msg("No stock location %(id)s.", id=location_id))
    return loc
