"""Administration pages: users, API tokens, contract parameters (admin only) and the audit log (supervisor and admin)."""
import json
import re
from urllib.parse import urlencode

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from fleetops.domain.choices import Role
from fleetops.domain.errors import FleetopsError, ValidationFailed
from fleetops.domain.text import Msg
from fleetops.platform import parameters
from fleetops.platform.i18n import render_stored, translate
from fleetops.services import accounts
from fleetops.web import current_locale, db_session, nav, roles_required
from fleetops.web.inventory import choices

bp = Blueprint("admin", __name__, url_prefix="/admin")

# This area's menu entries; fleetops.wiring adds them to the navigation bar.
NAV = [
    nav.NavItem.of("admin.audit_log", "Audit log", roles=("supervisor", "admin"), order=90),
    nav.NavItem.of("admin.users", "Administration", roles=("admin",), order=95),
]

class UserForm(FlaskForm):
    username = StringField("User name", validators=[DataRequired(), Length(max=80)])
    display_name = StringField("Display name", validators=[Length(max=100)])
    role = SelectField("Role")
    district = SelectField("District", default="")  # from the inventory's districts, never typed
    password = PasswordField("Password", validators=[Optional(), Length(min=8)])


def _district_choices(s):
    return [("", _("All districts"))] + [(d, d) for d in accounts.known_districts(s)]


class TokenForm(FlaskForm):
    username = SelectField("User")
    name = StringField("What the token is for", validators=[DataRequired(), Length(max=100)])


# ---------------------------------------------------------------- users

@bp.route("/users", methods=["GET", "POST"])
@roles_required()
def users():
    s = db_session()
    form = UserForm()
    form.role.choices = choices(Role.choices(current_locale()))
    form.district.choices = _district_choices(s)
    new_password = None
    if request.method == "POST" and form.validate():
        try:
            user, password = accounts.create_user(s, form.username.data, form.role.data, form.password.data or None,
                                                  display_name=form.display_name.data or "",
                                                  district=form.district.data or "", actor=current_user)
        except FleetopsError as err:
            s.rollback()
            flash(err.message, "error")
        else:
            s.commit()
            flash(_("User %(name)s created.", name=user.username), "success")
            if not form.password.data:
                new_password = password  # generated: shown once, on this response only
            form = UserForm(formdata=None)
            form.role.choices = choices(Role.choices(current_locale()))
            form.district.choices = _district_choices(s)
    return render_template("admin/users.html", form=form, rows=accounts.list_users(s), new_password=new_password,
                           role_label=lambda r: Role.label_of(r, current_locale()),
                           roles=Role.choices(current_locale()), districts=accounts.known_districts(s),
                           password_note=None)


@bp.route("/users/<int:user_id>", methods=["POST"])
@roles_required()
def edit_user(user_id):
    """Change a user's name, role, district, or disable the account (its sessions end at once)."""
    s = db_session()
    f = request.form
    user = accounts.update_user(s, user_id, display_name=f.get("display_name", ""), role=f.get("role", ""),
                                district=f.get("district", ""), active=f.get("active") == "1", actor=current_user)
    s.commit()
    flash(_("User %(name)s saved.", name=user.username), "success")
    return redirect(url_for(".users") + f"#user-{user.id}")


@bp.route("/users/<int:user_id>/reset-password", methods=["POST"])
@roles_required()
def reset_user_password(user_id):
    """A new random password for a user, shown once on this response; their sessions end."""
    s = db_session()
    user, password = accounts.reset_password(s, user_id, actor=current_user)
    s.commit()
    form = UserForm(formdata=None)
    form.role.choices = choices(Role.choices(current_locale()))
    form.district.choices = _district_choices(s)
    return render_template("admin/users.html", form=form, rows=accounts.list_users(s), new_password=password,
                           password_note=_("New password for %(name)s (shown once):", name=user.username),
                           role_label=lambda r: Role.label_of(r, current_locale()),
                           roles=Role.choices(current_locale()), districts=accounts.known_districts(s))


# ---------------------------------------------------------------- API tokens

@bp.route("/tokens", methods=["GET", "POST"])
@roles_required()
def tokens():
    s = db_session()
    form = TokenForm()
    form.username.choices = choices((u, u) for u in accounts.active_usernames(s))
    new_token = None
    if request.method == "POST" and form.validate():
        _row, new_token = accounts.create_token(s, form.username.data, form.name.data, actor=current_user)
        s.commit()
        flash(_("Token created. Copy it now: it is shown only once."), "success")
    return render_template("admin/tokens.html", form=form, rows=accounts.list_tokens(s), new_token=new_token)


@bp.route("/tokens/<int:token_id>/revoke", methods=["POST"])
@roles_required()
def revoke_token(token_id):
    s = db_session()
    accounts.revoke_token(s, token_id, actor=current_user)
    s.commit()
    flash(_("Token revoked."), "success")
    return redirect(url_for(".tokens"))


# ---------------------------------------------------------------- contract parameters

def parse_parameter(text: str):
    """A number, or any JSON value (list, object, string in quotes, true/false)."""
    t = (text or "").strip()
    if not t:
        raise ValidationFailed(Msg("A value is required."))
    try:
        return json.loads(t)
    except json.JSONDecodeError as err:
        raise ValidationFailed(Msg("Not a number or valid JSON: %(error)s at character %(column)s.", error=err.msg,
                                   column=err.colno)) from None


# Contract parameters in groups by area (issue 13 part 6): (group msgid, key prefixes / keys), first match wins.
PARAMETER_GROUPS = (
    (_l("Monitoring and online rate"), ("uptime_", "late_import_", "mains_", "alerts.probe_silent")),
    (_l("Tickets and deadlines"), ("ticket_", "photo_")),
    (_l("Contract and penalties"), ("contract_", "party_share", "penalty_")),
    (_l("Image quality"), ("quality_",)),
    (_l("Alerts"), ("alerts.",)),
    (_l("Reports"), ("report_",)),
    (_l("Networks the server may reach"), ("camera_networks", "alert_networks")),
)


def parameter_kind(value) -> str:
    """How a value is edited: a switch, a whole number, a number, a date, a line of text, one item per line, JSON."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "lines"
    if isinstance(value, str):
        return "text"
    return "json"


def parse_parameter_field(kind: str, raw: str | None, label: str):
    """The submitted text of one parameter as its type; a ValidationFailed naming the parameter otherwise."""
    text = (raw or "").strip()
    if kind == "bool":
        return text in ("1", "on", "true", "yes")
    if kind in ("int", "float"):
        try:
            value = float(text) if kind == "float" else int(text)
        except ValueError:
            raise ValidationFailed(Msg("%(field)s: enter a number.", field=label) if kind == "float" else
                                   Msg("%(field)s: enter a whole number.", field=label)) from None
        if value != value or value in (float("inf"), float("-inf")):
            raise ValidationFailed(Msg("%(field)s: enter a number.", field=label))
        return value
    if kind == "lines":
        return [line.strip() for line in text.splitlines() if line.strip()]
    if kind == "text":
        return text
    try:
        return parse_parameter(text)
    except ValidationFailed as err:
        raise ValidationFailed(Msg("%(field)s: %(error)s", field=label, error=err.msg)) from None


def _parameter_label(p) -> str:
    return REQUIREMENT_IDS.sub("", translate(p["description"], current_locale())) or p["key"]


def _grouped_parameters(rows) -> list[dict]:
    groups = [{"label": str(label), "prefixes": prefixes, "rows": []} for label, prefixes in PARAMETER_GROUPS]
    other = {"label": _("Other"), "prefixes": (), "rows": []}
    for p in rows:
        target = next((g for g in groups if p["key"].startswith(g["prefixes"])), other)
        target["rows"].append(p)
    return [g for g in [*groups, other] if g["rows"]]


@bp.route("/parameters", methods=["GET", "POST"])
@roles_required()
def parameters_page():
    """Contract parameters grouped by area, each described in the reader's language and edited by its type."""
    s = db_session()
    if request.method == "POST":
        key = request.form.get("key", "")
        known = {p["key"]: p for p in parameters.all_parameters(s)}
        if key not in known:
            flash(_("Unknown parameter."), "error")
            return redirect(url_for(".parameters_page"))
        old = known[key]["value"]
        try:
            value = parse_parameter_field(parameter_kind(old), request.form.get("value"), _parameter_label(known[key]))
        except ValidationFailed as err:
            flash(err.message, "error")
        else:
            if value != old:
                parameters.set_value(s, key, value, current_user)
                s.commit()
            flash(_("Parameter “%(name)s” saved.", name=_parameter_label(known[key])), "success")
        return redirect(url_for(".parameters_page") + f"#p-{key}")
    # Descriptions are msgids (a row stored by an older version may hold free text: shown as it is).
    # The contract ids in a description ("T9: …") are for the code's readers, not for the page.
    rows = [{**p, "description": _parameter_label(p), "kind": parameter_kind(p["value"])}
            for p in parameters.all_parameters(s)]
    return render_template("admin/parameters.html", groups=_grouped_parameters(rows),
                           as_json=lambda v: json.dumps(v, ensure_ascii=False, indent=1))


REQUIREMENT_IDS = re.compile(r"^(?:[A-Z][0-9]+(?:[/, ]+[A-Z][0-9]+)*)\s*[:：]\s*")


# ---------------------------------------------------------------- audit log

@bp.app_context_processor
def _audit_helpers():
    """audit_action_label(code): an audit row's action in the reader's language, on any page that shows audit rows."""
    from fleetops.domain import audit_actions
    from fleetops.domain import tickets as ticket_rules
    from fleetops.services.spares import MOVEMENT_LABELS

    labels = {**ticket_rules.ACTION_LABELS, **ticket_rules.EVENT_LABELS}
    return {"audit_action_label": lambda code: audit_actions.action_msg(code or "", labels, MOVEMENT_LABELS).render(),
            "audit_entity_label": lambda kind: str(audit_actions.entity_msg(kind or "")),
            "actor_label": lambda name: str(audit_actions.actor_text(name))}


@bp.route("/audit")
@roles_required("supervisor")
def audit_log():
    f = {k: request.args.get(k, "").strip() for k in accounts.AUDIT_FILTERS}
    result = accounts.audit_page(db_session(), f, request.args.get("page"))
    args = {k: v for k, v in f.items() if v}
    return render_template("admin/audit.html", rows=result.rows, f=f, page=result.page, pages=result.pages,
                           total=result.total, entity_types=result.entity_types, actors=result.actors,
                           args=lambda p: urlencode({**args, "page": p}), entity_url=_entity_url,
                           summary_text=lambda v: render_stored(v, current_locale()), audit_value=audit_value)


def audit_value(value) -> str:
    """A before/after value in the reader's language (issue 13): a stored Msg or a catalogue msgid (a preset
    inspection plan's name) translated, a checklist (a list of items with a label) as its translated labels and
    limits, never a Python repr; free text as typed."""
    if value is None:
        return "∅"
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, str):
        rendered = render_stored(value, current_locale())
        return Msg(rendered).render() if rendered == value else rendered
    if isinstance(value, list):
        return "；".join(audit_value(v) for v in value)
    if isinstance(value, dict):
        if "label" in value:
            text = audit_value(value["label"])
            low, high = value.get("min"), value.get("max")
            if low is not None or high is not None:
                text += f"（{_number(low)}–{_number(high)} {value.get('unit') or ''}）"
            return text.replace(" ）", "）")
        return "；".join(f"{k}: {audit_value(v)}" for k, v in value.items())
    return str(value)


def _number(x) -> str:
    return "" if x is None else f"{x:g}" if isinstance(x, (int, float)) else str(x)


def _entity_url(entry) -> str | None:
    if entry.entity_type == "device" and entry.entity_id:
        return url_for("inventory.device", code=entry.entity_id)
    if entry.entity_type == "site" and entry.entity_id:
        return url_for("inventory.site", code=entry.entity_id)
    return None
