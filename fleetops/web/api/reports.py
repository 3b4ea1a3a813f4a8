"""JSON API for supervisors' figures: the dashboard and the monthly / weekly report sections."""
from flask import jsonify, request

from fleetops.services import reports
from fleetops.web import current_locale, db_session
from fleetops.web.api import api_roles, bp, openapi


def _report_json(report) -> dict:
    return {"title": report.title, "period": report.period_label, "start": report.start.isoformat(),
            "end": report.end.isoformat(), "sections": [
                {"key": s.key, "title": s.title, "headers": s.headers,
                 "rows": [[v if isinstance(v, (int, float, str, type(None))) else str(v) for v in r] for r in s.rows],
                 "note": s.note} for s in report.sections]}


@bp.route("/reports/dashboard")
@api_roles("supervisor")
def report_dashboard():
    d = reports.dashboard(db_session())
    return jsonify({
        "at": d["now"].isoformat(), "status": d["status"], "today_contractual_pct": d["today_pct"],
        "today_raw_pct": d["today_raw_pct"], "target_pct": d["target_pct"], "devices_down": d["devices_down"],
        "open_tickets": d["open_tickets"], "tickets_by_deadline": d["tickets_by_deadline"],
        "breaches_this_month": d["breaches_this_month"], "open_findings": d["open_findings"],
        "plate_accuracy_pct": d["plate_accuracy_pct"], "open_alerts": d["open_alerts"],
        "stock_below_minimum": [{"part": s["code"], "on_hand": s["on_hand"], "minimum": s["minimum"]}
                                for s in d["stock_below_minimum"]]})


@bp.route("/reports/monthly")
@api_roles("supervisor")
def report_monthly():
    return jsonify(_report_json(reports.monthly_report(db_session(), request.args.get("month", ""),
                                                          locale=current_locale())))


@bp.route("/reports/weekly")
@api_roles("supervisor")
def report_weekly():
    return jsonify(_report_json(reports.weekly_quality_report(db_session(), request.args.get("week", ""),
                                                                 locale=current_locale())))


openapi.path("/reports/dashboard", "get", "Dashboard figures: online rate, devices down, tickets, breaches",
             tags=["reports"])
openapi.path("/reports/monthly", "get", "The monthly report's sections as JSON", tags=["reports"],
             parameters=[openapi.query_param("month", "YYYY-MM", required=True)])
openapi.path("/reports/weekly", "get", "The weekly quality summary's sections as JSON", tags=["reports"],
             parameters=[openapi.query_param("week", "YYYY-Www", required=True)])
