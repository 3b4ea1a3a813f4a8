"""Records (issue 12): metrology certificates (F5) — list, enter, edit, import, attachments, and the evidence flag
per device for supervisors. Thin: parse the request, call one service, render."""
from datetime import datetime, time, timedelta

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user

from fleetops.domain.errors import ValidationFailed
from fleetops.platform import clock
from fleetops.services import platforms, spares, tickets
from fleetops.services.inventory import metrology
from fleetops.services.spares import replacement
from fleetops.web import db_session, nav, roles_required

bp = Blueprint("records", __name__, url_prefix="/records")

NAV = [nav.NavItem.of("records.certificates", "Metrology certificates", roles=("supervisor", "admin"), order=62),
       nav.NavItem.of("records.deliveries", "Deliveries", roles=("supervisor", "admin"), order=63),
       nav.NavItem.of("records.platforms_list", "Platform connectors", roles=("admin",), order=64)]


@bp.route("/certificates")
@roles_required("supervisor")
def certificates():
    s = db_session()
    rows = metrology.list_certificates(s)
    return render_template("inventory/certificates.html", rows=rows, uncertified=metrology.uncertified_rows(s))


def _form(cert_id, values, errors=None, status=200):
    return render_template("inventory/certificates_form.html", cert_id=cert_id, values=values,
                           errors=errors or {}), status


@bp.route("/certificates/new", methods=["GET", "POST"])
@bp.route("/certificates/<int:cert_id>/edit", methods=["GET", "POST"])
@roles_required("supervisor")
def edit_certificate(cert_id=None):
    s = db_session()
    if request.method == "GET":
        values = metrology.certificate_form(s, cert_id) if cert_id else {"device": request.args.get("device", "")}
        return _form(cert_id, values)
    values = {f: request.form.get(f, "") for f in metrology.FIELDS}
    try:
        cert = metrology.save_certificate(s, cert_id, values, current_user)
        upload = request.files.get("attachment")
        if upload and upload.filename:
            metrology.attach_file(s, cert.id, upload.read(metrology.ATTACHMENT_MAX_BYTES + 1),
                                  current_app.config["UPLOAD_DIR"], current_user)
    except ValidationFailed as err:
        s.rollback()
        return _form(cert_id, values, err.details.get("errors") or {"": err.message}, 422)
    s.commit()
    flash(_("Certificate saved."), "success")
    return redirect(url_for("records.certificates"))


@bp.route("/certificates/import", methods=["GET", "POST"])
@roles_required("supervisor")
def import_certificates():
    if request.method == "GET":
        return render_template("inventory/certificates_import.html", errors=[])
    s = db_session()
    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise ValidationFailed(_("Choose a file."))
        out = metrology.import_certificates(s, upload.read(), upload.filename, current_user)
    except ValidationFailed as err:
        s.rollback()
        return render_template("inventory/certificates_import.html", message=err.message,
                               errors=err.details.get("errors") or []), 422
    s.commit()
    flash(_("Certificates imported: %(added)s added, %(updated)s updated.", added=out.added, updated=out.updated),
          "success")
    return redirect(url_for("records.certificates"))


@bp.route("/certificates/<int:cert_id>/attachment")
@roles_required("supervisor")
def attachment(cert_id):
    path, ctype = metrology.attachment(db_session(), cert_id, current_app.config["UPLOAD_DIR"])
    return send_file(path, mimetype=ctype)


@bp.route("/evidence")
@roles_required("supervisor")
def evidence():
    """F5: per enforcement device, the stretches in service without a valid certificate (default: last 365 days)."""
    days = request.args.get("days", "365")
    days = int(days) if days.isdigit() and 1 <= int(days) <= 3650 else 365
    end = datetime.now(clock.local_zone())
    start = datetime.combine(end.date() - timedelta(days=days), time(0), tzinfo=clock.local_zone())
    rows = metrology.evidence_report(db_session(), start, end)
    return render_template("inventory/certificates_evidence.html", rows=rows, days=days)


@bp.app_context_processor
def _certificate_flags():
    """F5: `uncertified_ids(ids)` for the shared badge (templates/inventory/certificates_macros.html) on the device
    list, the device page and the status page: which of these devices (None: all) lack a valid certificate."""
    def uncertified_ids(ids=None):
        if not current_user.is_authenticated:
            return set()
        return metrology.uncertified(db_session(), ids)
    return {"uncertified_ids": uncertified_ids}


# ---------------------------------------------------------------- S2, T4: replacement and delivery acceptance
# The device page shows the serial chain (web/inventory's extension point for other areas).


@bp.route("/tickets/<int:ticket_id>/replace", methods=["GET", "POST"])
@roles_required("crew", "supervisor")
def replace_device(ticket_id):
    """The ticket's device replaced by a unit from stock, by serial (T4 after two repairs, or a swap)."""
    s = db_session()
    t = tickets.get_ticket(s, ticket_id)
    if current_user.role == "crew" and not tickets.may_act(current_user, t):
        abort(403)
    if request.method == "POST":
        try:
            replacement.replace_device(
                s, t.id, part_type_id=request.form.get("part_type_id", ""),
                location_id=request.form.get("location_id", ""), new_serial=request.form.get("serial", ""),
                actor=current_user, request_id=request.form.get("request_id"))
        except ValidationFailed as err:
            s.rollback()
            return render_template("spares/replacement.html", t=t, part_types=spares.part_types(s),
                                   locations=spares.locations(s), message=err.message,
                                   errors=err.details.get("errors") or {}), 422
        s.commit()
        flash(_("Device replaced; the new serial is recorded."), "success")
        return redirect(url_for("tickets.detail", ticket_id=t.id))
    return render_template("spares/replacement.html", t=t, part_types=spares.part_types(s),
                           locations=spares.locations(s), errors={})


@bp.route("/deliveries", methods=["GET", "POST"])
@roles_required("supervisor")
def deliveries():
    s = db_session()
    if request.method == "POST":
        upload = request.files.get("file")
        try:
            if upload is None or not upload.filename:
                raise ValidationFailed(_("Choose a file."))
            n = replacement.import_delivery(s, upload.read(), upload.filename, current_user)
        except ValidationFailed as err:
            s.rollback()
            return render_template("spares/replacement_deliveries.html", items=replacement.delivery_items(s),
                                   message=err.message, errors=err.details.get("errors") or []), 422
        s.commit()
        flash(_("Delivery record imported: %(n)s units.", n=n), "success")
        return redirect(url_for("records.deliveries"))
    return render_template("spares/replacement_deliveries.html", items=replacement.delivery_items(s), errors=[])


@bp.route("/deliveries/<delivery_no>/accept", methods=["GET", "POST"])
@roles_required("supervisor")
def accept_delivery(delivery_no):
    s = db_session()
    result, scanned = None, request.form.get("scanned", "")
    if request.method == "POST":
        result = replacement.accept_delivery(s, delivery_no, replacement.parse_scanned(scanned), current_user)
        s.commit()
    return render_template("spares/replacement_accept.html", delivery_no=delivery_no, result=result,
                           scanned=scanned, items=replacement.delivery_items(s, delivery_no))


# ---------------------------------------------------------------- U7: platform connectors (admins)
@bp.route("/platforms")
@roles_required("admin")
def platforms_list():
    return render_template("inventory/certificates_platforms.html", connectors=platforms.list_connectors(db_session()))


@bp.route("/platforms/new", methods=["GET", "POST"])
@bp.route("/platforms/<int:connector_id>", methods=["GET", "POST"])
@roles_required("admin")
def platform_edit(connector_id=None):
    s = db_session()
    c = platforms.get_connector(s, connector_id) if connector_id else None
    if request.method == "POST":
        raw = {f: request.form.get(f, "") for f in platforms.connectors.FIELDS}
        try:
            c = platforms.save_connector(s, connector_id, raw, current_user)
        except ValidationFailed as err:
            s.rollback()
            values = {k: v for k, v in raw.items() if k != "password"}
            return render_template("inventory/certificates_platform_form.html", connector_id=connector_id,
                                   values=values, errors=err.details.get("errors") or {}), 422
        s.commit()  # saved first: on SQLite no write lock is held while the platform answers the pull below
        if request.form.get("pull_now"):
            platforms.pull_connector(s, c)
            s.commit()
        flash(_("Connector saved."), "success")
        return redirect(url_for("records.platforms_list"))
    return render_template("inventory/certificates_platform_form.html", connector_id=connector_id,
                           values=platforms.connector_form(c), errors={})
