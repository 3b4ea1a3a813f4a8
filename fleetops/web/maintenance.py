"""Maintenance windows: the list, the form to plan one (with the notice as an attachment), one window's page with
the outages it held, cancelling. Supervisors plan; the crew may read (they see why no alarm came)."""
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user

from fleetops.domain.maintenance import Recurrence, WindowCause
from fleetops.services import inventory, maintenance
from fleetops.web import current_locale, db_session, nav, roles_required

bp = Blueprint("maintenance", __name__, url_prefix="/maintenance")

NAV = [nav.NavItem.of("maintenance.index", "Maintenance windows", roles=("crew", "supervisor"), order=37)]


@bp.route("/")
@roles_required("crew", "supervisor")
def index():
    state = request.args.get("state", "")
    if state not in ("", "active", "pending", "rejected", "cancelled"):
        state = ""
    s = db_session()
    rows = [maintenance.window_dict(s, w) for w in maintenance.list_windows(s, state)]
    return render_template("maintenance/index.html", rows=rows, state=state)


@bp.route("/new", methods=["GET", "POST"])
@roles_required("supervisor")
def new():
    loc = current_locale()
    form = request.form
    if request.method == "POST":
        s = db_session()
        upload = request.files.get("attachment")
        w = maintenance.create_window(
            s, sites=form.get("sites", ""), devices=form.get("devices", ""),
            districts=[d.strip() for d in form.getlist("districts") if d.strip()],  # ticked from the list
            cabinets=form.get("cabinets", ""), starts_at=form.get("from", ""), ends_at=form.get("to", ""),
            cause=form.get("cause", ""), reference=form.get("reference", ""), title=form.get("title", ""),
            recurrence=form.get("recurrence", "none"), count=form.get("count") or None,
            until=form.get("until") or None, actor=current_user, upload_dir=current_app.config["UPLOAD_DIR"],
            attachment_name=upload.filename if upload else "",
            attachment_stream=upload.stream if upload and upload.filename else None)
        s.commit()
        if w.state == "pending":
            flash(_("Entered after the fact: the window waits for a supervisor's approval in the exclusion queue."),
                  "info")
        else:
            flash(_("Maintenance window planned."), "success")
        return redirect(url_for("maintenance.detail", window_id=w.id))
    return render_template("maintenance/form.html", causes=WindowCause.choices(loc),
                           recurrences=Recurrence.choices(loc), form=form,
                           districts=inventory.districts(db_session()))


@bp.route("/<int:window_id>")
@roles_required("crew", "supervisor")
def detail(window_id):
    s = db_session()
    w = maintenance.get_window(s, window_id)
    return render_template("maintenance/detail.html", w=maintenance.window_dict(s, w), window=w,
                           held=maintenance.held_outages(s, w.id))


@bp.route("/<int:window_id>/cancel", methods=["POST"])
@roles_required("supervisor")
def cancel(window_id):
    s = db_session()
    maintenance.cancel_window(s, window_id, actor=current_user, reason=request.form.get("reason", ""))
    s.commit()
    flash(_("Maintenance window cancelled."), "success")
    return redirect(url_for("maintenance.detail", window_id=window_id))


@bp.route("/<int:window_id>/attachment")
@roles_required("crew", "supervisor")
def attachment(window_id):
    path = maintenance.attachment_file(db_session(), window_id, current_app.config["UPLOAD_DIR"])
    if path is None:
        abort(404)
    return send_file(path, as_attachment=path.suffix == ".pdf")
