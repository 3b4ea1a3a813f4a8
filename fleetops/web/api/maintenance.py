"""JSON API for maintenance windows: list them, plan one (a window starting in the past waits for approval)."""
from flask import g, jsonify, request

from fleetops.domain.errors import ValidationFailed
from fleetops.domain.text import Msg
from fleetops.services import maintenance
from fleetops.web import db_session
from fleetops.web.api import api_roles, bp, openapi

STATES = ("", "active", "pending", "rejected", "cancelled")


@bp.route("/maintenance-windows")
@api_roles("supervisor", "crew")
def list_maintenance_windows():
    state = request.args.get("state", "")
    if state not in STATES:
        raise ValidationFailed(Msg("state must be active, pending, rejected or cancelled."), field="state")
    s = db_session()
    return jsonify({"windows": [maintenance.window_dict(s, w) for w in maintenance.list_windows(s, state)]})


@bp.route("/maintenance-windows", methods=["POST"])
@api_roles("supervisor")
def post_maintenance_window():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationFailed(Msg("The body must be a JSON object."), field="body")
    s = db_session()
    w = maintenance.create_window(
        s, sites=body.get("sites"), devices=body.get("devices"), districts=body.get("districts"),
        cabinets=body.get("cabinets"), starts_at=body.get("from"), ends_at=body.get("to"), cause=body.get("cause"),
        reference=body.get("reference"), title=body.get("title"), recurrence=body.get("recurrence") or "none",
        count=body.get("count"), until=body.get("until"), actor=g.api_user)
    s.commit()
    return jsonify(maintenance.window_dict(s, w)), 201


_CODES = {"type": "array", "items": {"type": "string"}}
_SCOPE_ITEM = {"type": "object", "properties": {"kind": {"enum": ["device", "site", "district", "cabinet"]},
                                                "code": {"type": "string"}, "name": {"type": "string"}}}
_WINDOW = {"type": "object", "required": ["id", "cause", "starts_at", "ends_at", "state", "scope"], "properties": {
    "id": {"type": "integer"}, "title": {"type": "string"}, "reference": {"type": "string"},
    "cause": {"enum": ["power_utility", "network_provider", "contractor", "owner"]},
    "starts_at": {"type": "string", "format": "date-time"}, "ends_at": {"type": "string", "format": "date-time"},
    "last_end_at": {"type": "string", "format": "date-time"},
    "recurrence": {"enum": ["none", "daily", "weekly"]}, "count": {"type": ["integer", "null"]},
    "until": {"type": ["string", "null"], "format": "date"},
    "state": {"enum": ["active", "pending", "rejected", "cancelled"]}, "after_the_fact": {"type": "boolean"},
    "attachment": {"type": "boolean"}, "created_by": {"type": "string"},
    "scope": {"type": "array", "items": _SCOPE_ITEM}}}
openapi.schema("MaintenanceWindow", _WINDOW)
_ERROR = {"description": "Bad input (the message names the field); nothing written",
          "content": {"application/json": {"schema": {"type": "object", "required": ["error"],
                                                      "properties": {"error": {"type": "string"}}}}}}
openapi.path("/maintenance-windows", "get", "Maintenance windows, newest first", tags=["maintenance"],
             parameters=[openapi.query_param("state", "active, pending, rejected or cancelled")],
             responses={"200": {"description": "The windows", "content": {"application/json": {"schema": {
                 "type": "object", "properties": {"windows": {
                     "type": "array", "items": {"$ref": "#/components/schemas/MaintenanceWindow"}}}}}}},
                 "422": _ERROR})
openapi.path("/maintenance-windows", "post",
             "Plan a maintenance window: no outage alarms or tickets for its scope while it lasts; a window "
             "starting in the past waits for a supervisor's approval", tags=["maintenance"],
             request_body={"required": True, "content": {"application/json": {"schema": {
                 "type": "object", "required": ["from", "to", "cause"], "properties": {
                     "sites": _CODES, "devices": _CODES, "districts": _CODES, "cabinets": _CODES,
                     "from": {"type": "string", "format": "date-time",
                              "description": "Start, ISO 8601 (local time when no offset)"},
                     "to": {"type": "string", "format": "date-time"},
                     "cause": {"enum": ["power_utility", "network_provider", "contractor", "owner"]},
                     "reference": {"type": "string", "maxLength": 100}, "title": {"type": "string", "maxLength": 200},
                     "recurrence": {"enum": ["none", "daily", "weekly"]},
                     "count": {"type": "integer", "minimum": 1, "maximum": 366},
                     "until": {"type": "string", "format": "date"}}}}}},
             responses={"201": {"description": "The window", "content": {"application/json": {
                 "schema": {"$ref": "#/components/schemas/MaintenanceWindow"}}}},
                 "422": _ERROR, "403": {"description": "Not a supervisor"}})
