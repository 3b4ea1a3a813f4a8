"""Supervisors' dashboard (ECharts, vendored: no CDN), monthly/weekly report downloads (XLSX, PDF) and /metrics."""
import hmac
import ipaddress

from flask import Blueprint, Response, abort, current_app, render_template, request
from flask_babel import gettext as _

from fleetops.services import reports
from fleetops.web import current_locale, db_session, nav, roles_required

bp = Blueprint("reports", __name__)  # no prefix: /metrics sits at the root, where Prometheus expects it

# This area's menu entries; fleetops.wiring adds them to the navigation bar.
NAV = [
    nav.NavItem.of("reports.dashboard", "Dashboard", roles=("supervisor",), order=5, home_for=("supervisor",)),
    nav.NavItem.of("reports.downloads", "Reports", roles=("supervisor",), order=60),
]

@bp.route("/reports/")
@roles_required("supervisor")
def dashboard():
    data = reports.dashboard(db_session(), sample_s=int(current_app.config.get("ONLINE_RATE_SAMPLE_S") or 300))
    # Issue 13: the charts are drawn by ECharts from JSON islands (templates/reports/dashboard.html).
    return render_template("reports/dashboard.html", d=data, buckets=data["tickets_by_deadline"])


@bp.route("/reports/downloads")
@roles_required("supervisor")
def downloads():
    return render_template("reports/downloads.html", month=reports.default_month(db_session()),
                           week=reports.last_week())


def _send(report, fmt: str, name: str) -> Response:
    if fmt not in reports.MIME:
        abort(404)
    body = reports.export(report, fmt)
    return Response(body, mimetype=reports.MIME[fmt], headers={
        "Content-Disposition": f"attachment; filename={name}.{fmt}", "Cache-Control": "no-store"})


@bp.route("/reports/monthly.<fmt>")
@roles_required("supervisor")
def monthly(fmt):
    month = request.args.get("month") or reports.default_month(db_session())
    return _send(reports.monthly_report(db_session(), month, locale=current_locale()), fmt,
                 f"fleetops-monthly-{month}")


@bp.route("/reports/weekly.<fmt>")
@roles_required("supervisor")
def weekly(fmt):
    week = request.args.get("week") or reports.last_week()
    return _send(reports.weekly_quality_report(db_session(), week, locale=current_locale()), fmt,
                 f"fleetops-quality-{week}")


def _loopback(host) -> bool:
    """True when `host` (the address the server binds) is a loopback address or 'localhost'."""
    if not host:
        return False  # unknown (another WSGI server): treat as reachable from the network
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@bp.route("/metrics")
def metrics():
    """Prometheus text format. A bearer token (METRICS_TOKEN) is required, except when the server listens on a
    loopback address only (BIND_HOST, set by `fleetops run`) and no token is configured."""
    token = current_app.config.get("METRICS_TOKEN")
    if not token and not _loopback(current_app.config.get("BIND_HOST")):
        return Response(_("Set METRICS_TOKEN: /metrics needs a token when the server listens beyond loopback.")
                        + "\n", status=401, mimetype="text/plain")
    if token and not hmac.compare_digest(request.headers.get("Authorization", "").encode(),
                                         f"Bearer {token}".encode()):
        return Response(_("Missing or invalid metrics token.") + "\n", status=401, mimetype="text/plain")
    body = reports.metrics_text(db_session(), int(current_app.config.get("POLL_INTERVAL_S", 60)))
    return Response(body, mimetype="text/plain; version=0.0.4; charset=utf-8")

