"""S2, T4: a device replaced as an asset record. Replacing a device on a ticket (after two repairs of the same fault,
T4, or a swap) issues the new unit from stock by its serial (movements.issue_to_ticket), retires the old serial and
records the link in the device's serial chain (SerialChange), so the device's history shows every unit it has been.

Acceptance of new equipment: the delivery record (expected serials with box and batch numbers, imported from CSV)
is checked against what was scanned on arrival — matches, mismatched box/batch, unexpected and missing serials."""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleetops.domain.errors import ConflictError, NotFound, ValidationFailed
from fleetops.domain.text import Msg
from fleetops.models import Device
from fleetops.models.base import utcnow
from fleetops.models.records import DeliveryItem, SerialChange
from fleetops.platform import audit
from fleetops.platform.idempotency import actor_name, claim_request
from fleetops.services import tickets
from fleetops.services.spares.catalogue import part_type
from fleetops.services.spares.movements import issue_to_ticket


def replace_device(session: Session, ticket_id, *, part_type_id, location_id, new_serial: str, actor,
                   request_id: str | None = None) -> SerialChange:
    """T4/S2: the ticket's device gets the unit `new_serial` from stock at `location_id`; the old serial is retired
    (one SerialChange row: old → new, with the reason), the device's serial updated, history and audit written."""
    claim_request(session, request_id, "device_replaced", ticket_id)
    t = tickets.get_ticket(session, ticket_id)
    device = t.device
    if device is None:
        raise ValidationFailed(Msg("This ticket is for a whole site; replace a device from its own ticket."))
    new_serial = (new_serial or "").strip()
    if not new_serial:
        raise ValidationFailed(Msg("Enter the new unit's serial number."), errors={"serial": str(REQUIRED)})
    pt = part_type(session, part_type_id)
    if not pt.serialised:
        raise ValidationFailed(Msg("%(part)s has no serial numbers; a replacement device needs one.", part=pt.code),
                               errors={"part_type_id": str(Msg("Choose a part type kept by serial number."))})
    if pt.device_kind and pt.device_kind != device.kind:
        raise ValidationFailed(Msg("%(part)s does not replace a device of this kind.", part=pt.code),
                               errors={"part_type_id": str(Msg("Choose a part type for this device kind."))})
    if new_serial == (device.serial or ""):
        raise ConflictError(Msg("The device already carries serial %(serial)s.", serial=new_serial))
    issue_to_ticket(session, t.id, pt.id, location_id, serial=new_serial, actor=actor,
                    note=f"replaces {device.serial or '-'}")
    reason = "replacement" if t.requires_replacement else "swap"
    old = device.serial or ""
    change = SerialChange(device_id=device.id, old_serial=old, new_serial=new_serial, reason=reason, ticket_id=t.id,
                          part_type_id=pt.id, actor_name=actor_name(actor), at=utcnow())
    session.add(change)
    device.serial = new_serial
    session.flush()
    tickets.log_event(session, t, "device_replaced", actor, from_state=t.state,
                      note=Msg("Device replaced: serial %(old)s retired, %(new)s installed", old=old or "-",
                               new=new_serial),
                      data={"old_serial": old, "new_serial": new_serial, "reason": reason, "part_type": pt.code})
    audit.record(session, actor, "device_replaced", "device", device.id,
                 summary=f"{device.code}: {old or '-'} → {new_serial} ({reason}, ticket #{t.id})",
                 before={"serial": old}, after={"serial": new_serial, "reason": reason, "ticket_id": t.id})
    return change


REQUIRED = Msg("Required.")


def serial_chain(session: Session, device_id: int) -> list[SerialChange]:
    """The device's serial changes, oldest first (its history's chain of units)."""
    return list(session.scalars(select(SerialChange).where(SerialChange.device_id == device_id)
                                .order_by(SerialChange.at, SerialChange.id)))


def device_chain_panel(session: Session, device: Device) -> dict:
    return {"serial_chain": serial_chain(session, device.id)}


# ------------------------------------------------------------------------------------ delivery records
HEADERS = {
    "delivery_no": ("delivery_no", "delivery no", "送货单号", "到货单号"), "serial": ("serial", "序列号", "设备序列号"),
    "box_no": ("box_no", "box", "box no", "箱号"), "batch_no": ("batch_no", "batch", "batch no", "批次号", "批号"),
    "model": ("model", "型号"),
}
FIELD_LABELS = {"delivery_no": Msg("Delivery number"), "serial": Msg("Serial number"), "box_no": Msg("Box number"),
                "batch_no": Msg("Batch number"), "model": Msg("Model")}


def import_delivery(session: Session, data: bytes, filename: str, actor) -> int:
    """S2: a delivery note as CSV/XLSX (delivery no., serial, box no., batch no., model), all or nothing: a bad row
    → 422 naming the row and field; a serial already recorded for that delivery is refused."""
    from fleetops.services.inventory.spreadsheet import cell_text, read_table

    table = read_table(data, filename)
    cols = {}
    for i, h in enumerate(table.headers):
        name = str(h or "").strip().lower()
        for f, aliases in HEADERS.items():
            if name in aliases and f not in cols:
                cols[f] = i
    missing = [f for f in ("delivery_no", "serial") if f not in cols]
    if missing:
        raise ValidationFailed(Msg("The file has no column for: %(fields)s", fields=", ".join(missing)))
    errors, items, seen = [], [], set()
    for line, cells in table.rows:
        raw = {f: (cell_text(cells[i]) if i < len(cells) else "").strip() for f, i in cols.items()}
        if not any(raw.values()):
            continue
        for f in ("delivery_no", "serial"):
            if not raw.get(f):
                errors.append(str(Msg("Row %(row)s, %(field)s: %(reason)s", row=line, field=FIELD_LABELS[f],
                                      reason=REQUIRED)))
        for f, v in raw.items():
            if len(v) > 100:
                errors.append(str(Msg("Row %(row)s, %(field)s: %(reason)s", row=line, field=FIELD_LABELS[f],
                                      reason=Msg("Longer than %(limit)s characters.", limit=100))))
        key = (raw.get("delivery_no"), raw.get("serial"))
        if all(key) and (key in seen or session.scalar(select(DeliveryItem.id).where(
                DeliveryItem.delivery_no == key[0], DeliveryItem.serial == key[1]))):
            errors.append(str(Msg("Row %(row)s, %(field)s: %(reason)s", row=line, field=FIELD_LABELS["serial"],
                                  reason=Msg("Serial %(serial)s is listed twice.", serial=key[1]))))
        seen.add(key)
        items.append(raw)
    if errors:
        raise ValidationFailed(Msg("Delivery record rejected, nothing saved: %(first)s", first=errors[0]),
                               errors=errors)
    if not items:
        raise ValidationFailed(Msg("The file has no rows."))
    for raw in items:
        session.add(DeliveryItem(delivery_no=raw["delivery_no"], serial=raw["serial"], box_no=raw.get("box_no", ""),
                                 batch_no=raw.get("batch_no", ""), model=raw.get("model", "")))
    session.flush()
    audit.record(session, actor, "delivery_imported", "delivery", items[0]["delivery_no"],
                 summary=f"{filename}: {len(items)} units")
    return len(items)


@dataclass
class Acceptance:
    matched: list[str] = field(default_factory=list)
    mismatched: list[dict] = field(default_factory=list)  # {serial, field, expected, got}
    unexpected: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.mismatched or self.unexpected or self.missing)


def parse_scanned(text: str) -> list[dict]:
    """Scanned lines "serial[,box[,batch]]" (comma, tab or semicolon) → dicts; blank lines skipped."""
    out = []
    for n, line in enumerate((text or "").splitlines(), 1):
        parts = [p.strip() for p in line.replace("\t", ",").replace(";", ",").split(",")]
        if not parts or not parts[0]:
            continue
        if len(parts) > 3 or any(len(p) > 100 for p in parts):
            raise ValidationFailed(Msg("Line %(n)s: write serial, box number, batch number.", n=n),
                                   errors={"scanned": str(Msg("Line %(n)s: write serial, box number, batch number.",
                                                              n=n))})
        parts += [""] * (3 - len(parts))
        out.append({"serial": parts[0], "box_no": parts[1], "batch_no": parts[2]})
    return out


def accept_delivery(session: Session, delivery_no: str, scanned: list[dict], actor) -> Acceptance:
    """S2: compare what arrived with the delivery record: matched units are marked accepted; box/batch mismatches,
    serials not on the record and serials on the record but not scanned are listed (and audited)."""
    items = {i.serial: i for i in session.scalars(select(DeliveryItem).where(DeliveryItem.delivery_no == delivery_no))}
    if not items:
        raise NotFound(Msg("No delivery record %(no)s.", no=delivery_no))
    result, now, got = Acceptance(), utcnow(), set()
    for s in scanned:
        serial = s["serial"]
        got.add(serial)
        item = items.get(serial)
        if item is None:
            result.unexpected.append(serial)
            continue
        bad = [{"serial": serial, "field": f, "expected": getattr(item, f), "got": s.get(f, "")}
               for f in ("box_no", "batch_no") if s.get(f, "") != getattr(item, f)]
        if bad:
            result.mismatched += bad
        else:
            result.matched.append(serial)
            item.accepted_at = item.accepted_at or now
    result.missing = sorted(set(items) - got)
    audit.record(session, actor, "delivery_checked", "delivery", delivery_no,
                 summary=f"{delivery_no}: {len(result.matched)} matched, {len(result.mismatched)} mismatched, "
                         f"{len(result.unexpected)} unexpected, {len(result.missing)} missing",
                 after={"matched": result.matched, "mismatched": result.mismatched, "unexpected": result.unexpected,
                        "missing": result.missing})
    return result


def delivery_items(session: Session, delivery_no: str | None = None) -> list[DeliveryItem]:
    q = select(DeliveryItem).order_by(DeliveryItem.delivery_no, DeliveryItem.id)
    if delivery_no:
        q = q.where(DeliveryItem.delivery_no == delivery_no)
    return list(session.scalars(q))
