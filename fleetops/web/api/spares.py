"""JSON API for spare parts: stock per part type and location, the ledger, and stock movements (idempotent by request_id)."""
from flask import g, jsonify, request

from fleetops.domain import inputs
from fleetops.domain.errors import ValidationFailed
from fleetops.domain.text import Msg
from fleetops.services import spares, tickets
from fleetops.web import db_session
from fleetops.web.api import api_roles, bp, openapi


@bp.route("/spares/stock")
@api_roles("crew", "supervisor")
def stock():
    return jsonify({"items": spares.stock_rows(db_session())})


openapi.path("/spares/stock", "get", "S1: stock per part type and location, with below-minimum flags", tags=["spares"])


def _id(value, field: str) -> int:
    return inputs.whole_number(value, field, 1, 2**31 - 1)


def _optional_id(b: dict, field: str) -> str:
    """An id from the body as the services take it (text), checked to be a database id when given."""
    v = b.get(field)
    return "" if v is None or v == "" else str(_id(v, field))


@bp.route("/spares/ledger")
@api_roles("crew", "supervisor")
def ledger():
    a = request.args
    pt = a.get("part_type_id", "")
    tk = a.get("ticket_id", "")
    rows = spares.ledger(db_session(), part_type_id=_id(pt, "part_type_id") if pt else None,
                         ticket_id=_id(tk, "ticket_id") if tk else None, limit=500)
    return jsonify({"items": [spares.movement_row(m) for m in rows]})


openapi.path("/spares/ledger", "get", "S2: stock movements, newest first", tags=["spares"],
             parameters=[openapi.query_param("part_type_id", "filter", "integer"),
                         openapi.query_param("ticket_id", "filter", "integer")])


@bp.route("/spares/movements", methods=["POST"])
@api_roles("crew", "supervisor")
def movement():
    """received / returned / sent_for_repair / scrapped (supervisor), issued to a ticket (crew on site)."""
    b = request.get_json(silent=True)
    if not isinstance(b, dict):
        raise ValidationFailed(Msg("The request body must be a JSON object."))
    kind = b.get("kind")
    s = db_session()
    user = g.api_user
    common = dict(actor=user, note=inputs.text(b.get("note", ""), "note", 2000),
                  request_id=inputs.optional_text(b.get("request_id"), "request_id", 100))
    pt, loc = _optional_id(b, "part_type_id"), _optional_id(b, "location_id")
    if b.get("quantity") is not None:
        inputs.whole_number(b["quantity"], "quantity", 1, 1_000_000)
    if kind == "issued":
        t = tickets.get_ticket(s, _id(b.get("ticket_id"), "ticket_id"))
        if not tickets.may_act(user, t):
            return jsonify({"error": "not your ticket"}), 403
        mv = spares.issue_to_ticket(s, t.id, pt, loc, b.get("quantity", 1), serial=str(b.get("serial", "")), **common)
    elif user.role == "crew":
        return jsonify({"error": str(Msg("Only supervisors record this movement."))}), 403
    elif kind == "transferred":
        mv = spares.transfer(s, pt, loc, _optional_id(b, "to_location_id"), b.get("quantity", 1),
                             serial=str(b.get("serial", "")), **common)
    elif kind == "received":
        mv = spares.receive(s, pt, loc, b.get("quantity"), serials=list(b.get("serials") or []), **common)
    elif kind in ("returned", "sent_for_repair", "scrapped"):
        fn = {"returned": spares.return_to_stock, "sent_for_repair": spares.send_for_repair,
              "scrapped": spares.scrap}[kind]
        mv = fn(s, pt, loc, b.get("quantity", 1), serial=str(b.get("serial", "")), **common)
    else:
        raise ValidationFailed(Msg("Unknown movement kind %(kind)s.", kind=repr(kind)))
    s.commit()
    return jsonify(spares.movement_row(mv)), 201


openapi.path("/spares/movements", "post", "Record a stock movement (409 when the stock is not there)", tags=["spares"],
             request_body={"content": {"application/json": {"schema": {"type": "object", "required": ["kind"],
                 "properties": {"kind": {"type": "string", "enum": ["received", "issued", "returned",
                                                                    "sent_for_repair", "scrapped", "transferred"]},
                                "to_location_id": {"type": "integer"},
                                "part_type_id": {"type": "integer"}, "location_id": {"type": "integer"},
                                "quantity": {"type": "integer"}, "serial": {"type": "string"},
                                "serials": {"type": "array", "items": {"type": "string"}},
                                "ticket_id": {"type": "integer"}, "note": {"type": "string"},
                                "request_id": {"type": "string"}}}}}},
             responses={"201": {"description": "Recorded"}, "409": {"description": "Not enough stock"}})
