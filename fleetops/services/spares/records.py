"""The stock ledger rows (S2): one StockMovement per movement, audited; movement labels; a movement as a row."""
from __future__ import annotations

from sqlalchemy.orm import Session

from fleetops.domain.text import N_
from fleetops.models.base import utcnow
from fleetops.models.tickets import PartType, StockLocation, StockMovement
from fleetops.platform import audit
from fleetops.platform.idempotency import actor_name

MOVEMENT_KINDS = ("received", "issued", "returned", "sent_for_repair", "scrapped", "transferred")
# Labels are msgids (context "StockMovement"); pages show them with pgettext.
MOVEMENT_LABELS = {
    "received": N_("Received"),
    "issued": N_("Issued"),
    "returned": N_("Returned"),
    "sent_for_repair": N_("Sent for repair"),
    "scrapped": N_("Scrapped"),
    "transferred": N_("Transferred"),
}
MOVEMENT_CONTEXT = "StockMovement"
# Where a serialised unit is after each kind of movement.
SERIAL_STATUS_AFTER = {"received": "in_stock", "returned": "in_stock", "issued": "installed",
                       "sent_for_repair": "in_repair", "scrapped": "scrapped"}


def record(session: Session, kind: str, pt: PartType, loc: StockLocation, qty: int, actor, *, unit=None,
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


def movement_row(mv: StockMovement) -> dict:
    return {"id": mv.id, "at": mv.at.isoformat(), "kind": mv.kind, "part_type": mv.part_type.code,
            "location": mv.location.code, "quantity": mv.quantity,
            "serial": mv.serial_part.serial if mv.serial_part else None, "ticket_id": mv.ticket_id,
            "actor": mv.actor_name, "note": mv.note}
