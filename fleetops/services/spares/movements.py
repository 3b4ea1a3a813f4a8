"""Stock movements (S2): goods in, a part used on a ticket, returned, sent for repair, scrapped, transferred.
Each is idempotent by request id, moves the on-hand quantity atomically (stock.py) and writes the ledger."""
from __future__ import annotations

from sqlalchemy.orm import Session

from fleetops.domain.errors import ConflictError, ValidationFailed
from fleetops.domain.text import Msg
from fleetops.models.tickets import SerialPart, StockMovement
from fleetops.platform.idempotency import claim_request
from fleetops.services import tickets
from fleetops.services.spares.catalogue import location, part_type
from fleetops.services.spares.records import SERIAL_STATUS_AFTER, record
from fleetops.services.spares.stock import check_minimum, move_serial, put, serial_unit, take, whole_quantity


def receive(session: Session, part_type_id, location_id, quantity=None, *, serials=(), actor, note: str = "",
            request_id: str | None = None) -> StockMovement:
    """Goods in: a quantity, or for a serialised part type the list of serial numbers (one unit each)."""
    claim_request(session, request_id, "stock_received")
    pt, loc = part_type(session, part_type_id), location(session, location_id)
    serials = [s.strip() for s in serials if s and s.strip()]
    if pt.serialised:
        if not serials:
            raise ValidationFailed(Msg("%(part)s is received by serial number.", part=pt.code, part_name=pt.name))
        if len(set(serials)) != len(serials):
            raise ValidationFailed(Msg("A serial number is listed twice."))
        known = [s for s in serials if serial_unit(session, pt, s) is not None]
        if known:
            raise ConflictError(Msg("Serial number(s) already known: %(serials)s", serials=", ".join(known)))
        n = len(serials)
    else:
        if serials:
            raise ValidationFailed(Msg("%(part)s has no serial numbers.", part=pt.code, part_name=pt.name))
        n = whole_quantity(quantity)
    put(session, pt, loc, n)
    last = None
    if pt.serialised:
        for s in serials:
            unit = SerialPart(part_type_id=pt.id, serial=s, status="in_stock", location_id=loc.id)
            session.add(unit)
            session.flush()
            last = record(session, "received", pt, loc, 1, actor, unit=unit, note=note)
    else:
        last = record(session, "received", pt, loc, n, actor, note=note)
    return last


def issue_to_ticket(session: Session, ticket_id, part_type_id, location_id, quantity=1, *, serial: str = "",
                    actor, note: str = "", request_id: str | None = None) -> StockMovement:
    """S2: a part used on a ticket, by serial number where it has one. Fails cleanly when the stock is gone."""
    claim_request(session, request_id, "stock_issued", ticket_id)
    t = tickets.get_ticket(session, ticket_id)
    if t.state not in ("arrived", "repairing"):
        raise ConflictError(Msg("Parts are taken on site, during the repair."))
    pt, loc = part_type(session, part_type_id), location(session, location_id)
    unit = None
    if pt.serialised:
        unit = serial_unit(session, pt, (serial or "").strip())
        if unit is None or unit.location_id != loc.id:
            raise ValidationFailed(Msg("No %(part)s with serial %(serial)s at %(location)s.", part=pt.code,
                                       serial=repr(serial), location=loc.code, part_name=pt.name,
                                       location_name=loc.name))
        n = 1
    else:
        n = whole_quantity(quantity)
    take(session, pt, loc, n)
    if unit is not None:
        move_serial(session, unit, "in_stock", "installed", None, t.id)
    mv = record(session, "issued", pt, loc, -n, actor, unit=unit, ticket_id=t.id, note=note)
    tickets.log_event(session, t, "part_used", actor, from_state=t.state,
                      data={"part_type": pt.code, "quantity": n, "serial": unit.serial if unit else None,
                            "location": loc.code})
    check_minimum(session, pt, loc)
    return mv


def _out_of_stock(kind: str, session: Session, part_type_id, location_id, quantity, serial, actor, note,
                  request_id) -> StockMovement:
    claim_request(session, request_id, f"stock_{kind}")
    pt, loc = part_type(session, part_type_id), location(session, location_id)
    if kind in ("sent_for_repair", "scrapped") and not (note or "").strip():
        raise ValidationFailed(Msg("Say why (a note is required)."))
    unit = None
    if pt.serialised:
        unit = serial_unit(session, pt, (serial or "").strip())
        if unit is None:
            raise ValidationFailed(Msg("No %(part)s with serial %(serial)s.", part=pt.code, serial=repr(serial)))
        if unit.status == "in_stock":
            if unit.location_id != loc.id:
                raise ValidationFailed(Msg("Serial %(serial)s is not at %(location)s.", serial=serial,
                                           location=loc.code, location_name=loc.name))
            take(session, pt, loc, 1)
            move_serial(session, unit, "in_stock", SERIAL_STATUS_AFTER[kind], None, unit.ticket_id)
            qty = -1
        else:  # a failed unit taken off a device (installed) goes to repair or scrap without touching stock
            move_serial(session, unit, unit.status, SERIAL_STATUS_AFTER[kind], None, unit.ticket_id)
            qty = 0
    else:
        n = whole_quantity(quantity)
        take(session, pt, loc, n)
        qty = -n
    mv = record(session, kind, pt, loc, qty, actor, unit=unit, note=note)
    if qty:
        check_minimum(session, pt, loc)
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
    pt, loc = part_type(session, part_type_id), location(session, location_id)
    unit = None
    if pt.serialised:
        unit = serial_unit(session, pt, (serial or "").strip())
        if unit is None:
            raise ValidationFailed(Msg("No %(part)s with serial %(serial)s.", part=pt.code, serial=repr(serial)))
        if unit.status not in ("installed", "in_repair"):
            raise ConflictError(Msg("Serial %(serial)s is already in stock or scrapped.", serial=serial))
        move_serial(session, unit, unit.status, "in_stock", loc.id, None)
        n = 1
    else:
        n = whole_quantity(quantity)
    put(session, pt, loc, n)
    return record(session, "returned", pt, loc, n, actor, unit=unit, note=note)


def transfer(session: Session, part_type_id, from_location_id, to_location_id, quantity=1, *, serial: str = "",
             actor, note: str = "", request_id: str | None = None) -> StockMovement:
    """Move stock between locations (warehouse → a crew's van and back): two ledger rows, −n and +n."""
    claim_request(session, request_id, "stock_transferred")
    pt = part_type(session, part_type_id)
    src, dst = location(session, from_location_id), location(session, to_location_id)
    if src.id == dst.id:
        raise ValidationFailed(Msg("The two locations are the same."))
    unit = None
    if pt.serialised:
        unit = serial_unit(session, pt, (serial or "").strip())
        if unit is None or unit.location_id != src.id or unit.status != "in_stock":
            raise ValidationFailed(Msg("No %(part)s with serial %(serial)s in stock at %(location)s.", part=pt.code,
                                       serial=repr(serial), location=src.code, part_name=pt.name,
                                       location_name=src.name))
        n = 1
    else:
        n = whole_quantity(quantity)
    take(session, pt, src, n)
    put(session, pt, dst, n)
    if unit is not None:
        move_serial(session, unit, "in_stock", "in_stock", dst.id, None)
    record(session, "transferred", pt, src, -n, actor, unit=unit, note=f"→ {dst.code} {note}".strip())
    return record(session, "transferred", pt, dst, n, actor, unit=unit, note=f"← {src.code} {note}".strip())


UNDO_NOTE = "↩ #%d"  # the reversing row's note: which ledger row it reverses (language-neutral, shown as is)


def undone_ids(session: Session, ticket_id: int) -> set[int]:
    """The ids of a ticket's "issued" rows that a reversing row has undone."""
    from sqlalchemy import select

    notes = session.scalars(select(StockMovement.note).where(StockMovement.ticket_id == ticket_id,
                                                             StockMovement.kind == "returned"))
    out = set()
    for n in notes:
        if n and n.startswith("↩ #") and n[3:].isdigit():
            out.add(int(n[3:]))
    return out


def undo_issue(session: Session, ticket_id, movement_id, *, actor, request_id: str | None = None) -> StockMovement:
    """S2/A3: a part recorded on a ticket by mistake goes back: the ledger is never edited — a reversing row
    (+n into the same location, the serial unit back in stock) is added, with its audit row and a history line.
    Only while the crew is still on site (arrived / repairing), once per issued row."""
    claim_request(session, request_id, "stock_issue_undone", ticket_id)
    t = tickets.get_ticket(session, ticket_id)
    if t.state not in ("arrived", "repairing"):
        raise ConflictError(Msg("A part can only be taken back while the repair is under way."))
    try:
        mid = int(movement_id)
    except (TypeError, ValueError):
        raise ValidationFailed(Msg("Choose a part recorded on this ticket.")) from None
    mv = session.get(StockMovement, mid)
    if mv is None or mv.ticket_id != t.id or mv.kind != "issued":
        raise ValidationFailed(Msg("Choose a part recorded on this ticket."))
    if mv.id in undone_ids(session, t.id):
        raise ConflictError(Msg("This part has already been taken back."))
    pt, loc, n = mv.part_type, mv.location, -mv.quantity
    unit = mv.serial_part
    put(session, pt, loc, n)
    if unit is not None:
        move_serial(session, unit, "installed", "in_stock", loc.id, None)
    back = record(session, "returned", pt, loc, n, actor, unit=unit, ticket_id=t.id, note=UNDO_NOTE % mv.id)
    tickets.log_event(session, t, "part_undone", actor, from_state=t.state,
                      note=Msg("Part taken back: %(part)s × %(quantity)s to %(location)s", part=pt.name,
                               quantity=n, location=loc.name),
                      data={"part_type": pt.code, "quantity": n, "serial": unit.serial if unit else None,
                            "location": loc.code, "reverses": mv.id})
    return back
