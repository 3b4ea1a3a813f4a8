"""Monitoring pages: fleet status now, a device's timeline, outages and their causes, the uptime table and export."""
import csv
import io
import os
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import (
    Blueprint, Response, abort, current_app, flash, redirect, render_template, request, send_file, url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from fleetops.domain.choices import DeviceKind, DeviceStatus
from fleetops.domain.errors import ValidationFailed
from fleetops.domain.uptime import EXCLUDED_CAUSES, OutageCause
from fleetops.models import Device
from fleetops.models.base import utcnow
from fleetops.models.monitoring import DeviceEvent, OnlineRateSample, Outage, ProbeResultRow, SiteIncident
from fleetops.services import uptime
from fleetops.web import current_locale, db_session, nav, roles_required

bp = Blueprint("monitoring", __name__, url_prefix="/monitoring")

# This area's menu entries; fleetops.wiring adds them to the navigation bar.
NAV = [
    nav.NavItem.of("monitoring.status", "Fleet status", roles=("crew", "supervisor"), order=10,
             home_for=("supervisor",)),
    nav.NavItem.of("monitoring.outages", "Outages", roles=("crew", "supervisor"), order=12),
    nav.NavItem.of("monitoring.uptime_table", "Uptime", roles=("supervisor",), order=14),
]

EVIDENCE_SUFFIXES = {".pdf", ".jpg", ".jpeg", ".png", ".txt", ".doc", ".docx", ".xls", ".xlsx", ".eml"}
PAGE = 50


def duration(seconds) -> str:
    """'2 d 3 h', '4 h 05 min', '12 min' — a human duration for tables."""
    if seconds is None:
        return ""
    s = int(seconds)
    d, rest = divmod(s, 86400)
    h, rest = divmod(rest, 3600)
    m = rest // 60
    if d:
        return _("%(d)s d %(h)s h", d=d, h=h)
    if h:
        return _("%(h)s h %(m)02d min", h=h, m=m)
    return _("%(m)s min", m=m)


@bp.context_processor
def helpers():
    loc = current_locale()
    return {
        "duration": duration,
        "kind_label": lambda v: _label(DeviceKind, v, loc),
        "status_label": lambda v: _label(DeviceStatus, v, loc),
        "cause_label": lambda v: _label(OutageCause, v, loc),
        "now": utcnow(),
        "excluded_causes": EXCLUDED_CAUSES,
    }


def _label(enum, value, loc):
    try:
        return enum(value).label(loc)
    except ValueError:
        return value


# ------------------------------------------------------------------------------------------ fleet status

@bp.route("/")
@roles_required("crew", "supervisor")
def status():
    s = db_session()
    figures = uptime.fleet_status(s)
    district = current_user.district if current_user.role == "crew" else ""  # a crew sees its own district
    outages = uptime.open_outages(s, 300, district=district)
    incidents = uptime.open_incidents(s)
    samples = list(s.scalars(select(OnlineRateSample).order_by(OnlineRateSample.at.desc()).limit(288)))[::-1]
    hung = list(s.scalars(select(DeviceEvent).where(DeviceEvent.kind == "hung", DeviceEvent.ended_at.is_(None))
                          .order_by(DeviceEvent.at.desc()).limit(100)))
    return render_template("monitoring/status.html", figures=figures, outages=outages, incidents=incidents,
                           samples=samples, hung=hung, refresh_s=60, district=district)


# ------------------------------------------------------------------------------------------ device timeline

@bp.route("/devices/<code>")
@roles_required("crew", "supervisor")
def device(code):
    s = db_session()
    dev = s.scalar(select(Device).where(Device.code == code))
    if dev is None:
        abort(404)
    outages = list(s.scalars(select(Outage).where(Outage.device_id == dev.id, Outage.retracted_at.is_(None))
                             .order_by(Outage.started_at.desc()).limit(100)))
    events = list(s.scalars(select(DeviceEvent).where(DeviceEvent.device_id == dev.id)
                            .order_by(DeviceEvent.at.desc()).limit(100)))
    results = list(s.scalars(select(ProbeResultRow).where(ProbeResultRow.device_id == dev.id)
                             .order_by(ProbeResultRow.at.desc()).limit(120)))
    end = utcnow()
    rows = uptime.uptime_rows(s, end - timedelta(days=30), end, by="device", codes=[dev.code])
    figures = next((r for r in rows if r.key == dev.code), None)
    return render_template("monitoring/device.html", device=dev, outages=outages, events=events,
                           results=results, figures=figures)


# ------------------------------------------------------------------------------------------ outages

@bp.route("/outages")
@roles_required("crew", "supervisor")
def outages():
    s = db_session()
    try:
        page = max(1, int(request.args.get("page", 1)))
    except ValueError:
        page = 1
    start = _local_date(request.args.get("from"))
    end = _local_date(request.args.get("to"), plus_days=1)
    cause = request.args.get("cause") or None
    rows, total = uptime.outages_between(s, start, end, device_code=(request.args.get("device") or "").strip() or None,
                                         cause=cause, open_only=request.args.get("open") == "1",
                                         limit=PAGE, offset=(page - 1) * PAGE)
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
    o = s.get(Outage, outage_id)
    if o is None or o.retracted_at is not None:
        abort(404)
    if request.method == "POST":
        if current_user.role not in ("supervisor", "admin"):
            abort(403)
        evidence = _save_evidence(o.id, request.files.get("evidence"))
        uptime.set_outage_cause(s, o.id, request.form.get("cause", ""), request.form.get("reason", ""),
                                evidence, actor=current_user)
        s.commit()
        flash(_("The outage's cause was recorded."), "success")
        return redirect(url_for("monitoring.outage", outage_id=o.id))
    incident = s.get(SiteIncident, o.site_incident_id) if o.site_incident_id else None
    return render_template("monitoring/outage.html", outage=o, incident=incident,
                           causes=OutageCause.choices(current_locale()),
                           can_edit=current_user.role in ("supervisor", "admin"))


@bp.route("/incidents/<int:incident_id>", methods=["POST"])
@roles_required("supervisor")
def incident_cause(incident_id):
    s = db_session()
    evidence = _save_evidence(f"incident-{incident_id}", request.files.get("evidence"))
    changed = uptime.set_site_incident_cause(s, incident_id, request.form.get("cause", ""),
                                             request.form.get("reason", ""), evidence, actor=current_user)
    s.commit()
    flash(_("The cause was recorded for %(n)s outages of the site incident.", n=len(changed)), "success")
    return redirect(request.referrer or url_for("monitoring.status"))


@bp.route("/outages/<int:outage_id>/evidence")
@roles_required("supervisor")
def evidence(outage_id):
    o = db_session().get(Outage, outage_id)
    if o is None or not o.evidence_path:
        abort(404)
    root = Path(current_app.config["UPLOAD_DIR"]).resolve()
    path = (root / o.evidence_path).resolve()
    if root not in path.parents or not path.is_file():
        abort(404)
    return send_file(path, as_attachment=True, download_name=path.name)


def _save_evidence(owner, upload) -> str:
    """Store an uploaded evidence file (a utility's notice, a carrier ticket) under UPLOAD_DIR; '' when none."""
    if upload is None or not upload.filename:
        return ""
    suffix = Path(upload.filename).suffix.lower()
    if suffix not in EVIDENCE_SUFFIXES:
        raise ValidationFailed(_("Evidence must be a PDF, image, text, Word, Excel or e-mail file."))
    rel = Path("outage-evidence") / str(owner) / f"{uuid.uuid4().hex}{suffix}"
    target = Path(current_app.config["UPLOAD_DIR"]) / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    upload.save(target)
    if os.path.getsize(target) == 0:
        target.unlink()
        raise ValidationFailed(_("The evidence file is empty."))
    return str(rel)


def _local_date(value: str | None, plus_days: int = 0) -> datetime | None:
    if not value:
        return None
    try:
        d = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=ZoneInfo(current_app.config["TIMEZONE"]))
    except ValueError:
        raise ValidationFailed(_("Dates are written like 2026-06-21.")) from None
    return d + timedelta(days=plus_days)


# ------------------------------------------------------------------------------------------ uptime table

@bp.route("/uptime")
@roles_required("supervisor")
def uptime_table():
    s = db_session()
    tz = current_app.config["TIMEZONE"]
    today = datetime.now(ZoneInfo(tz)).date()
    period = request.args.get("period", "month")
    by = request.args.get("by", "site")
    if by not in uptime.GROUPS:
        by = "site"
    if period == "custom":
        start = _local_date(request.args.get("from")) or datetime.combine(today, datetime.min.time(),
                                                                          ZoneInfo(tz))
        end = _local_date(request.args.get("to"), plus_days=1) or start + timedelta(days=1)
    else:
        day = request.args.get("date") or today.isoformat()
        contract_start = request.args.get("contract_start") or None
        start, end = uptime.period_bounds(period if period in ("day", "month", "year") else "month", day, tz,
                                          contract_start)
    rows = uptime.uptime_rows(s, start, end, by=by, local_tz=tz, locale=current_locale())
    target = uptime.target_pct(s)
    fleet = uptime.uptime_rows(s, start, end, by="fleet", local_tz=tz)
    fmt = request.args.get("format")
    if fmt in ("csv", "xlsx"):
        return _export(rows, target, by, start, end, fmt)
    return render_template("monitoring/uptime.html", rows=rows, target=target, fleet=fleet[0] if fleet else None,
                           by=by, period=period, start=start, end=end, tz=tz,
                           date=request.args.get("date") or today.isoformat(),
                           groups=[("device", _("Device")), ("site", _("Site")), ("kind", _("Device kind")),
                                   ("district", _("District")), ("fleet", _("Fleet (contract kinds)"))])


EXPORT_COLUMNS = ("key", "label", "devices", "in_service_s", "up_s", "down_s", "unknown_s", "excluded_s",
                  "raw_pct", "contractual_pct", "meets_target")


def _export(rows, target, by, start, end, fmt):
    header = [_("Key"), _("Name"), _("Devices"), _("In service (s)"), _("Up (s)"), _("Down (s)"),
              _("Unknown (s)"), _("Excluded (s)"), _("Raw uptime") + " %", _("Contractual uptime") + " %",
              _("Meets target")]
    data = [[r.as_dict(target)[c] for c in EXPORT_COLUMNS] for r in rows]
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
