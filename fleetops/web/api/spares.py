"""JSON API for spare parts: stock per part type and location, the ledger, and stock movements (idempotent by request_id)."""
from flask import g, jsonify, request

from fleetops.domain.errors import ValidationFailed
from fleetops.services import spares, tickets
from fleetops.web import db_session
from fleetops.web.api import api_roles, bp, openapi


@bp.route("/spares/stock")
@api_roles("crew", "supervisor")
def stock():
    rows = spares.stock_overview(db_session())
    locs = {loc.id: loc.code for loc in spares.locations(db_session())}
    return jsonify({"items": [{"part_type": r["part_type"].code, "name": r["part_type"].name,
                               "serialised": r["part_type"].serialised, "total": r["total"], "minimum": r["minimum"],
                               "below_minimum": r["below_minimum"],
                               "per_location": {locs[k]: v for k, v in r["per_location"].items()}} for r in rows]})


openapi.path("/spares/stock", "get", "S1: stock per part type and location, with below-minimum flags", tags=["spares"])


@bp.route("/spares/ledger")
@api_roles("crew", "supervisor")
def ledger():
    a = request.args
    pt = a.get("part_type_id", "")
    tk = a.get("ticket_id", "")
    rows = spares.ledger(db_session(), part_type_id=int(pt) if pt.isdigit() else None,
                         ticket_id=int(tk) if tk.isdigit() else None, limit=500)
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
        raise ValidationFailed("请求体应为 JSON 对象 / The request body must be a JSON object.")
    kind = b.get("kind")
    s = db_session()
    user = g.api_user
    common = dict(actor=user, note=str(b.get("note", "")), request_id=b.get("request_id"))
    pt, loc = str(b.get("part_type_id", "")), str(b.get("location_id", ""))
    try:
        if kind == "issued":
            t = tickets.get_ticket(s, b.get("ticket_id"))
            if not tickets.may_act(user, t):
                return jsonify({"error": "not your ticket"}), 403
            mv = spares.issue_to_ticket(s, t.id, pt, loc, b.get("quantity", 1), serial=str(b.get("serial", "")), **common)
        elif user.role == "crew":
            return jsonify({"error": "只有监管人员可以登记此类出入库 / Only supervisors record this movement."}), 403
        elif kind == "transferred":
            mv = spares.transfer(s, pt, loc, str(b.get("to_location_id", "")), b.get("quantity", 1),
                                 serial=str(b.get("serial", "")), **common)
        elif kind == "received":
            mv = spares.receive(s, pt, loc, b.get("quantity"), serials=list(b.get("serials") or []), **common)
        elif kind in ("returned", "sent_for_repair", "scrapped"):
            fn = {"returned": spares.return_to_stock, "sent_for_repair": spares.send_for_repair,
                  "scrapped": spares.scrap}[kind]
            mv = fn(s, pt, loc, b.get("quantity", 1), serial=str(b.get("serial", "")), **common)
        else:
            raise ValidationFailed(f"未知类型 {kind!r} / Unknown movement kind {kind!r}.")
    except tickets.DuplicateRequest:
        s.rollback()
        return jsonify({"duplicate": True}), 200
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
