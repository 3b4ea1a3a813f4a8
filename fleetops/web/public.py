"""Report a fault from the pole: the QR landing `/r/<device-code>` (a logged-in tablet goes to the device's page;
anyone else gets the one-page public fault report, no login), and the printable A4 QR labels sheet of a site.

The public form is CSRF-protected (Flask-WTF), limited per address (Flask-Limiter, PUBLIC_REPORT_LIMIT), and
answered in Chinese by default; the checks on its content are in services/fault_reports."""
from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_login import current_user
from werkzeug.exceptions import NotFound as HTTPNotFound

from fleetops.domain.errors import FleetopsError, NotFound
from fleetops.domain.maintenance import FaultProblem
from fleetops.services import fault_reports
from fleetops.web import current_locale, db_session, limiter, roles_required

bp = Blueprint("public", __name__)

PHOTO_FIELD = "photo"


def _address_key() -> str:
    return "public-report:" + (get_remote_address() or "")


def _device(code: str):
    try:
        return fault_reports.device_for_code(db_session(), code)
    except NotFound:
        raise HTTPNotFound() from None


def _form(device, status: int = 200, error: str = "", field: str = ""):
    return render_template("public/report.html", device=device, problems=FaultProblem.choices(current_locale()),
                           form=request.form, error=error, field=field), status


@bp.route("/r/<code>")
def landing(code):
    """The URL in every QR label: a crew tablet (logged in) opens the device; anyone else reports a fault."""
    device = _device(code)
    if current_user.is_authenticated:
        return redirect(url_for("inventory.device", code=device.code))
    return _form(device)


@bp.route("/r/<code>", methods=["POST"])
@limiter.limit(lambda: current_app.config["PUBLIC_REPORT_LIMIT"], key_func=_address_key)
def report(code):
    device = _device(code)
    upload = request.files.get(PHOTO_FIELD)
    photo = upload.read(int(current_app.config["MAX_CONTENT_LENGTH"])) if upload and upload.filename else None
    s = db_session()
    try:
        row, folded = fault_reports.submit_report(
            s, device.code, problem=request.form.get("problem", ""), details=request.form.get("details", ""),
            phone=request.form.get("phone", ""), photo=photo, honeypot=request.form.get("website", ""),
            address=get_remote_address() or "", secret=current_app.config["SECRET_KEY"],
            upload_dir=current_app.config["UPLOAD_DIR"])
    except FleetopsError as err:
        s.rollback()
        return _form(device, 422 if err.status_code < 500 else err.status_code, err.message,
                     err.details.get("field", ""))
    s.commit()
    return render_template("public/thanks.html", device=device, folded=folded), 201 if row and not folded else 200


@bp.errorhandler(429)
def too_many(_err):
    """The per-address limit: a page in the reader's language (Chinese by default), never the sign-in text."""
    return render_template("public/thanks.html", device=None, folded=False, limited=True,
                           message=_("Too many reports from this connection. Please try again later, or call the "
                                     "traffic police hotline.")), 429


@bp.route("/labels/<site_code>")
@roles_required("crew", "supervisor")
def labels(site_code):
    """The printable A4 sheet of QR labels for one site (code, name, site on each)."""
    base = current_app.config.get("PUBLIC_BASE_URL") or request.host_url
    sheet = fault_reports.site_labels(db_session(), site_code, base)
    return render_template("public/labels.html", **sheet)
