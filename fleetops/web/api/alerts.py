"""JSON API for alerts: list and acknowledge alerts, the delivery log, channels (never their secrets), and U7 pass-record
counts pushed per camera and interval."""
from flask import g, jsonify, request

from fleetops.domain.errors import ValidationFailed
from fleetops.domain.text import Msg
from fleetops.services import alerts
from fleetops.services.monitoring import detectors
from fleetops.web import db_session
from fleetops.web.api import api_roles, bp, openapi


@bp.route("/alerts")
@api_roles("crew", "supervisor")
def list_alerts():
    show = request.args.get("state", "open")
    states = {"open": ("open", "acknowledged"), "resolved": ("resolved",),
              "all": ("open", "acknowledged", "resolved")}.get(show)
    if states is None:
        raise ValidationFailed(Msg("state must be open, resolved or all."))
    rows = alerts.visible_alerts(db_session(), g.api_user, states=states, limit=500)
    return jsonify({"alerts": [alerts.alert_dict(a) for a in rows]})


@bp.route("/alerts/<int:alert_id>/acknowledge", methods=["POST"])
@api_roles("crew", "supervisor")
def acknowledge_alert(alert_id):
    s = db_session()
    alert = alerts.acknowledge(s, alert_id, g.api_user)
    s.commit()
    return jsonify(alerts.alert_dict(alert))


@bp.route("/alerts/deliveries")
@api_roles("supervisor")
def alert_deliveries():
    rows = alerts.delivery_dicts(db_session(), limit=min(1000, max(1, request.args.get("limit", 200, type=int))),
                                 state=request.args.get("state", ""))
    return jsonify({"deliveries": rows})


@bp.route("/alert-channels")
@api_roles()
def alert_channels():
    return jsonify({"channels": alerts.channel_views(db_session())})


@bp.route("/pass-counts", methods=["POST"])
@api_roles("supervisor")
def post_pass_counts():
    """U7: {"interval_s": 3600, "counts": [{"device": "K105-CAM1", "slot_start": "…+08:00", "count": 412}]}."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("counts"), list):
        raise ValidationFailed(Msg('The body must be {"counts": [...]}.'))
    interval = body.get("interval_s")
    if interval is not None and (not isinstance(interval, int) or not 60 <= interval <= 86400):
        raise ValidationFailed(Msg("interval_s must be 60–86400 seconds."))
    s = db_session()
    n = detectors.record_pass_counts(s, body["counts"], interval)
    s.commit()
    return jsonify({"stored": n}), 201


openapi.path("/alerts", "get", "Alerts visible to the caller (a crew sees its district)", tags=["alerts"],
             parameters=[openapi.query_param("state", "open (default), resolved or all")])
openapi.path("/alerts/{id}/acknowledge", "post", "Acknowledge an alert: repeats and escalations stop",
             tags=["alerts"], parameters=[openapi.path_param("id", "Alert id", "integer")])
openapi.path("/alerts/deliveries", "get", "The delivery outbox and every attempt's result (supervisor)",
             tags=["alerts"], parameters=[openapi.query_param("state", "pending, delivered, failed or cancelled"),
                                          openapi.query_param("limit", "At most this many (≤ 1000)", "integer")])
openapi.path("/alert-channels", "get", "Alert channels; secrets only as set / not set (admin)", tags=["alerts"])
openapi.path("/pass-counts", "post", "U7: pass-record counts per camera and interval (all or nothing)",
             tags=["alerts"], request_body={"content": {"application/json": {"schema": {
                 "type": "object", "required": ["counts"], "properties": {
                     "interval_s": {"type": "integer", "default": 3600},
                     "counts": {"type": "array", "items": {"type": "object", "required": ["device", "slot_start", "count"],
                                                           "properties": {"device": {"type": "string"},
                                                                          "slot_start": {"type": "string", "format": "date-time"},
                                                                          "count": {"type": "integer", "minimum": 0}}}}}}}}},
             responses={"201": {"description": "Stored"}, "422": {"description": "Rejected, nothing stored"}})
