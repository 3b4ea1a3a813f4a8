"""Monitoring pages: fleet status now, a device's timeline, outages and their causes, the uptime table and export."""
import csv
import io
from datetime import datetime, timedelta

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import pgettext
from flask_login import current_user

from fleetops.domain import inputs
from fleetops.domain.uptime import EXCLUDED_CAUSES, OutageCause
from fleetops.platform import clock
from fleetops.platform.cells import safe_row
from fleetops.services.inventory import metrology
from fleetops.services.monitoring import causes, queries, uptime
from fleetops.services.reports.dashboard import online_rate_chart
from fleetops.web import current_locale, db_session, duration, nav, page_arg, pager_args, roles_required

bp = Blueprint("monitoring", __name__, url_prefix="/monitoring")

# This area's menu entries; fleetops.wiring adds them to the navigation bar.
NAV = [
    nav.NavItem.of("monitoring.status", "Fleet status", roles=("crew", "supervisor"), order=10,
             home_for=("supervisor",)),
    nav.NavItem.of("monitoring.outages", "Outages", roles=("crew", "supervisor"), order=12),
    nav.NavItem.of("monitoring.uptime_table", "Uptime", roles=("supervisor",), order=14),
]

PAGE = 50
STATUS_PAGE = 50  # devices down per page of the status page


@bp.context_processor
def helpers():
    return {"duration": duration, "now": clock.utcnow(), "excluded_causes": EXCLUDED_CAUSES}


# ------------------------------------------------------------------------------------------ fleet status

def _crew_district() -> str:
    """A crew member sees their own district's outages (as with tickets); "" = everything."""
    return (current_user.district or "") if current_user.role == "crew" else ""


@bp.route("/")
@roles_required("crew", "supervisor")
def status():
    district = _crew_district()
    page_no = page_arg()
    page = queries.status_page(db_session(), district=district, limit=STATUS_PAGE,
                               offset=(page_no - 1) * STATUS_PAGE)
    # Issue 13: the chart's data (ECharts), ending on the tiles' figures.
    chart = online_rate_chart(db_session(), page["figures"], sample_s=int(current_app.config.get(
        "ONLINE_RATE_SAMPLE_S") or 300), series=("all", "contract"))
    # F5's badge shows how many devices lack a certificate: counted, not listed (the status page used to read every id).
    return render_template("monitoring/status.html", refresh_s=60, district=district, chart=chart, page=page_no,
                           pages=max(1, -(-page["outages_total"] // STATUS_PAGE)), args=pager_args(),
                           uncertified_count=metrology.uncertified_count(db_session()), **page)


# ------------------------------------------------------------------------------------------ device timeline

@bp.route("/devices/<code>")
@roles_required("crew", "supervisor")
def device(code):
    page = queries.device_timeline(db_session(), code, district=_crew_district())
    if page is None:
        abort(404)
    return render_template("monitoring/device.html", **page)


# ------------------------------------------------------------------------------------------ outages

@bp.route("/outages")
@roles_required("crew", "supervisor")
def outages():
    try:
        page = max(1, int(request.args.get("page", 1)))
    except ValueError:
        page = 1
    start = _local_date(request.args.get("from"), field="from")
    end = _local_date(request.args.get("to"), plus_days=1, field="to")
    cause = request.args.get("cause") or None
    rows, total = queries.outages_between(
        db_session(), start, end, device_code=(request.args.get("device") or "").strip() or None, cause=cause,
        open_only=request.args.get("open") == "1", limit=PAGE, offset=(page - 1) * PAGE, district=_crew_district())
    pages = max(1, -(-total // PAGE))

    def args(p):
        from urllib.parse import urlencode

        q = {k: v for k, v in request.args.items() if k != "page"}
        q["page"] = p
        return urlencode(q)

    return render_template("monitoring/outages.html", outages=rows, total=total, page=page, pages=pages,
                           args=args, causes=OutageCause.choices(current_locale()))


@bp.route("/outages/<int:outage_id>", methods=["GET", "POST"])
@roles_required("crew", "supervisor")
def outage(outage_id):
    s = db_session()
    page = queries.outage_page(s, outage_id, district=_crew_district())
    if page is None:
        abort(404)
    if request.method == "POST":
        if current_user.role not in ("supervisor", "admin"):
            abort(403)
        upload = request.files.get("evidence")
        causes.record_outage_cause(s, outage_id, request.form.get("cause", ""), request.form.get("reason", ""),
                                   current_app.config["UPLOAD_DIR"], *_evidence(upload), actor=current_user)
        s.commit()
        flash(_("The outage's cause was recorded."), "success")
        return redirect(url_for("monitoring.outage", outage_id=outage_id))
    return render_template("monitoring/outage.html", causes=OutageCause.choices(current_locale()),
                           can_edit=current_user.role in ("supervisor", "admin"), **page)


@bp.route("/incidents/<int:incident_id>", methods=["POST"])
@roles_required("supervisor")
def incident_cause(incident_id):
    s = db_session()
    changed = causes.record_site_incident_cause(
        s, incident_id, request.form.get("cause", ""), request.form.get("reason", ""),
        current_app.config["UPLOAD_DIR"], *_evidence(request.files.get("evidence")), actor=current_user)
    s.commit()
    flash(_("The cause was recorded for %(n)s outages of the site incident.", n=len(changed)), "success")
    return redirect(request.referrer or url_for("monitoring.status"))


@bp.route("/outages/<int:outage_id>/evidence")
@roles_required("supervisor")
def evidence(outage_id):
    path = causes.evidence_file(db_session(), outage_id, current_app.config["UPLOAD_DIR"])
    if path is None:
        abort(404)
    return send_file(path, as_attachment=True, download_name=path.name)


def _evidence(upload) -> tuple[str, object]:
    """(file name, stream) of an uploaded evidence file; ('', None) when none was sent."""
    if upload is None or not upload.filename:
        return "", None
    return upload.filename, upload.stream


def _local_date(value: str | None, plus_days: int = 0, field: str = "date") -> datetime | None:
    if not value:
        return None
    d = inputs.parse_date(value, field)
    return datetime.combine(d, datetime.min.time(), clock.local_zone()) + timedelta(days=plus_days)


# ------------------------------------------------------------------------------------------ uptime table

PRESETS = ("this_month", "last_month", "last_7_days", "this_quarter", "custom")
UPTIME_PAGE = 50


def _preset_bounds(period: str, today) -> tuple[datetime, datetime]:
    """This month, last month, the last 7 days (today included) or this quarter, in local time."""
    tz = clock.local_zone()
    month = datetime(today.year, today.month, 1, tzinfo=tz)
    if period == "last_month":
        prev = (month - timedelta(days=1)).replace(day=1)
        return prev, month
    if period == "last_7_days":
        end = datetime.combine(today, datetime.min.time(), tz) + timedelta(days=1)
        return end - timedelta(days=7), end
    if period == "this_quarter":
        q0 = datetime(today.year, 3 * ((today.month - 1) // 3) + 1, 1, tzinfo=tz)
        q1 = q0.replace(year=q0.year + 1, month=1) if q0.month == 10 else q0.replace(month=q0.month + 3)
        return q0, q1
    nxt = month.replace(year=month.year + 1, month=1) if month.month == 12 else month.replace(month=month.month + 1)
    return month, nxt


def _uptime_period(today) -> tuple[str, datetime, datetime]:
    """(period, start, end) from the picker: a preset, a custom range (from/to, both days included), or the
    older day/month/contract-year links (period=day|month|year&date=…)."""
    tz = clock.zone_name()
    period = request.args.get("period") or "this_month"
    if period == "custom":
        start = _local_date(request.args.get("from"), field="from") or datetime.combine(
            today, datetime.min.time(), clock.local_zone())
        end = _local_date(request.args.get("to"), plus_days=1, field="to") or start + timedelta(days=1)
        return period, start, end
    if period in ("day", "month", "year"):
        day = request.args.get("date") or today.isoformat()
        contract_start = request.args.get("contract_start") or None
        inputs.parse_date(day + {4: "-01-01", 7: "-01"}.get(len(day), ""), "date")
        if contract_start:
            inputs.parse_date(contract_start, "contract_start")
        return (period, *uptime.period_bounds(period, day, tz, contract_start))
    if period not in PRESETS:
        period = "this_month"
    return (period, *_preset_bounds(period, today))


@bp.route("/uptime")
@roles_required("supervisor")
def uptime_table():
    """The 在线率 report (U3/U4): one period picker, groups worst first, 50 a page; the full list as CSV/XLSX."""
    tz = clock.zone_name()
    today = clock.local_today()
    by = request.args.get("by", "site")
    if by not in uptime.GROUPS:
        by = "site"
    page = page_arg()
    period, start, shown_end = _uptime_period(today)
    # A period still running is counted until now: the rest of it is not "no data", it has not happened yet.
    now = clock.utcnow()
    end = now if start < now < shown_end else shown_end
    fmt = request.args.get("format")
    if fmt in ("csv", "xlsx"):
        table = queries.uptime_table(db_session(), start, end, by=by, local_tz=tz, locale=current_locale())
        return _export(table["rows"], table["target"], by, start, end, fmt)
    table = queries.uptime_table(db_session(), start, end, by=by, local_tz=tz, locale=current_locale(),
                                 limit=UPTIME_PAGE, offset=(page - 1) * UPTIME_PAGE)
    pages = max(1, -(-table["total"] // UPTIME_PAGE))
    fleet = table["fleet"]
    has_data = fleet is not None and (fleet.up_s + fleet.down_s) > 0
    return render_template("monitoring/uptime.html", by=by, period=period, start=start, end=end, tz=tz,
                           last_day=shown_end - timedelta(days=1), page=page, pages=pages, args=pager_args(),
                           has_data=has_data, first_rank=(page - 1) * UPTIME_PAGE,
                           presets=[("this_month", _("This month")), ("last_month", _("Last month")),
                                    ("last_7_days", _("Last 7 days")), ("this_quarter", _("This quarter")),
                                    ("custom", _("Custom range"))],
                           groups=[("device", _("Device")), ("site", _("Site")), ("kind", _("Device kind")),
                                   ("district", _("District")), ("fleet", _("Fleet (contract kinds)"))],
                           **table)


EXPORT_COLUMNS = ("key", "label", "devices", "in_service_s", "up_s", "down_s", "unknown_s", "excluded_s",
                  "raw_pct", "contractual_pct", "meets_target")


def _export(rows, target, by, start, end, fmt):
    first = {"device": _("Device code"), "site": _("Site code"), "kind": _("Device kind"),
             "district": _("District")}.get(by, _("Fleet (contract kinds)"))
    header = [first, _("Name"), pgettext("monitoring", "Devices"), _("In service (s)"), _("Up (s)"), _("Down (s)"),
              _("Unknown (s)"), _("Excluded (s)"), _("Raw uptime") + " %", _("Contractual uptime") + " %",
              _("Meets target")]
    data = [safe_row(r.as_dict(target)[c] for c in EXPORT_COLUMNS) for r in rows]
    name = f"uptime-{by}-{start:%Y%m%d}-{end:%Y%m%d}"
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(header)
        w.writerows(data)
        return Response("\ufeff" + buf.getvalue(), mimetype="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f"attachment; filename={name}.csv"})
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "uptime"
    ws.append(header)
    for row in data:
        ws.append(row)
    ws.append([])
    ws.append([_("Target") + " %", target])
    out = io.BytesIO()
    wb.save(out)
    out.seek(0)
    return send_file(out, as_attachment=True, download_name=f"{name}.xlsx",
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
