"""Exclusion requests: the crew's request from the tablet, the supervisors' queue (with its badge count) and decisions."""
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from fleetops.domain.errors import ValidationFailed
from fleetops.services import tickets
from fleetops.services.monitoring import exclusions
from fleetops.web import db_session, nav, roles_required

bp = Blueprint("exclusions", __name__, url_prefix="/exclusions")

NAV = [nav.NavItem.of("exclusions.queue", "Exclusion requests", roles=("supervisor",), order=35)]

STATES = ("pending", "approved", "rejected")


@bp.app_context_processor
def _badge():
    """The queue's badge count in the navigation bar, for the people who decide."""
    def pending():
        if not current_user.is_authenticated or current_user.role not in ("supervisor", "admin"):
            return 0
        return exclusions.pending_count(db_session())
    return {"exclusions_pending": pending}


@bp.route("/ticket/<int:ticket_id>", methods=["POST"])
@login_required
def request_from_ticket(ticket_id):
    """The crew's button: this outage is the power company's or the network provider's fault (photo + note)."""
    s = db_session()
    t = tickets.get_ticket(s, ticket_id)
    if not tickets.may_act(current_user, t):
        abort(403)
    if not (t.outage_id or t.incident_id):
        raise ValidationFailed(_("This ticket was not opened for an outage."))
    upload = request.files.get("photo")
    row = exclusions.request_exclusion(
        s, cause=request.form.get("cause", ""), note=request.form.get("site_note", ""),
        outage_id=None if t.incident_id else t.outage_id, incident_id=t.incident_id, actor=current_user,
        upload_dir=current_app.config["UPLOAD_DIR"], photo_name=upload.filename if upload else "",
        photo_stream=upload.stream if upload and upload.filename else None, source="crew")
    s.commit()
    flash(_("Request #%(id)s sent to the supervisor.", id=row.id), "success")
    return redirect(url_for("tickets.detail", ticket_id=t.id))


@bp.route("/")
@roles_required("supervisor")
def queue():
    state = request.args.get("state", "pending")
    if state not in STATES and state != "all":
        state = "pending"
    rows = [exclusions.request_row(r) for r in exclusions.list_requests(db_session(), "" if state == "all" else state)]
    return render_template("exclusions/queue.html", rows=rows, state=state, states=STATES)


@bp.route("/<int:request_id>/decide", methods=["POST"])
@roles_required("supervisor")
def decide(request_id):
    s = db_session()
    decision, note = request.form.get("decision", ""), request.form.get("note", "")
    if decision == "approve":
        exclusions.approve(s, request_id, actor=current_user, note=note)
        message = _("Approved: the outage no longer counts against the contractor.")
    elif decision == "reject":
        exclusions.reject(s, request_id, actor=current_user, note=note)
        message = _("Rejected.")
    else:
        raise ValidationFailed(_("Choose approve or reject."))
    s.commit()
    flash(message, "success")
    return redirect(url_for("exclusions.queue"))


@bp.route("/<int:request_id>/photo")
@roles_required("supervisor")
def photo(request_id):
    path = exclusions.photo_file(db_session(), request_id, current_app.config["UPLOAD_DIR"])
    if path is None:
        abort(404)
    return send_file(path)
