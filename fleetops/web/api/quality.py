"""Quality API: POST /pass-records (Q1 audits), GET /quality/findings, GET /quality/accuracy."""
import base64
import binascii
import re
from datetime import datetime

from flask import current_app, jsonify, request

from fleetops.domain.errors import ValidationFailed
from fleetops.domain.text import Msg
from fleetops.services import quality
from fleetops.web import db_session
from fleetops.web.api import api_roles, bp, openapi

MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def _parse_time(value) -> datetime:
    if not isinstance(value, str) or not value:
        raise ValidationFailed(Msg("'captured_at' is required (ISO 8601 with offset)"))
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationFailed(Msg("captured_at is not an ISO 8601 time: %(value)s", value=repr(value))) from None
    if at.tzinfo is None:
        raise ValidationFailed(Msg("'captured_at' needs a UTC offset, e.g. 2026-06-21T14:00:00+08:00"))
    return at


@bp.route("/pass-records", methods=["POST"])
@api_roles("supervisor")
def post_pass_record():
    """One pass record: JSON {device, captured_at, plate, external_id, image_base64} or a multipart form with `image`."""
    if request.files or request.form:
        fields = request.form
        upload = request.files.get("image")
        image = upload.read() if upload else None
    else:
        fields = request.get_json(silent=True)
        if not isinstance(fields, dict):
            raise ValidationFailed(Msg("Send a JSON object or a multipart form"))
        image = None
        if fields.get("image_base64"):
            try:
                image = base64.b64decode(fields["image_base64"], validate=True)
            except (binascii.Error, ValueError, TypeError):
                raise ValidationFailed(Msg("'image_base64' is not valid base64")) from None
    s = db_session()
    device_code, captured_at = str(fields.get("device") or ""), _parse_time(fields.get("captured_at"))
    look = quality.look_first(s, device_code, captured_at, image)  # nothing written yet in this request
    out = quality.submit_pass_record(s, device_code=device_code, captured_at=captured_at,
                                     plate=str(fields.get("plate") or ""), store_dir=current_app.config["UPLOAD_DIR"],
                                     image=image, external_id=str(fields.get("external_id") or ""), source="api",
                                     look=look)
    s.commit()
    return jsonify({"id": out["id"], "device": fields.get("device"), "period": out["period"], "plate": out["plate"],
                    "audited": out["audited"], "queued_for_review": out["queued_for_review"]}), 201


@bp.route("/quality/findings")
@api_roles("supervisor", "crew")
def get_findings():
    state = request.args.get("state", "open")
    if state not in ("open", "cleared", "all"):
        raise ValidationFailed(Msg("'state' is open, cleared or all"))
    rows = quality.list_findings(db_session(), state="" if state == "all" else state, limit=1000)
    return jsonify({"findings": [quality.finding_dict(f) for f in rows]})


@bp.route("/quality/accuracy")
@api_roles("supervisor")
def get_accuracy():
    month = request.args.get("month") or quality.current_month(current_app.config.get("TIMEZONE"))
    if not MONTH_RE.match(month):
        raise ValidationFailed(Msg("'month' looks like 2026-06"))
    rows = quality.accuracy_table(db_session(), month)
    return jsonify({"month": month, "rows": [{k: v for k, v in r.items() if k != "device_id"} for r in rows]})


openapi.path("/pass-records", "post", "Q1: one pass record as the camera reported it (may be drawn for the plate audit)",
             tags=["quality"], request_body={"content": {
                 "application/json": {"schema": {"type": "object", "required": ["device", "captured_at", "plate"],
                                                 "properties": {"device": {"type": "string"},
                                                                "captured_at": {"type": "string", "format": "date-time"},
                                                                "plate": {"type": "string"},
                                                                "external_id": {"type": "string"},
                                                                "image_base64": {"type": "string"}}}},
                 "multipart/form-data": {"schema": {"type": "object", "properties": {
                     "device": {"type": "string"}, "captured_at": {"type": "string"}, "plate": {"type": "string"},
                     "external_id": {"type": "string"}, "image": {"type": "string", "format": "binary"}}}}}},
             responses={"201": {"description": "Stored"}, "422": {"description": "Invalid record; nothing stored"}})
openapi.path("/quality/findings", "get", "Q3: image-quality findings", tags=["quality"],
             parameters=[openapi.query_param("state", "open (default), cleared or all")])
openapi.path("/quality/accuracy", "get", "Q1: plate accuracy per camera and day/night with Wilson 95% intervals",
             tags=["quality"], parameters=[openapi.query_param("month", "YYYY-MM (default: this month)")])
