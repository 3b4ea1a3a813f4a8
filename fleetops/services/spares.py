"""Spare parts: part types, stock locations, serialised units, the ledger and on-hand quantities that never go negative (S1, S2).

Stock leaves a location only through a conditional UPDATE (… WHERE on_hand >= n) whose row count is
checked, so two crews taking the last unit at the same moment cannot both get it — on PostgreSQL and
SQLite alike; a CHECK (on_hand >= 0) backs it up. Emits stock_below_minimum(part_type_id, location_id,
on_hand, minimum) where on_hand is the part type's total over all locations (S1 counts sets in stock).
"""
from __future__ import annotations

import logging

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from fleetops.domain.errors import ConflictError, InsufficientStock, NotFound, ValidationFailed
from fleetops.models.base import utcnow
from fleetops.models.tickets import PartType, SerialPart, StockLevel, StockLocation, StockMovement
from fleetops.platform import audit, events
from fleetops.services.tickets import _log as ticket_log, actor_name, claim_request, get_ticket

log = logging.getLogger(__name__)

MOVEMENT_KINDS = ("received", "issued", "returned", "sent_for_repair", "scrapped", "transferred")
MOVEMENT_LABELS = {
    "received": ("入库", "Received"),
    "issued": ("领用", "Issued"),
    "returned": ("退回", "Returned"),
    "sent_for_repair": ("送修", "Sent for repair"),
    "scrapped": ("报废", "Scrapped"),
    "transferred": ("调拨", "Transferred"),
}
# Where a serialised unit is after each kind of movement.
SERIAL_STATUS_AFTER = {"received": "in_stock", "returned": "in_stock", "issued": "installed",
                       "sent_for_repair": "in_repair", "scrapped": "scrapped"}


# ---------------------------------------------------------------- catalogue

def create_part_type(session: Session, code: str, name: str, *, device_kind: str = "", serialised: bool = False,
                     minimum_stock: int = 3, actor=None) -> PartType:
    code, name = (code or "").strip(), (name or "").strip()
    if not code or not name:
        raise ValidationFailed("备件类型需要编号和名称 / A part type needs a code and a name.")
    if int(minimum_stock) < 0:
        raise ValidationFailed("最低库存不能为负 / The minimum stock cannot be negative.")
    if session.scalar(select(PartType.id).where(PartType.code == code)) is not None:
        raise ConflictError(f"备件类型 {code} 已存在 / Part type {code} already exists.")
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
    pt = _part_type(session, part_type_id)
    if int(minimum) < 0:
        raise ValidationFailed("最低库存不能为负 / The minimum stock cannot be negative.")
    before = pt.minimum_stock
    pt.minimum_stock = int(minimum)
    audit.record(session, actor, "part_minimum_changed", "part_type", pt.id, summary=f"{pt.code}: {before} → {minimum}",
                 before={"minimum_stock": before}, after={"minimum_stock": pt.minimum_stock})
    return pt


def create_location(session: Session, code: str, name: str, *, kind: str = "warehouse", user_id: int | None = None,
                    actor=None) -> StockLocation:
    code, name = (code or "").strip(), (name or "").strip()
    if not code or not name:
        raise ValidationFailed("库位需要编号和名称 / A stock location needs a code and a name.")
    if kind not in ("warehouse", "van"):
        raise ValidationFailed("库位类型应为 warehouse 或 van / A location is a warehouse or a van.")
    if session.scalar(select(StockLocation.id).where(StockLocation.code == code)) is not None:
        raise ConflictError(f"库位 {code} 已存在 / Location {code} already exists.")
    loc = StockLocation(code=code, name=name, kind=kind, user_id=user_id)
    session.add(loc)
    session.flush()
    for pt_id in session.scalars(select(PartType.id)):
        session.add(StockLevel(part_type_id=pt_id, location_id=loc.id, on_hand=0))
    session.flush()
    audit.record(session, actor, "stock_location_created", "stock_location", loc.id, summary=f"{code} {name}",
                 after={"code": code, "name": name, "kind": kind})
    return loc


def _part_type(session: Session, part_type_id) -> PartType:
    pt = session.get(PartType, int(part_type_id)) if str(part_type_id).isdigit() else None
    if pt is None:
        raise NotFound(f"没有备件类型 {part_type_id} / No part type {part_type_id}.")
    return pt


def _location(session: Session, location_id) -> StockLocation:
    loc = session.get(StockLocation, int(location_id)) if str(location_id).isdigit() else None
    if loc is None:
        raise NotFound(f"没有库位 {location_id} / No stock location {location_id}.")
    return loc


# ---------------------------------------------------------------- quantities

def on_hand(session: Session, part_type_id: int, location_id: int | None = None) -> int:
    q = select(func.coalesce(func.sum(StockLevel.on_hand), 0)).where(StockLevel.part_type_id == part_type_id)
    if location_id is not None:
        q = q.where(StockLevel.location_id == location_id)
    return int(session.scalar(q))


def _take(session: Session, pt: PartType, loc: StockLocation, n: int) -> None:
    """Remove n units atomically: the database refuses when fewer than n are on hand (no read-then-write)."""
    result = session.execute(
        update(StockLevel)
        .where(StockLevel.part_type_id == pt.id, StockLevel.location_id == loc.id, StockLevel.on_hand >= n)
        .values(on_hand=StockLevel.on_hand - n)
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        left = on_hand(session, pt.id, loc.id)
        raise InsufficientStock(f"库存不足：{loc.name} 的 {pt.name} 只剩 {left} 件，需要 {n} 件 / "
                                f"Not enough stock: {left} × {pt.code} at {loc.code}, {n} needed.",
                                on_hand=left, needed=n)


def _put(session: Session, pt: PartType, loc: StockLocation, n: int) -> None:
    result = session.execute(
        update(StockLevel).where(StockLevel.part_type_id == pt.id, StockLevel.location_id == loc.id)
        .values(on_hand=StockLevel.on_hand + n).execution_options(synchronize_session=False))
    if result.rowcount == 1:
        return
    session.add(StockLevel(part_type_id=pt.id, location_id=loc.id, on_hand=n))
    session.flush()


def _check_minimum(session: Session, pt: PartType, loc: StockLocation) -> None:
    total = on_hand(session, pt.id)
    if total < pt.minimum_stock:
        events.emit(session, "stock_below_minimum", part_type_id=pt.id, location_id=loc.id, on_hand=total,
                    minimum=pt.minimum_stock)


def _serial_unit(session: Session, pt: PartType, serial: str) -> SerialPart | None:
    return session.scalar(select(SerialPart).where(SerialPart.part_type_id == pt.id, SerialPart.serial == serial))


def _move_serial(session: Session, unit: SerialPart, expect: str, status: str, location_id, ticket_id) -> None:
    """Conditional on the unit's current status, so one serial cannot be issued twice at once."""
    result = session.execute(
        update(SerialPart).where(SerialPart.id == unit.id, SerialPart.status == expect)
        .values(status=status, location_id=location_id, ticket_id=ticket_id)
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        raise InsufficientStock(f"序列号 {unit.serial} 当前不可用 / Serial {unit.serial} is not {expect}.")
    session.expire(unit)


def _record(session: Session, kind: str, pt: PartType, loc: StockLocation, qty: int, actor, *, unit=None,
            ticket_id=None, note: str = "") -> StockMovement:
    mv = StockMovement(at=utcnow(), kind=kind, part_type_id=pt.id, location_id=loc.id, quantity=qty,
                       serial_part_id=unit.id if unit else None, ticket_id=ticket_id,
                       actor_name=actor_name(actor), note=note or "")
    session.add(mv)
    session.flush()
    audit.record(session, actor, f"stock_{kind}", "stock_movement", mv.id,
                 summary=f"{pt.code} {qty:+d} @ {loc.code}" + (f" SN {unit.serial}" if unit else "")
                 + (f" ticket #{ticket_id}" if ticket_id else ""),
                 after={"part_type": pt.code, "location": loc.code, "quantity": qty,
                        "serial": unit.serial if unit else None, "ticket_id": ticket_id, "note": note})
    return mv


def _quantity(quantity) -> int:
    try:
        n = int(quantity)
    except (TypeError, ValueError):
        raise ValidationFailed(f"数量必须是整数 / The quantity must be a whole number (got {quantity!r}).") from None
    if n <= 0:
        raise ValidationFailed("数量必须大于 0 / The quantity must be more than 0.")
    return n


# ---------------------------------------------------------------- movements (S2)

def receive(session: Session, part_type_id, location_id, quantity=None, *, serials=(), actor, note: str = "",
            request_id: str | None = None) -> StockMovement:
    """Goods in: a quantity, or for a serialised part type the list of serial numbers (one unit each)."""
    claim_request(session, request_id, "stock_received")
    pt, loc = _part_type(session, part_type_id), _location(session, location_id)
    serials = [s.strip() for s in serials if s and s.strip()]
    if pt.serialised:
        if not serials:
            raise ValidationFailed(f"{pt.name} 需要逐件登记序列号 / {pt.code} is received by serial number.")
        if len(set(serials)) != len(serials):
            raise ValidationFailed("序列号重复 / A serial number is listed twice.")
        known = [s for s in serials if _serial_unit(session, pt, s) is not None]
        if known:
            raise ConflictError(f"序列号已登记 / Serial number(s) already known: {', '.join(known)}")
        n = len(serials)
    else:
        if serials:
            raise ValidationFailed(f"{pt.name} 不按序列号管理 / {pt.code} has no serial numbers.")
        n = _quantity(quantity)
    _put(session, pt, loc, n)
    last = None
    if pt.serialised:
        for s in serials:
            unit = SerialPart(part_type_id=pt.id, serial=s, status="in_stock", location_id=loc.id)
            session.add(unit)
            session.flush()
            last = _record(session, "received", pt, loc, 1, actor, unit=unit, note=note)
    else:
        last = _record(session, "received", pt, loc, n, actor, note=note)
    return last


def issue_to_ticket(session: Session, ticket_id, part_type_id, location_id, quantity=1, *, serial: str = "",
                    actor, note: str = "", request_id: str | None = None) -> StockMovement:
    """S2: a part used on a ticket, by serial number where it has one. Fails cleanly when the stock is gone."""
    claim_request(session, request_id, "stock_issued", ticket_id)
    t = get_ticket(session, ticket_id)
    if t.state not in ("arrived", "repairing"):
        raise ConflictError("只能在现场维修时领用备件 / Parts are taken on site, during the repair.")
    pt, loc = _part_type(session, part_type_id), _location(session, location_id)
    unit = None
    if pt.serialised:
        unit = _serial_unit(session, pt, (serial or "").strip())
        if unit is None or unit.location_id != loc.id:
            raise ValidationFailed(f"{loc.name} 没有序列号为 {serial!r} 的 {pt.name} / "
                                   f"No {pt.code} with serial {serial!r} at {loc.code}.")
        n = 1
    else:
        n = _quantity(quantity)
    _take(session, pt, loc, n)
    if unit is not None:
        _move_serial(session, unit, "in_stock", "installed", None, t.id)
    mv = _record(session, "issued", pt, loc, -n, actor, unit=unit, ticket_id=t.id, note=note)
    ticket_log(session, t, "part_used", actor, from_state=t.state,
         data={"part_type": pt.code, "quantity": n, "serial": unit.serial if unit else None, "location": loc.code})
    _check_minimum(session, pt, loc)
    return mv


def _out_of_stock(kind: str, session: Session, part_type_id, location_id, quantity, serial, actor, note,
                  request_id) -> StockMovement:
    claim_request(session, request_id, f"stock_{kind}")
    pt, loc = _part_type(session, part_type_id), _location(session, location_id)
    if kind in ("sent_for_repair", "scrapped") and not (note or "").strip():
        raise ValidationFailed("请说明原因 / Say why (a note is required).")
    unit = None
    if pt.serialised:
        unit = _serial_unit(session, pt, (serial or "").strip())
        if unit is None:
            raise ValidationFailed(f"没有序列号 {serial!r} / No {pt.code} with serial {serial!r}.")
        if unit.status == "in_stock":
            if unit.location_id != loc.id:
                raise ValidationFailed(f"序列号 {serial} 不在 {loc.name} / Serial {serial} is not at {loc.code}.")
            _take(session, pt, loc, 1)
            _move_serial(session, unit, "in_stock", SERIAL_STATUS_AFTER[kind], None, unit.ticket_id)
            qty = -1
        else:  # a failed unit taken off a device (installed) goes to repair or scrap without touching stock
            _move_serial(session, unit, unit.status, SERIAL_STATUS_AFTER[kind], None, unit.ticket_id)
            qty = 0
    else:
        n = _quantity(quantity)
        _take(session, pt, loc, n)
        qty = -n
    mv = _record(session, kind, pt, loc, qty, actor, unit=unit, note=note)
    if qty:
        _check_minimum(session, pt, loc)
    return mv


def send_for_repair(session: Session, part_type_id, location_id, quantity=1, *, serial: str = "", actor,
                    note: str = "", request_id: str | None = None) -> StockMovement:
    return _out_of_stock("sent_for_repair", session, part_type_id, location_id, quantity, serial, actor, note,
                         request_id)


def scrap(session: Session, part_type_id, location_id, quantity=1, *, serial: str = "", actor, note: str = "",
          request_id: str | None = None) -> StockMovement:
    return _out_of_stock("scrapped", session, part_type_id, location_id, quantity, serial, actor, note, request_id)


def return_to_stock(session: Session, part_type_id, location_id, quantity=1, *, serial: str = "", actor,
                    note: str = "", request_id: str | None = None) -> StockMovement:
    """An unused or repaired part comes back into a location."""
    claim_request(session, request_id, "stock_returned")
    pt, loc = _part_type(session, part_type_id), _location(session, location_id)
    unit = None
    if pt.serialised:
        unit = _serial_unit(session, pt, (serial or "").strip())
        if unit is None:
            raise ValidationFailed(f"没有序列号 {serial!r} / No {pt.code} with serial {serial!r}.")
        if unit.status not in ("installed", "in_repair"):
            raise ConflictError(f"序列号 {serial} 已在库或已报废 / Serial {serial} is already in stock or scrapped.")
        _move_serial(session, unit, unit.status, "in_stock", loc.id, None)
        n = 1
    else:
        n = _quantity(quantity)
    _put(session, pt, loc, n)
    return _record(session, "returned", pt, loc, n, actor, unit=unit, note=note)


def transfer(session: Session, part_type_id, from_location_id, to_location_id, quantity=1, *, serial: str = "",
             actor, note: str = "", request_id: str | None = None) -> StockMovement:
    """Move stock between locations (warehouse → a crew's van and back): two ledger rows, −n and +n."""
    claim_request(session, request_id, "stock_transferred")
    pt = _part_type(session, part_type_id)
    src, dst = _location(session, from_location_id), _location(session, to_location_id)
    if src.id == dst.id:
        raise ValidationFailed("调出和调入库位相同 / The two locations are the same.")
    unit = None
    if pt.serialised:
        unit = _serial_unit(session, pt, (serial or "").strip())
        if unit is None or unit.location_id != src.id or unit.status != "in_stock":
            raise ValidationFailed(f"{src.name} 没有序列号为 {serial!r} 的 {pt.name} / "
                                   f"No {pt.code} with serial {serial!r} in stock at {src.code}.")
        n = 1
    else:
        n = _quantity(quantity)
    _take(session, pt, src, n)
    _put(session, pt, dst, n)
    if unit is not None:
        _move_serial(session, unit, "in_stock", "in_stock", dst.id, None)
    _record(session, "transferred", pt, src, -n, actor, unit=unit, note=f"→ {dst.code} {note}".strip())
    return _record(session, "transferred", pt, dst, n, actor, unit=unit, note=f"← {src.code} {note}".strip())


# ---------------------------------------------------------------- reading

def stock_overview(session: Session) -> list[dict]:
    """Per part type: on hand per location, total, minimum, and whether it is below (S1)."""
    locations = list(session.scalars(select(StockLocation).order_by(StockLocation.kind.desc(), StockLocation.code)))
    levels = {(lv.part_type_id, lv.location_id): lv.on_hand for lv in session.scalars(select(StockLevel))}
    rows = []
    for pt in session.scalars(select(PartType).order_by(PartType.code)):
        per = {loc.id: levels.get((pt.id, loc.id), 0) for loc in locations}
        total = sum(per.values())
        rows.append({"part_type": pt, "per_location": per, "total": total, "minimum": pt.minimum_stock,
                     "below_minimum": total < pt.minimum_stock})
    return rows


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


def movement_row(mv: StockMovement) -> dict:
    return {"id": mv.id, "at": mv.at.isoformat(), "kind": mv.kind, "part_type": mv.part_type.code,
            "location": mv.location.code, "quantity": mv.quantity,
            "serial": mv.serial_part.serial if mv.serial_part else None, "ticket_id": mv.ticket_id,
            "actor": mv.actor_name, "note": mv.note}


def serial_in_stock(session: Session, part_type_id: int, location_id: int) -> list[str]:
    return list(session.scalars(select(SerialPart.serial).where(
        SerialPart.part_type_id == part_type_id, SerialPart.location_id == location_id,
        SerialPart.status == "in_stock").order_by(SerialPart.serial)))


def below_minimum(session: Session) -> list[dict]:
    return [r for r in stock_overview(session) if r["below_minimum"]]


def job_stock_minimum(app) -> None:
    """S1: announce part types below their minimum once a day (alerts deduplicates)."""
    from fleetops.db import session_scope

    with session_scope(app.extensions["fleetops.sessionmaker"]) as s:
        rows = below_minimum(s)
        for r in rows:
            events.emit(s, "stock_below_minimum", part_type_id=r["part_type"].id, location_id=None,
                        on_hand=r["total"], minimum=r["minimum"])
    log.info("job=stock_minimum below=%d", len(rows))
