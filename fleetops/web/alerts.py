"""Alert pages: open alerts with an acknowledge button, one alert's deliveries, the delivery log, channel settings
(admin; secrets write-only), routing rules, and each person's e-mail preferences."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from fleetops.domain.alerts import DeliveryState
from fleetops.domain.choices import DeviceKind
from fleetops.domain.text import Msg, N_
from fleetops.services import accounts, alerts
from fleetops.web import db_session, nav, roles_required

bp = Blueprint("alerts", __name__, url_prefix="/alerts")

# This area's menu entries; fleetops.wiring adds them to the navigation bar.
NAV = [
    nav.NavItem.of("alerts.index", "Alerts", roles=("crew", "supervisor"), order=35),
    nav.NavItem.of("alerts.channels", "Alert channels", roles=(), order=85),
]

# A channel setting's label (msgctxt "ChannelField": "Host", "Port" … mean these here).
FIELD_LABELS = {
    "host": N_("Host"), "port": N_("Port"), "starttls": N_("STARTTLS"), "username": N_("User name"),
    "from_addr": N_("From"), "to_addrs": N_("To (comma-separated)"), "ca_file": N_("CA file"),
    "timeout_s": N_("Timeout (s)"), "url": N_("URL"), "base_url": N_("Endpoint"), "topic": N_("Topic"),
    "qos": N_("QoS"), "password": N_("Password"), "token": N_("Bearer token"), "access_token": N_("access_token"),
    "secret": N_("Signing secret"), "key": N_("key"),
}


def _loc() -> str:
    from fleetops.web import current_locale

    return current_locale()


def _field_label(field: str) -> str:
    return Msg(FIELD_LABELS[field], context="ChannelField").render(_loc()) if field in FIELD_LABELS else field


@bp.app_context_processor
def _helpers():
    return {"channel_field_label": _field_label}


@bp.route("/")
@login_required
def index():
    show = request.args.get("show", "open")
    states = ("resolved",) if show == "resolved" else ("open", "acknowledged")
    rows = alerts.visible_alerts(db_session(), current_user, states=states)
    return render_template("alerts/index.html", alerts=rows, show=show)


@bp.route("/<int:alert_id>")
@login_required
def detail(alert_id):
    page = alerts.alert_page(db_session(), current_user, alert_id)
    if page is None:
        abort(404)
    return render_template("alerts/detail.html", **page)


@bp.route("/<int:alert_id>/ack", methods=["POST"])
@login_required
def acknowledge(alert_id):
    s = db_session()
    alerts.acknowledge(s, alert_id, current_user)
    s.commit()
    flash(_("Alert acknowledged: repeats and escalations stop."), "success")
    return redirect(request.form.get("next") or url_for("alerts.index"))


@bp.route("/<int:alert_id>/resolve", methods=["POST"])
@roles_required("supervisor")
def resolve(alert_id):
    s = db_session()
    alerts.resolve_by_hand(s, alert_id, current_user)
    s.commit()
    flash(_("Alert closed."), "success")
    return redirect(url_for("alerts.index"))


@bp.route("/deliveries")
@roles_required("supervisor")
def deliveries():
    state = request.args.get("state", "")
    rows, attempts = alerts.delivery_log_with_attempts(
        db_session(), state=state if state in DeliveryState._value2member_map_ else "")
    return render_template("alerts/deliveries.html", deliveries=rows, state=state, attempts=attempts)


@bp.route("/deliveries/<int:delivery_id>/retry", methods=["POST"])
@roles_required("supervisor")
def retry_delivery(delivery_id):
    s = db_session()
    alerts.retry_delivery(s, delivery_id, current_user)
    s.commit()
    flash(_("The message is back in the outbox."), "success")
    return redirect(url_for("alerts.deliveries"))


@bp.route("/channels")
@roles_required()
def channels():
    s = db_session()
    return render_template("alerts/channels.html", channels=alerts.channel_views(s), routes=alerts.routes(s),
                           kinds=alerts.CHANNEL_KINDS, severities=alerts.SEVERITIES,
                           device_kinds=DeviceKind.choices(_loc()), districts=accounts.known_districts(s))


@bp.route("/channels/new", methods=["GET", "POST"])
@bp.route("/channels/<int:channel_id>/edit", methods=["GET", "POST"])
@roles_required()
def channel_form(channel_id=None):
    s = db_session()
    channel = alerts.channel(s, channel_id) if channel_id else None
    if channel_id and (channel is None or channel.deleted_at is not None):
        abort(404)
    kind = request.values.get("kind") or (channel.kind if channel else "webhook")
    if kind not in alerts.CHANNEL_KINDS:
        abort(404)
    if request.method == "POST":
        settings = {k: request.form.get(k, "") for k in alerts.PLAIN_FIELDS[kind]}
        if "starttls" in alerts.PLAIN_FIELDS[kind]:
            settings["starttls"] = bool(request.form.get("starttls"))
        secrets = {k: request.form.get(k, "") for k in alerts.SECRET_FIELDS[kind]}
        saved = alerts.save_channel(s, current_user, name=request.form.get("name", ""), kind=kind,
                                    settings=settings, secrets=secrets, enabled=bool(request.form.get("enabled")),
                                    channel_id=channel_id)
        s.commit()
        flash(_("Channel saved."), "success")
        return redirect(url_for("alerts.channels", _anchor=f"channel-{saved.id}"))
    view = alerts.channel_view(channel) if channel else {
        "name": "", "kind": kind, "enabled": True, "settings": dict(alerts.CHANNEL_DEFAULTS[kind]),
        "secrets_set": {k: False for k in alerts.SECRET_FIELDS[kind]}}
    return render_template("alerts/channel_form.html", channel=view, channel_id=channel_id, kind=kind,
                           kinds=alerts.CHANNEL_KINDS, plain=alerts.PLAIN_FIELDS[kind],
                           secret=alerts.SECRET_FIELDS[kind])


@bp.route("/channels/<int:channel_id>/test", methods=["POST"])
@roles_required()
def channel_test(channel_id):
    answer = alerts.send_test_message(db_session(), channel_id, current_user)
    flash(_("Test message sent: %(answer)s", answer=answer), "success")
    return redirect(url_for("alerts.channels"))


@bp.route("/channels/<int:channel_id>/delete", methods=["POST"])
@roles_required()
def channel_delete(channel_id):
    """Soft delete: gone from the lists, sends nothing; its delivery history is kept."""
    s = db_session()
    alerts.delete_channel(s, current_user, channel_id)
    s.commit()
    flash(_("Channel deleted. Its delivery history is kept."), "success")
    return redirect(url_for("alerts.channels"))


@bp.route("/routes", methods=["POST"])
@roles_required()
def add_route():
    s = db_session()
    try:
        channel_id = int(request.form.get("channel_id", ""))
    except ValueError:
        flash(_("Choose a channel."), "error")
        return redirect(url_for("alerts.channels"))
    alerts.save_route(s, current_user, channel_id=channel_id, district=request.form.get("district", ""),
                      device_kind=request.form.get("device_kind", ""),
                      min_severity=request.form.get("min_severity", "info"), role=request.form.get("role", ""))
    s.commit()
    flash(_("Routing rule added."), "success")
    return redirect(url_for("alerts.channels"))


@bp.route("/routes/<int:route_id>/delete", methods=["POST"])
@roles_required()
def delete_route(route_id):
    s = db_session()
    alerts.delete_route(s, current_user, route_id)
    s.commit()
    flash(_("Routing rule deleted."), "success")
    return redirect(url_for("alerts.channels"))


@bp.route("/preferences", methods=["GET", "POST"])
@login_required
def preferences():
    s = db_session()
    if request.method == "POST":
        alerts.save_preference(s, current_user, email_enabled=bool(request.form.get("email_enabled")),
                               min_severity=request.form.get("min_severity", "warning"))
        s.commit()
        flash(_("Preferences saved."), "success")
        return redirect(url_for("alerts.preferences"))
    return render_template("alerts/preferences.html", pref=alerts.preference_of(s, current_user),
                           severities=alerts.SEVERITIES)
