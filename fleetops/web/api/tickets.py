"""JSON API for tickets: list, one with its history, open, the crew's steps, verify/close/cancel, the penalty estimate."""
from datetime import timezone

from flask import g, jsonify, request

from fleetops.domain import inputs
from fleetops.domain.errors import ValidationFailed
from fleetops.domain.text import Msg
from fleetops.services import tickets
from fleetops.web import db_session, duplicate_answer
from fleetops.web.api import api_roles, bp, openapi

READERS = ("crew", "supervisor")

openapi.schema("Ticket", {"type": "object", "properties": {
    "id": {"type": "integer"}, "device": {"type": ["string", "null"]}, "site": {"type": ["string", "null"]},
    "state": {"type": "string"}, "category": {"type": "string"}, "opened_at": {"type": "string", "format": "date-time"},
    "notified_at": {"type": ["string", "null"]}, "arrive_by": {"type": ["string", "null"]},
    "repair_by": {"type": ["string", "null"]}, "day_night": {"type": ["string", "null"]},
    "distance_km": {"type": ["number", "null"]}, "breaches": {"type": "array", "items": {"type": "object"}}}})
STEP_BODY = {"content": {"application/json": {"schema": {"type": "object", "properties": {
    "request_id": {"type": "string", "description": "client-generated; a repeat is applied once"},
    "lat": {"type": "number"}, "lon": {"type": "number"}, "items": {"type": "array", "items": {"type": "string"}},
    "resolution": {"type": "string", "enum": ["repaired", "part_swapped", "device_replaced"]},
    "notes": {"type": "string"}, "reason": {"type": "string"}, "assignee_id": {"type": ["integer", "null"]}}}}}}
TICKET_REF = {"200": {"description": "The ticket", "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/Ticket"}}}}}


def _body() -> dict:
    body = request.get_json(silent=True)
    if body is None and not request.data:
        return {}
    if not isinstance(body, dict):
        raise ValidationFailed(Msg("The request body must be a JSON object."))
    return body


def _visible(t):
    if not tickets.may_act(g.api_user, t):
        from flask import abort

        abort(403)
    return t


@bp.route("/tickets")
@api_roles(*READERS)
def tickets_list():
    s = db_session()
    a = request.args
    if g.api_user.role == "crew":
        rows = tickets.my_tickets(s, g.api_user)
    else:
        rows = tickets.list_tickets(s, state=a.get("state", ""), district=a.get("district", ""),
                                    device_code=a.get("device", ""), overdue_only=a.get("overdue") == "1",
                                    open_only=a.get("open") == "1")
    return jsonify({"items": [tickets.ticket_row(t) for t in rows]})


openapi.path("/tickets", "get", "Tickets: a crew member's own list, or all with filters (overdue first)",
             tags=["tickets"], parameters=[openapi.query_param(n, d) for n, d in (
                 ("state", "ticket state"), ("district", "site district"), ("device", "device code contains"),
                 ("overdue", "1: overdue only"), ("open", "1: open only"))])


@bp.route("/tickets/<int:ticket_id>")
@api_roles(*READERS)
def ticket_one(ticket_id):
    t = _visible(tickets.get_ticket(db_session(), ticket_id))
    row = tickets.ticket_row(t)
    row["history"] = tickets.history_rows(t)
    return jsonify(row)


TICKET_ID = openapi.path_param("id", "Ticket id", "integer")
openapi.path("/tickets/{id}", "get", "One ticket with its history", tags=["tickets"], responses=TICKET_REF,
             parameters=[TICKET_ID])


@bp.route("/tickets", methods=["POST"])
@api_roles("supervisor")
@duplicate_answer(lambda **_: {"duplicate": True, "error": "already applied"})
def ticket_open():
    s = db_session()
    b = _body()
    device = inputs.optional_text(b.get("device"), "device", 64)
    site = inputs.optional_text(b.get("site"), "site", 64)
    category = inputs.text(b.get("category", ""), "category", 64)
    source = inputs.text(b.get("source", "api"), "source", 32)
    summary = inputs.text(b.get("summary", ""), "summary", 2000)
    tier = inputs.text(b.get("tier", "ordinary"), "tier", 32)
    policy = inputs.optional_text(b.get("policy"), "policy", 64)
    request_id = inputs.optional_text(b.get("request_id"), "request_id", 100)
    detected = b.get("detected_at")
    detected = inputs.parse_time(detected, "detected_at") if detected else None
    device_id, site_id = tickets.find_target(s, device, site)
    if device_id is None and site_id is None:
        raise ValidationFailed(Msg("Give a known device or site code."))
    t = tickets.open_ticket(s, device_id=device_id, site_id=site_id,
                            category=category, source=source, opened_by=g.api_user,
                            summary=summary, tier=tier,
                            policy_key=policy, detected_at=detected, request_id=request_id)
    s.commit()
    return jsonify(tickets.ticket_row(t)), 201


openapi.path("/tickets", "post", "Open a ticket for a device or a whole site", tags=["tickets"],
             request_body={"content": {"application/json": {"schema": {"type": "object", "required": ["category"],
                 "properties": {"device": {"type": "string"}, "site": {"type": "string"},
                                "category": {"type": "string"}, "summary": {"type": "string"},
                                "tier": {"type": "string"}, "policy": {"type": "string"},
                                "detected_at": {"type": "string", "format": "date-time"},
                                "request_id": {"type": "string"}}}}}},
             responses={"201": {"description": "Opened"}, "422": {"description": "Bad input"}})


def _step(ticket_id, action, body):
    s = db_session()
    t = _visible(tickets.get_ticket(s, ticket_id))
    rid = inputs.optional_text(body.get("request_id"), "request_id", 100)
    user = g.api_user
    if action in ("dispatch", "verify", "close", "cancel", "reopen") and user.role == "crew":
        from flask import abort

        abort(403)

    def num(name, limit):
        v = body.get(name)
        return None if v is None else inputs.number(v, name, -limit, limit)

    def words(name):
        return inputs.text(body.get(name, ""), name, 2000)

    def items():
        v = body.get("items")
        if v is None:
            return []
        if not isinstance(v, list) or not all(isinstance(i, str) for i in v) or len(v) > 100:
            raise ValidationFailed(Msg("%(field)s must be a list of checklist item names.", field="items"),
                                   field="items")
        return v

    def assignee():
        v = body.get("assignee_id")
        return None if v is None else inputs.whole_number(v, "assignee_id", 1, 2**31 - 1)

    calls = {
        "depart": lambda: tickets.depart(s, t.id, actor=user, request_id=rid),
        "arrive": lambda: tickets.record_arrival(s, t.id, actor=user, lat=num("lat", 90), lon=num("lon", 180), request_id=rid),
        "checklist": lambda: tickets.tick_checklist(s, t.id, items(), actor=user, request_id=rid),
        "start_repair": lambda: tickets.start_repair(s, t.id, actor=user, request_id=rid),
        "resolve": lambda: tickets.resolve(s, t.id, words("resolution"), actor=user,
                                           notes=words("notes"), request_id=rid),
        "note": lambda: tickets.add_note(s, t.id, words("notes"), actor=user, request_id=rid),
        "dispatch": lambda: tickets.dispatch(s, t.id, assignee_id=assignee(), actor=user, request_id=rid),
        "verify": lambda: tickets.verify(s, t.id, actor=user, request_id=rid),
        "close": lambda: tickets.close(s, t.id, actor=user, request_id=rid),
        "cancel": lambda: tickets.cancel(s, t.id, actor=user, reason=words("reason"), request_id=rid),
        "reopen": lambda: tickets.reopen(s, t.id, actor=user, reason=words("reason"), request_id=rid),
    }
    calls[action]()
    s.commit()
    return jsonify(tickets.ticket_row(t)), 200


STEPS = ("depart", "arrive", "checklist", "start_repair", "resolve", "note", "dispatch", "verify", "close", "cancel",
         "reopen")


def _duplicate_step(ticket_id, **_):
    """A resent step changed nothing: the ticket as it is, flagged."""
    out = tickets.ticket_row(tickets.get_ticket(db_session(), ticket_id))
    out["duplicate"] = True
    return out


@bp.route("/tickets/<int:ticket_id>/<any(" + ", ".join(STEPS) + "):action>", methods=["POST"])
@api_roles(*READERS)
@duplicate_answer(_duplicate_step)
def ticket_step(ticket_id, action):
    return _step(ticket_id, action, _body())


for _action in STEPS:
    openapi.path(f"/tickets/{{id}}/{_action}", "post", f"Ticket step: {_action} (request_id makes it idempotent)",
                 tags=["tickets"], request_body=STEP_BODY, responses=TICKET_REF, parameters=[TICKET_ID])


@bp.route("/tickets/penalty-estimate")
@api_roles("supervisor")
def penalty():
    """T9/P4: the estimate with its late tickets and not-to-spec cases (derived from the data, never typed in)."""
    a = request.args
    since = inputs.parse_time(a["since"], "since", timezone.utc) if a.get("since") else None
    until = inputs.parse_time(a["until"], "until", timezone.utc) if a.get("until") else None
    est = tickets.penalty_estimate(db_session(), since=since, until=until, policy_key=a.get("policy") or None)
    return jsonify(tickets.penalty_json(est))


openapi.path("/tickets/penalty-estimate", "get", "T9: penalty estimate for a period under one SLA policy",
             tags=["tickets"], parameters=[openapi.query_param("since", "ISO date"),
                                           openapi.query_param("until", "ISO date"),
                                           openapi.query_param("policy", "SLA policy key (default policy)")])
