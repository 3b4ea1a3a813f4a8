"""The crew's inspection of one device (P1–P3): every checklist item OK or not OK, measured values, photos where
the plan asks, then done. An item found not OK opens — or adds to the already open — fault ticket of the device,
with the photo as evidence and the item's name in its description.

Everything is checked before anything is written: a missing answer, value or photo is a 4xx naming the item."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleetops.domain import inspections as rules
from fleetops.domain import sla
from fleetops.domain import tickets as ticket_rules
from fleetops.domain.choices import Role
from fleetops.domain.errors import ConflictError, NotFound, ValidationFailed
from fleetops.domain.text import Msg
from fleetops.models.base import utcnow
from fleetops.models.inspections import InspectionOrder
from fleetops.models.tickets import Ticket
from fleetops.platform import audit
from fleetops.platform.idempotency import actor_name, claim_request
from fleetops.services.tickets.deadlines import site_zone
from fleetops.services.tickets.history_log import log_event
from fleetops.services.tickets.lifecycle import complete_inspection, dispatch, open_ticket, record_arrival
from fleetops.services.tickets.photos import add_photo, link_photo

FINDING_CATEGORY = "inspection"  # FaultCategory "Inspection finding"
FINDING_SOURCE = "inspection"


def get_order(session: Session, order_id) -> InspectionOrder:
    try:
        order = session.get(InspectionOrder, int(order_id))
    except (TypeError, ValueError):
        order = None
    if order is None:
        raise NotFound(Msg("No inspection order %(id)s.", id=order_id))
    return order


def _item_name(item: dict) -> Msg:
    return Msg(item["label"])  # a preset's msgid is shown in the reader's language; typed text as typed


def check_answers(items: list[dict], answers: dict, photos: dict) -> list[dict]:
    """Each item's answer checked: OK or not OK given, a number within sane bounds where a value is needed, a photo
    where the plan asks for one or the item is not OK. A value outside the allowed range makes the item not OK."""
    out = []
    for item in items:
        key = item["key"]
        given = answers.get(key) or {}
        verdict = given.get("ok")
        if verdict not in ("ok", "not_ok"):
            raise ValidationFailed(Msg("%(item)s: choose OK or not OK.", item=_item_name(item)), field=f"item_{key}")
        value = None
        if item.get("needs_value"):
            raw = given.get("value")
            raw = raw.strip().replace(",", ".") if isinstance(raw, str) else raw
            try:
                value = float(raw) if raw not in (None, "") else None
            except ValueError:
                value = None
            if value is None or value != value or abs(value) > 1e6:
                raise ValidationFailed(Msg("%(item)s: enter the measured value in %(unit)s.", item=_item_name(item),
                                           unit=item.get("unit") or ""), field=f"value_{key}")
        out_of_range = not rules.value_in_range(item, value)
        ok = verdict == "ok" and not out_of_range
        if (item.get("needs_photo") or not ok) and not photos.get(key):
            raise ValidationFailed(Msg("%(item)s: take a photo.", item=_item_name(item)), field=f"photo_{key}")
        out.append({"key": key, "label": item["label"], "ok": ok, "value": value, "unit": item.get("unit") or "",
                    "out_of_range": out_of_range, "photo_id": None, "fault_ticket_id": None})
    return out


def _open_fault(session: Session, ticket: Ticket) -> Ticket | None:
    """The device's open fault ticket, if there is one (inspection orders are not faults)."""
    return session.scalar(select(Ticket).where(
        Ticket.device_id == ticket.device_id, Ticket.state.in_(ticket_rules.OPEN_STATES),
        Ticket.category.not_in(ticket_rules.NOT_FAULT_CATEGORIES)).order_by(Ticket.id).limit(1))


def _finding(session: Session, order: InspectionOrder, row: dict, photo, *, actor, now: datetime) -> Ticket:
    """Open the fault ticket for a not-OK item, or add the finding (and its photo) to the open one."""
    detail = Msg(" (measured %(value)s %(unit)s, allowed %(range)s)", value=f"{row['value']:g}", unit=row["unit"],
                 range=rules.range_text(next(i for i in order_items(order) if i["key"] == row["key"]))) \
        if row["out_of_range"] else ""
    summary = Msg("Inspection “%(plan)s”: %(item)s not OK%(detail)s", plan=Msg(order.plan.name),
                  item=Msg(row["label"]), detail=detail)
    fault = _open_fault(session, order.ticket)
    if fault is not None:
        log_event(session, fault, "inspection_finding", actor, from_state=fault.state, note=summary, at=now,
                  data={"inspection_order_id": order.id, "item": row["key"]})
        audit.record(session, actor, "ticket_inspection_finding", "ticket", fault.id, summary=summary,
                     after={"inspection_order_id": order.id, "item": row["key"]})
    else:
        fault = open_ticket(session, device_id=order.device_id, category=FINDING_CATEGORY, source=FINDING_SOURCE,
                            opened_by=actor, detected_at=now, evidence_path=photo.path if photo else None,
                            summary=summary, now=now)
    if photo is not None:
        link_photo(session, fault.id, photo, actor=actor, note=summary)
    return fault


def order_items(order: InspectionOrder) -> list[dict]:
    """The checklist the order is done against: its plan's items."""
    return list(order.plan.items or [])


def complete_order(session: Session, order_id, answers: dict, photos: dict, *, actor, upload_dir: str,
                   note: str = "", request_id: str | None = None, now: datetime | None = None) -> InspectionOrder:
    """Record the inspection of one device and close its order; not-OK items become fault tickets."""
    claim_request(session, request_id, "inspection_complete", order_id)
    now = now or utcnow()
    order = get_order(session, order_id)
    if order.state != "open":
        raise ConflictError(Msg("This inspection is already recorded."))
    rows = check_answers(order_items(order), answers or {}, photos or {})
    note = (note or "").strip()
    if len(note) > 2000:
        raise ValidationFailed(Msg("%(field)s must be text of at most %(n)s characters.", field="note", n=2000),
                               field="note")
    ticket = order.ticket
    if ticket.state == "new":  # nobody could be assigned when it was generated: whoever does it takes it
        dispatch(session, ticket.id, assignee_id=actor.id if getattr(actor, "role", None) == Role.CREW else None,
                 actor=actor, at=now)
    if ticket.state in ticket_rules.NOT_ARRIVED:
        record_arrival(session, ticket.id, actor=actor, at=now)
    for row in rows:
        data = photos.get(row["key"])
        photo = add_photo(session, ticket.id, "after", data, upload_dir=upload_dir, actor=actor) if data else None
        row["photo_id"] = photo.id if photo else None
        if not row["ok"]:
            row["fault_ticket_id"] = _finding(session, order, row, photo, actor=actor, now=now).id
    result = "ok" if all(r["ok"] for r in rows) else "not_ok"
    site = order.site
    order.day_night = sla.day_or_night(site.latitude, site.longitude, now, site_zone(site))
    order.state, order.result, order.results = "done", result, rows
    order.done_at, order.done_by, order.note = now, actor_name(actor), note
    if note:
        ticket.work_notes = ((ticket.work_notes + "\n") if ticket.work_notes else "") + note
    complete_inspection(session, ticket.id, actor=actor, at=now,
                        note=Msg("Inspection done: all items OK") if result == "ok" else
                        Msg("Inspection done: %(n)s item(s) not OK", n=sum(not r["ok"] for r in rows)),
                        data={"result": result})
    audit.record(session, actor, "inspection_completed", "inspection_order", order.id,
                 summary=Msg("%(device)s: %(plan)s", device=order.device.code, plan=Msg(order.plan.name)),
                 after={"result": result, "results": rows, "day_night": order.day_night})
    return order
