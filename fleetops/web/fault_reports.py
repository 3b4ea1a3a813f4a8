"""The supervisors' triage queue of fault reports from the pole: turn one into a ticket (one click, the photo as
evidence) or dismiss it with a reason; both audited (services/fault_reports)."""
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user

from fleetops.services import fault_reports
from fleetops.web import db_session, nav, roles_required

bp = Blueprint("fault_reports", __name__, url_prefix="/fault-reports")

NAV = [nav.NavItem.of("fault_reports.queue", "Fault reports", roles=("supervisor",), order=36)]

STATES = ("new", "ticketed", "dismissed")


@bp.route("/")
@roles_required("supervisor")
def queue():
    state = request.args.get("state", "new")
    if state not in STATES and state != "all":
        state = "new"
    rows = fault_reports.list_reports(db_session(), "" if state == "all" else state)
    return render_template("fault_reports/queue.html", rows=rows, state=state, states=STATES)


@bp.route("/<int:report_id>/ticket", methods=["POST"])
@roles_required("supervisor")
def to_ticket(report_id):
    s = db_session()
    t = fault_reports.make_ticket(s, report_id, actor=current_user)
    s.commit()
    flash(_("Ticket #%(id)s opened from the report.", id=t.id), "success")
    return redirect(url_for("tickets.detail", ticket_id=t.id))


@bp.route("/<int:report_id>/dismiss", methods=["POST"])
@roles_required("supervisor")
def dismiss(report_id):
    s = db_session()
    fault_reports.dismiss(s, report_id, actor=current_user, reason=request.form.get("reason", ""))
    s.commit()
    flash(_("Report dismissed."), "success")
    return redirect(url_for("fault_reports.queue"))


@bp.route("/<int:report_id>/photo")
@roles_required("crew", "supervisor")
def photo(report_id):
    path = fault_reports.photo_file(db_session(), report_id, current_app.config["UPLOAD_DIR"])
    if path is None:
        abort(404)
    return send_file(path, max_age=3600)


@bp.route("/ticket/<int:ticket_id>/photo")
@roles_required("crew", "supervisor")
def ticket_photo(ticket_id):
    """A ticket opened from a report shows the reporter's photo as its evidence."""
    path = fault_reports.ticket_photo(db_session(), ticket_id, current_app.config["UPLOAD_DIR"])
    if path is None:
        abort(404)
    return send_file(path, max_age=3600)
