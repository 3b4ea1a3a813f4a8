"""Image-quality pages: findings with evidence, a camera's snapshots and scores, the tablet audit queue, plate accuracy."""
import re

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user

from fleetops.domain.errors import ValidationFailed
from fleetops.services import quality
from fleetops.platform.i18n import translate
from fleetops.web import current_locale, db_session, enum_label, nav, roles_required

bp = Blueprint("quality", __name__, url_prefix="/quality")

# This area's menu entries; fleetops.wiring adds them to the navigation bar.
NAV = [
    nav.NavItem.of("quality.findings", "Image quality", roles=("crew", "supervisor"), order=30),
    nav.NavItem.of("quality.audit_queue", "Plate audit", roles=("crew", "supervisor"), order=31),
    nav.NavItem.of("quality.accuracy", "Plate accuracy", roles=("supervisor",), order=32),
]

MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def _store_dir() -> str:
    return current_app.config["UPLOAD_DIR"]


@bp.route("/")
@roles_required("crew", "supervisor")
def findings():
    state = request.args.get("state", "open")
    if state not in ("open", "cleared", ""):
        state = "open"
    rows = quality.list_findings(db_session(), state=state)
    return render_template("quality/findings.html", findings=rows, state=state)


@bp.route("/camera/<code>")
@roles_required("crew", "supervisor")
def camera(code):
    return render_template("quality/camera.html", **quality.camera_page(db_session(), code))


@bp.route("/camera/<code>/sample", methods=["POST"])
@roles_required("crew", "supervisor")
def sample_now(code):
    s = db_session()
    sample = quality.sample_now(s, code, store_dir=_store_dir())
    s.commit()
    if sample.ok:
        flash(_("Snapshot taken.") + (" " + ", ".join(enum_label("FindingKind", k) for k in sample.problems)
                                      if sample.problems else ""), "success")
    else:
        flash(_("Snapshot failed: %(detail)s", detail=translate(sample.detail, current_locale())), "error")
    return redirect(url_for("quality.camera", code=code))


@bp.route("/camera/<code>/reference/<int:sample_id>", methods=["POST"])
@roles_required("supervisor")
def set_reference(code, sample_id):
    s = db_session()
    quality.set_reference_by_code(s, code, sample_id, current_user)
    s.commit()
    flash(_("Reference view saved."), "success")
    return redirect(url_for("quality.camera", code=code))


@bp.route("/image/<path:rel>")
@roles_required("crew", "supervisor")
def image(rel):
    path = quality.image_file(_store_dir(), rel)
    if path is None:
        abort(404)
    return send_file(path, mimetype="image/jpeg", max_age=3600)


@bp.route("/audit")
@roles_required("crew", "supervisor")
def audit_queue():
    queue = quality.audit_queue(db_session(), limit=20)
    return render_template("quality/audit.html", item=queue[0] if queue else None, remaining=len(queue))


@bp.route("/audit/<int:audit_id>/crop.jpg")
@roles_required("crew", "supervisor")
def audit_crop(audit_id):
    data = quality.audit_crop(db_session(), _store_dir(), audit_id)
    if data is None:
        abort(404)
    return Response(data, mimetype="image/jpeg")


@bp.route("/audit/<int:audit_id>", methods=["POST"])
@roles_required("crew", "supervisor")
def audit_review(audit_id):
    s = db_session()
    verdict = request.form.get("verdict", "")
    quality.review(s, audit_id, verdict=verdict, corrected_text=request.form.get("corrected_text", ""),
                   actor=current_user)
    s.commit()
    flash(_("Saved."), "success")
    return redirect(url_for("quality.audit_queue"))


@bp.route("/accuracy")
@roles_required("supervisor")
def accuracy():
    month = request.args.get("month") or quality.current_month(current_app.config.get("TIMEZONE"))
    if not MONTH_RE.match(month):
        raise ValidationFailed(_("Month must look like 2026-06."))
    rows = quality.accuracy_table(db_session(), month)
    return render_template("quality/accuracy.html", rows=rows, month=month)


@bp.route("/devices")
@roles_required("crew", "supervisor")
def cameras():
    devices = quality.devices_with_snapshot_source(db_session())
    return render_template("quality/cameras.html", devices=devices)
