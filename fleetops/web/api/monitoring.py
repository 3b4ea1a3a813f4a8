"""Monitoring API: POST /probe-results (an agent's batch, the one ingest path), GET /uptime, /outages, /status."""
import logging
import re
from datetime import datetime
from flask import current_app, g, jsonify, request
from sqlalchemy.exc import OperationalError

from fleetops.domain import inputs
from fleetops.domain.errors import ValidationFailed
from fleetops.domain.text import Msg
from fleetops.platform import clock
from fleetops.services.monitoring import UNKNOWN_DEVICE, IngestConfig, ingest_results, queries
from fleetops.web import db_session
from fleetops.web.api import api_roles, bp, openapi

MAX_BATCH = 50_000
log = logging.getLogger(__name__)


@bp.route("/probe-results", methods=["POST"])
@api_roles("admin", "supervisor")
def post_probe_results():
    if g.get("api_agent") is not None:  # issue 14: a probe agent's batch (scope-limited, applied once)
        from fleetops.web.api.agents import post_agent_batch

        return post_agent_batch(g.api_agent)
    body = request.get_json(silent=True)
    items = body.get("results") if isinstance(body, dict) else body
    if not isinstance(items, list):
        raise ValidationFailed(Msg('Send a JSON array of results (or {"results": [...]}).'))
    if len(items) > MAX_BATCH:
        raise ValidationFailed(Msg("At most %(n)s results per batch.", n=MAX_BATCH))
    strict = request.args.get("strict") in ("1", "true")
    s = db_session()
    try:
        summary = ingest_results(s, items, IngestConfig.from_app_config(current_app.config), strict=strict)
        if summary.written:
            s.commit()
        else:
            s.rollback()
    except OperationalError:  # SQLite busy with the scheduler's own poll: nothing was kept, send again
        s.rollback()
        log.warning("probe-results batch of %d refused: database busy", len(items))
        return jsonify({"error": str(Msg("Database busy; nothing was written, send the batch again."))}), 503
    body = summary.as_dict(with_lines=True)
    bad = [r for r in summary.rejected if r["reason"].msgid != UNKNOWN_DEVICE]
    if bad or not summary.written:
        # A bad value is the sender's error (422), named in `error`; the good results were kept unless strict.
        first = (bad or summary.rejected)[0]
        body["error"] = str(Msg("result %(n)s: %(error)s", n=first["index"], error=first["reason"]))
        return jsonify(body), 422
    return jsonify(body), 200


def _time_arg(name: str, required: bool = True) -> datetime | None:
    value = request.args.get(name)
    if not value:
        if required:
            raise ValidationFailed(Msg("'%(name)s' is required (ISO 8601).", name=name))
        return None
    if re.search(r" \d{2}:\d{2}$", value):  # an unencoded '+' in the offset arrives as a space
        value = value[:-6] + "+" + value[-5:]
    return inputs.parse_time(value, name, clock.local_zone())


def _crew_district() -> str:
    """A crew member sees their own district's outages (as with tickets); "" = everything."""
    return (g.api_user.district or "") if g.api_user.role == "crew" else ""


@bp.route("/uptime")
@api_roles("supervisor", "crew")
def get_uptime():
    by = request.args.get("by", "fleet")
    target, rows = queries.uptime_report(db_session(), _time_arg("from"), _time_arg("to"), by=by,
                                         local_tz=clock.zone_name())
    return jsonify({"by": by, "target_pct": target, "rows": rows})


@bp.route("/outages")
@api_roles("supervisor", "crew")
def get_outages():
    limit = inputs.whole_number(request.args.get("limit", "200"), "limit", 1, 1000)
    offset = inputs.whole_number(request.args.get("offset", "0"), "offset", 0, 10**9)
    rows, total = queries.outages_between(
        db_session(), _time_arg("from", False), _time_arg("to", False), device_code=request.args.get("device"),
        cause=request.args.get("cause"), open_only=request.args.get("open") in ("1", "true"), limit=limit,
        offset=offset, district=_crew_district())
    return jsonify({"total": total, "outages": [queries.outage_dict(o) for o in rows]})


@bp.route("/status")
@api_roles("supervisor", "crew")
def get_status():
    return jsonify(queries.status_report(db_session(), district=_crew_district()))


@bp.route("/online-rate")
@api_roles("supervisor", "crew")
def get_online_rate():
    return jsonify({"samples": queries.online_rate_series(db_session(), _time_arg("from"), _time_arg("to"))})


_RESULT = {"type": "object", "required": ["device", "probe", "ok", "at"], "properties": {
    "device": {"type": "string", "example": "K105-CAM1"}, "probe": {"enum": ["ping", "snmp"]},
    "ok": {"type": "boolean"}, "at": {"type": "string", "format": "date-time"},
    "metrics": {"type": "object", "properties": {"rtt_ms": {"type": "number"}, "sys_uptime_s": {"type": "number"}}},
    "detail": {"type": "string"}}}
openapi.schema("ProbeResult", _RESULT)
openapi.path("/probe-results", "post", "Ingest a batch of probe results (idempotent; late and out-of-order ok)",
             tags=["monitoring"],
             request_body={"content": {"application/json": {"schema": {
                 "type": "array", "items": {"$ref": "#/components/schemas/ProbeResult"}}}}},
             parameters=[openapi.query_param("strict", "1 = write nothing if any result is rejected")],
             responses={"200": {"description": "Summary: received, stored, duplicates, rejected, "
                                               "rejected_by_reason, rejected_lines, unknown_devices"},
                        "422": {"description": "Not a list of results, or some results were bad (the summary "
                                               "names them in rejected_lines; the others were stored unless "
                                               "strict)"}})
_PERIOD = [openapi.query_param("from", "Start, ISO 8601", required=True),
           openapi.query_param("to", "End (exclusive), ISO 8601", required=True)]
openapi.path("/uptime", "get", "Raw and contractual uptime per device|site|kind|district|fleet", tags=["monitoring"],
             parameters=_PERIOD + [openapi.query_param("by", "device, site, kind, district or fleet")])
openapi.path("/outages", "get", "Outages overlapping a period", tags=["monitoring"],
             parameters=[openapi.query_param("from", "Start"), openapi.query_param("to", "End"),
                         openapi.query_param("device", "Device code"), openapi.query_param("cause", "Cause"),
                         openapi.query_param("open", "1 = only open outages"),
                         openapi.query_param("limit", "Page size", "integer"),
                         openapi.query_param("offset", "Offset", "integer")])
openapi.path("/online-rate", "get", "The sampled real-time online rate over a period", tags=["monitoring"],
             parameters=_PERIOD)
openapi.path("/status", "get", "Fleet status now: online rate, open outages, site incidents", tags=["monitoring"])
