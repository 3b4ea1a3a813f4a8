"""Inventory pages: site and device lists, details, edit forms (supervisor/admin), spreadsheet import and export.

Other areas add a panel to the device page by appending to DEVICE_PANELS, e.g.
`DEVICE_PANELS.append(DevicePanel("quality/_device_panel.html", context=my_context_fn))`;
`context(session, device) -> dict` is merged into the panel's template context.
"""
import io
from dataclasses import dataclass
from datetime import timedelta
from typing import Callable
from urllib.parse import urlencode

from flask import (
    Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, PasswordField, SelectField, StringField, TextAreaField

try:
    from wtforms import SelectChoice
except ImportError:  # WTForms < 3.3
    SelectChoice = None

from fleetops.domain.choices import DeviceKind, DeviceStatus, Lifecycle, LivenessProbe
from fleetops.domain.errors import ValidationFailed
from fleetops.domain.text import Msg
from fleetops.platform.clock import local_today
from fleetops.services import inventory
from fleetops.services.inventory import AUTH_PROTOCOLS, PRIV_PROTOCOLS, import_jobs, uploads
from fleetops.web import current_locale, db_session, enum_label, nav, roles_required

bp = Blueprint("inventory", __name__)
EDITORS = ("supervisor",)  # admin always passes; crew may look, not edit (issue 2)
READERS = ("crew", "supervisor")
CERT_DUE_SOON_DAYS = 30  # F5: flag 检定 certificates that run out within a month

# This area's menu entries; fleetops.wiring adds them to the navigation bar.
NAV = [
    # A Msg label: "Devices" needs its own msgctxt here (nav renders a Msg in the reader's language).
    nav.NavItem.of("inventory.devices", Msg("Devices", context="inventory"), roles=("crew", "supervisor", "admin"),
                   order=30),
    nav.NavItem.of("inventory.sites", "Sites", roles=("crew", "supervisor", "admin"), order=31),
]


@dataclass(frozen=True)
class DevicePanel:
    template: str
    context: Callable | None = None  # (session, device) -> dict


DEVICE_PANELS: list[DevicePanel] = []


def choices(pairs) -> list:
    """(value, label) pairs as WTForms options (SelectChoice where available: tuples are deprecated in 3.3)."""
    return [SelectChoice(v, l) for v, l in pairs] if SelectChoice else list(pairs)


SECRET_LABELS = {"snmp_community": "SNMP community", "snmp_v3_auth_key": "SNMPv3 auth key",
                 "snmp_v3_priv_key": "SNMPv3 privacy key", "snapshot_password": "Snapshot password"}


# ---------------------------------------------------------------- forms (English labels, translated in _macros.field)

class DeviceForm(FlaskForm):
    code = StringField("Device code")
    name = StringField("Name")
    kind = SelectField("Device kind")
    site_code = StringField("Site code")
    cabinet_code = StringField("Cabinet code")
    parent_code = StringField("Parent device")
    vendor = StringField("Vendor")
    model = StringField("Model")
    serial = StringField("Serial number")
    ip_address = StringField("IP address")
    lifecycle = SelectField("Lifecycle state")
    installed_on = StringField("Installed on")
    in_service_from = StringField("In service from")
    liveness_probe = SelectField("Liveness probe", choices=choices([("ping", "Ping"), ("snmp", "SNMP"),
                                                                   ("tcp", "TCP connect")]))
    snmp_version = SelectField("SNMP version", choices=choices([("", "—"), ("v2c", "v2c"), ("v3", "v3")]))
    snmp_port = StringField("SNMP port", default="161")
    snmp_community = PasswordField("SNMP community")
    snmp_v3_user = StringField("SNMPv3 user")
    snmp_v3_auth_protocol = SelectField("SNMPv3 auth protocol", choices=choices((p, p or "—") for p in AUTH_PROTOCOLS))
    snmp_v3_auth_key = PasswordField("SNMPv3 auth key")
    snmp_v3_priv_protocol = SelectField("SNMPv3 privacy protocol", choices=choices((p, p or "—") for p in PRIV_PROTOCOLS))
    snmp_v3_priv_key = PasswordField("SNMPv3 privacy key")
    snapshot_url = StringField("Snapshot URL")
    snapshot_username = StringField("Snapshot user")
    snapshot_password = PasswordField("Snapshot password")
    notes = TextAreaField("Notes")
    version = HiddenField()

    SECRETS = ("snmp_community", "snmp_v3_auth_key", "snmp_v3_priv_key", "snapshot_password")

    def set_choices(self, locale: str) -> None:
        self.kind.choices = choices(DeviceKind.choices(locale))
        self.lifecycle.choices = choices(Lifecycle.choices(locale))
        self.liveness_probe.choices = choices(LivenessProbe.choices(locale))  # "TCP 连接", not "TCP connect"


class SiteForm(FlaskForm):
    code = StringField("Site code")
    name = StringField("Name")
    road = StringField("Road")
    direction = StringField("Direction")
    district = SelectField("District", validate_choice=False)  # known districts or "new district" (issue 13)
    new_district = StringField("New district name")
    latitude = StringField("Latitude")
    longitude = StringField("Longitude")
    key_site = BooleanField("Key assessment site")
    road_distance_km = StringField("Road distance from depot (km)")
    depot = SelectField("Depot")
    notes = TextAreaField("Notes")
    version = HiddenField()


def _form_errors(form, err: ValidationFailed) -> None:
    errors = (err.details or {}).get("errors") or {}
    for name, message in errors.items():
        target = getattr(form, name, None)
        if target is not None:
            target.errors = list(target.errors or []) + [message]
    if not errors or any(getattr(form, n, None) is None for n in errors):
        flash(err.message, "error")


def _save(form, save):
    """Run `save()` in the request session: commit and return its result, or roll back, put the field errors
    on the form and return None."""
    try:
        saved = save()
    except ValidationFailed as err:
        db_session().rollback()
        _form_errors(form, err)
        return None
    db_session().commit()
    return saved


def _pager_args():
    args = {k: v for k, v in request.args.items() if k != "page" and v != ""}
    return lambda page: urlencode({**args, "page": page})


def _can_edit() -> bool:
    return current_user.is_authenticated and current_user.role in ("admin", *EDITORS)


@bp.app_context_processor
def inject_inventory_helpers():
    # kind_label/lifecycle_label/status_label: kept for other areas' templates until they call enum_label directly.
    return {"kind_label": lambda v: enum_label("DeviceKind", v), "lifecycle_label": lambda v: enum_label("Lifecycle", v),
            "status_label": lambda v: enum_label("DeviceStatus", v), "can_edit_inventory": _can_edit}


# ---------------------------------------------------------------- devices

@bp.route("/devices")
@roles_required(*READERS)
def devices():
    s = db_session()
    f = {k: request.args.get(k, "") for k in ("q", "kind", "district", "lifecycle", "status", "key_site")}
    try:
        page = inventory.list_devices(s, page=request.args.get("page"), per_page=request.args.get("per_page"), **f)
    except ValidationFailed as err:  # a hand-edited URL: say so on the page itself
        flash(err.message, "error")
        page = inventory.Page([], 0, 1, 50)
    return render_template("inventory/devices.html", page=page, f=f, districts=inventory.districts(s),
                           kinds=DeviceKind.choices(current_locale()), lifecycles=Lifecycle.choices(current_locale()),
                           statuses=DeviceStatus.choices(current_locale()), args=_pager_args())


@bp.route("/devices/<code>")
@roles_required(*READERS)
def device(code):
    s = db_session()
    dev = inventory.get_device(s, code)
    children = inventory.child_devices(s, dev)
    panels = []
    for panel in DEVICE_PANELS:
        ctx = panel.context(s, dev) if panel.context else {}
        panels.append((panel.template, ctx or {}))
    return render_template("inventory/device.html", device=dev, children=children, panels=panels,
                           today=local_today(), due_soon=local_today() + timedelta(days=CERT_DUE_SOON_DAYS),
                           certificates=sorted(dev.certificates, key=lambda c: c.valid_until, reverse=True),
                           secrets_set=[SECRET_LABELS[f] for f in inventory.secrets_set(dev)],
                           service_periods=inventory.service_history(s, dev))


@bp.route("/devices/new", methods=["GET", "POST"])
@roles_required(*EDITORS)
def device_new():
    form = DeviceForm(site_code=request.args.get("site", ""))
    form.set_choices(current_locale())
    if request.method == "POST" and form.validate():
        raw = {k: v for k, v in form.data.items() if k in inventory.DEVICE_FIELDS}
        dev = _save(form, lambda: inventory.save_device(db_session(), None, raw, current_user,
                                                        new_code=form.code.data))
        if dev is not None:
            flash(_("Device %(code)s created.", code=dev.code), "success")
            return redirect(url_for(".device", code=dev.code))
    return render_template("inventory/device_form.html", form=form, device=None), (422 if form.errors else 200)


@bp.route("/devices/<code>/edit", methods=["GET", "POST"])
@roles_required(*EDITORS)
def device_edit(code):
    s = db_session()
    dev = inventory.get_device(s, code)
    if request.method == "GET":
        form = DeviceForm(data=inventory.device_form_data(dev))
    else:
        form = DeviceForm()
    form.set_choices(current_locale())
    if request.method == "POST" and form.validate():
        raw = {k: v for k, v in form.data.items() if k in inventory.DEVICE_FIELDS}
        if _save(form, lambda: inventory.save_device(s, code, raw, current_user,
                                                     expected_version=form.version.data)) is not None:
            flash(_("Saved."), "success")
            return redirect(url_for(".device", code=code))
    return (render_template("inventory/device_form.html", form=form, device=dev,
                            secrets_set=inventory.secrets_set(dev)),
            422 if form.errors else 200)


@bp.route("/devices/<code>/retire", methods=["POST"])
@roles_required(*EDITORS)
def device_retire(code):
    s = db_session()
    inventory.retire_device(s, code, current_user, expected_version=request.form.get("version"))
    s.commit()
    flash(_("Device %(code)s retired.", code=code), "success")
    return redirect(url_for(".device", code=code))


# ---------------------------------------------------------------- sites

@bp.route("/sites")
@roles_required(*READERS)
def sites():
    s = db_session()
    f = {k: request.args.get(k, "") for k in ("q", "district", "key_site")}
    try:
        page = inventory.list_sites(s, page=request.args.get("page"), per_page=request.args.get("per_page"), **f)
    except ValidationFailed as err:
        flash(err.message, "error")
        page = inventory.Page([], 0, 1, 50)
    return render_template("inventory/sites.html", page=page, f=f, districts=inventory.districts(s),
                           args=_pager_args())


@bp.route("/sites/<code>")
@roles_required(*READERS)
def site(code):
    site_, devices_ = inventory.site_detail(db_session(), code)
    return render_template("inventory/site.html", site=site_, devices=devices_)


def _site_form(obj=None) -> SiteForm:
    form = SiteForm(data=inventory.site_form_data(obj)) if obj is not None and request.method == "GET" else SiteForm()
    form.depot.choices = choices([("", "—")] + [(n, n) for n in inventory.depot_names(db_session())])
    form.district.choices = choices([("", "—")] + [(d, d) for d in inventory.districts(db_session())]
                                    + [(inventory.NEW_DISTRICT, _("New district…"))])
    return form


def _site_raw(form: SiteForm) -> dict:
    raw = {k: v for k, v in form.data.items() if k in inventory.SITE_FIELDS or k == "depot"}
    raw["key_site"] = "yes" if form.key_site.data else "no"
    raw["new_district"] = form.new_district.data or ""
    return raw


@bp.route("/sites/new", methods=["GET", "POST"])
@roles_required(*EDITORS)
def site_new():
    form = _site_form()
    if request.method == "POST" and form.validate():
        site_ = _save(form, lambda: inventory.save_site(db_session(), None, _site_raw(form), current_user,
                                                        new_code=form.code.data, district_from_list=True))
        if site_ is not None:
            flash(_("Site %(code)s created.", code=site_.code), "success")
            return redirect(url_for(".site", code=site_.code))
    return render_template("inventory/site_form.html", form=form, site=None,
                           new_district=inventory.NEW_DISTRICT), (422 if form.errors else 200)


@bp.route("/sites/<code>/edit", methods=["GET", "POST"])
@roles_required(*EDITORS)
def site_edit(code):
    s = db_session()
    site_ = inventory.get_site(s, code)
    form = _site_form(site_)
    if request.method == "POST" and form.validate():
        if _save(form, lambda: inventory.save_site(s, code, _site_raw(form), current_user,
                                                   expected_version=form.version.data,
                                                   district_from_list=True)) is not None:
            flash(_("Saved."), "success")
            return redirect(url_for(".site", code=code))
    return render_template("inventory/site_form.html", form=form, site=site_,
                           new_district=inventory.NEW_DISTRICT), (422 if form.errors else 200)


# ---------------------------------------------------------------- import and export

@bp.route("/inventory/import", methods=["GET", "POST"])
@roles_required(*EDITORS)
def import_page():
    """Upload → dry run showing every error → confirm (the file waits in the upload folder)."""
    if request.method == "GET":
        return render_template("inventory/import.html", result=None)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("Choose a CSV or XLSX file first."), "error")
        return redirect(url_for(".import_page"))
    data = upload.read()
    if import_jobs.is_large(data):  # checked in the background; the page shows its progress
        job = import_jobs.queue_check(db_session(), data, upload.filename, current_user,
                                      current_app.config["UPLOAD_DIR"])
        db_session().commit()
        return redirect(url_for(".import_job", job_id=job.id))
    result, token = uploads.check_upload(db_session(), data, upload.filename, current_user,
                                         current_app.config["UPLOAD_DIR"])
    return (render_template("inventory/import.html", result=result, token=token, filename=upload.filename),
            200 if result.ok else 422)


@bp.route("/inventory/import/confirm", methods=["POST"])
@roles_required(*EDITORS)
def import_confirm():
    token = request.form.get("token", "")
    filename = request.form.get("filename", "")[:200]
    result = uploads.confirm_upload(db_session(), token, filename, current_user, current_app.config["UPLOAD_DIR"])
    if result is None:
        flash(_("The uploaded file has expired; please upload it again."), "error")
        return redirect(url_for(".import_page"))
    if not result.ok:  # the inventory changed since the preview
        return render_template("inventory/import.html", result=result, token=None, filename=filename or token), 422
    flash(_("Imported: %(created)d created, %(updated)d updated, %(unchanged)d unchanged.",
            created=result.created, updated=result.updated, unchanged=result.unchanged), "success")
    return redirect(url_for(".devices"))


@bp.route("/inventory/import/jobs/<int:job_id>")
@roles_required(*EDITORS)
def import_job(job_id):
    """A large file's check or import: progress while it runs (the page reloads itself), then its result."""
    page = import_jobs.get_job(db_session(), job_id)
    if page is None:
        abort(404)
    return render_template("inventory/import_job.html", **page)


@bp.route("/inventory/import/jobs/<int:job_id>/confirm", methods=["POST"])
@roles_required(*EDITORS)
def import_job_confirm(job_id):
    job = import_jobs.queue_import(db_session(), job_id, current_user, current_app.config["UPLOAD_DIR"])
    if job is None:
        flash(_("The uploaded file has expired; please upload it again."), "error")
        return redirect(url_for(".import_page"))
    db_session().commit()
    return redirect(url_for(".import_job", job_id=job.id))


@bp.route("/inventory/export")
@roles_required(*EDITORS)
def export():
    fmt = request.args.get("format", "xlsx")
    if fmt not in ("xlsx", "csv"):
        abort(404)
    language = "en" if request.args.get("lang") == "en" else "zh"
    data = inventory.export_inventory(db_session(), fmt, language)
    mimetype = ("text/csv" if fmt == "csv"
                else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    return send_file(io.BytesIO(data), mimetype=mimetype, as_attachment=True,
                     download_name=f"fleetops-inventory.{fmt}")
