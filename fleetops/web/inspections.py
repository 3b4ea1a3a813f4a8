"""Inspection pages (P1–P3): the crew's route and one device's checklist on the tablet; the supervisors' overview,
plan forms (every field checked, a 422 naming the field, nothing written) and the contract presets."""
import uuid

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from fleetops.domain import inspections as rules
from fleetops.domain.choices import DeviceKind
from fleetops.domain.errors import PermissionDenied, ValidationFailed
from fleetops.domain.text import Msg
from fleetops.platform.clock import utcnow
from fleetops.services import inspections
from fleetops.web import db_session, nav, roles_required

bp = Blueprint("inspections", __name__, url_prefix="/inspections")

NAV = [
    nav.NavItem.of("inspections.route", "My route", roles=("crew",), order=12),
    nav.NavItem.of("inspections.index", "Inspections", roles=("supervisor",), order=35),
]

BLANK_ITEMS = 3  # empty item rows a plan form offers for new items


@bp.app_context_processor
def _helpers():
    return {"period_label": lambda p: rules.Period.label_of(p), "range_text": rules.range_text}


def _payload(order):
    """What the form sent for each checklist item of `order`: answers and photo bytes."""
    answers, photos = {}, {}
    for item in inspections.order_items(order):
        key = item["key"]
        answers[key] = {"ok": request.form.get(f"item_{key}"), "value": request.form.get(f"value_{key}")}
        upload = request.files.get(f"photo_{key}")
        if upload is not None and upload.filename:
            photos[key] = upload.read()
    return answers, photos


# ---------------------------------------------------------------- the crew's tablet

@bp.route("/route")
@login_required
def route():
    data = inspections.my_route(db_session(), current_user, now=utcnow())
    return render_template("inspections/route.html", now=utcnow(), **data)


@bp.route("/orders/<int:order_id>", methods=["GET", "POST"])
@login_required
def order(order_id):
    s = db_session()
    try:
        o = inspections.order_for(s, current_user, order_id)
    except PermissionDenied:
        abort(403)
    error, field = None, None
    if request.method == "POST":
        answers, photos = _payload(o)
        try:
            inspections.complete_order(s, o.id, answers, photos, actor=current_user,
                                       upload_dir=current_app.config["UPLOAD_DIR"], note=request.form.get("note", ""),
                                       request_id=request.form.get("request_id"), now=utcnow())
        except ValidationFailed as err:
            s.rollback()
            error, field = err.message, err.details.get("field")
            o = inspections.order_for(s, current_user, order_id)
        else:
            s.commit()
            flash(_("Inspection saved: %(device)s", device=o.device.code), "success")
            return redirect(url_for("inspections.route"))
    status = 422 if error else 200
    return render_template("inspections/order.html", o=o, items=inspections.order_items(o), error=error,
                           error_field=field, form=request.form if error else {}, now=utcnow(),
                           request_id=uuid.uuid4().hex), status


@bp.route("/tickets/<int:ticket_id>")
@login_required
def ticket_order(ticket_id):
    """From an inspection order's ticket page to its checklist."""
    try:
        o = inspections.order_of_ticket(db_session(), current_user, ticket_id)
    except PermissionDenied:
        abort(403)
    if o is None:
        abort(404)
    return redirect(url_for("inspections.order", order_id=o.id))


# ---------------------------------------------------------------- supervisors

@bp.route("/")
@roles_required("supervisor")
def index():
    s = db_session()
    now = utcnow()
    return render_template("inspections/index.html", rows=inspections.overview(s, now=now),
                           overdue=inspections.overdue_orders(s, now=now), presets=rules.PRESET_LABELS, now=now)


@bp.route("/presets/<name>", methods=["POST"])
@roles_required("supervisor")
def preset(name):
    s = db_session()
    out = inspections.load_preset(s, name, actor=current_user)
    s.commit()
    flash(_("%(n)s plans added from the preset.", n=len(out["created"])), "success")
    return redirect(url_for("inspections.index"))


@bp.route("/generate", methods=["POST"])
@roles_required("supervisor")
def generate():
    s = db_session()
    made = inspections.generate_due(s, now=utcnow())
    s.commit()
    flash(_("%(n)s inspection orders made.", n=made["created"]), "success")
    return redirect(url_for("inspections.index"))


def _form_data() -> dict:
    """The plan form as validate_plan reads it: rows item-N-… with a name are items, blank rows are skipped."""
    f = request.form
    items, n = [], 0
    while f"item-{n}-label" in f and n < rules.MAX_ITEMS + BLANK_ITEMS:
        label = (f.get(f"item-{n}-label") or "").strip()
        if label:
            items.append({"key": f.get(f"item-{n}-key") or None, "label": label,
                          "needs_photo": f.get(f"item-{n}-needs_photo"), "needs_value": f.get(f"item-{n}-needs_value"),
                          "unit": f.get(f"item-{n}-unit") or "", "min": f.get(f"item-{n}-min"),
                          "max": f.get(f"item-{n}-max")})
        n += 1
    return {"name": f.get("name", ""), "device_kinds": f.getlist("device_kinds"), "period": f.get("period", ""),
            "at_night": f.get("at_night"), "key_sites_only": f.get("key_sites_only"),
            "site_code": f.get("site_code", ""), "active": f.get("active"), "items": items}


def _plan_form(plan, data, error=None, field=None, status=200):
    items = list(data.get("items") or []) + [{} for _i in range(BLANK_ITEMS)]
    return render_template("inspections/plan_form.html", plan=plan, data=data, items=items, error=error,
                           error_field=field, kinds=DeviceKind.choices(), periods=rules.Period.choices(),
                           units=rules.UNITS), status


@bp.route("/plans/new", methods=["GET", "POST"])
@roles_required("supervisor")
def new_plan():
    s = db_session()
    if request.method == "GET":
        return _plan_form(None, {"period": "monthly", "active": True, "device_kinds": [], "items": []})
    data = _form_data()
    try:
        plan = inspections.create_plan(s, data, actor=current_user)
    except ValidationFailed as err:
        s.rollback()
        return _plan_form(None, data, err.message, err.details.get("field"), 422)
    s.commit()
    flash(_("Plan saved."), "success")
    return redirect(url_for("inspections.edit_plan", plan_id=plan.id))


@bp.route("/plans/<int:plan_id>", methods=["GET", "POST"])
@roles_required("supervisor")
def edit_plan(plan_id):
    s = db_session()
    plan = inspections.get_plan(s, plan_id)
    if request.method == "GET":
        return _plan_form(plan, inspections.plan_dict(plan))
    data = _form_data()
    version = request.form.get("version")
    try:
        inspections.update_plan(s, plan.id, data, actor=current_user,
                                version=int(version) if (version or "").isdigit() else None)
    except ValidationFailed as err:
        s.rollback()
        return _plan_form(inspections.get_plan(s, plan_id), data, err.message, err.details.get("field"), 422)
    s.commit()
    flash(_("Plan saved."), "success")
    return redirect(url_for("inspections.edit_plan", plan_id=plan.id))


def plan_name(name) -> str:
    """A preset's name in the reader's language; a typed one as typed."""
    return Msg(name).render()


bp.add_app_template_filter(plan_name, "plan_name")
