"""Channels, routing rules and each person's notification preference: data edited in the UI, every change
audited. Channel secrets are write-only: a blank secret keeps the stored one; they are never shown."""
from sqlalchemy import select
from sqlalchemy.orm import Session

from fleetops.domain.alerts import SEVERITIES
from fleetops.domain.choices import DeviceKind
from fleetops.domain.errors import NotFound, ValidationFailed
from fleetops.domain.text import Msg
from fleetops.models import User
from fleetops.models.alerts import AlertChannel, AlertRoute, NotificationPreference
from fleetops.platform import audit
from fleetops.services.alerts.channels import (
    CHANNEL_DEFAULTS, CHANNEL_KINDS, INT_FIELDS, PLAIN_FIELDS, REQUIRED_FIELDS, REQUIRED_SECRETS, SECRET_FIELDS,
    as_list,
)


def save_channel(session: Session, actor, *, name: str, kind: str, settings: dict, secrets: dict | None = None,
                 enabled: bool = True, channel_id: int | None = None) -> AlertChannel:
    """Create or update a channel. A blank secret keeps the stored one (write-only fields). Audited."""
    name = (name or "").strip()
    if kind not in CHANNEL_KINDS:
        raise ValidationFailed(Msg("Unknown channel kind %(kind)s", kind=repr(kind)))
    if not name:
        raise ValidationFailed(Msg("A channel name is required."))
    clean = {}
    for key in PLAIN_FIELDS[kind]:
        value = (settings or {}).get(key)
        if isinstance(value, str):
            value = value.strip()
        if value in (None, ""):
            continue
        if key in INT_FIELDS:
            try:
                value = int(value)
            except (TypeError, ValueError):
                raise ValidationFailed(Msg("%(key)s must be a whole number.", key=key)) from None
        if key == "starttls":
            value = value in (True, "1", "true", "on", "yes", 1)
        if key == "to_addrs":
            value = as_list(value)
        clean[key] = value
    missing = [k for k in REQUIRED_FIELDS[kind] if k not in clean and k not in CHANNEL_DEFAULTS[kind]]
    if missing:
        raise ValidationFailed(Msg("Missing settings: %(keys)s.", keys=", ".join(missing)))
    for key in ("url", "base_url"):
        if key in clean and not str(clean[key]).startswith(("http://", "https://")):
            raise ValidationFailed(Msg("%(key)s must start with http(s)://.", key=key))
    same_name = select(AlertChannel.id).where(AlertChannel.name == name)
    if channel_id is not None:
        same_name = same_name.where(AlertChannel.id != channel_id)
    if session.scalar(same_name):
        raise ValidationFailed(Msg("A channel named %(name)s already exists.", name=name))
    if channel_id is not None:
        channel = session.get(AlertChannel, channel_id)
        if channel is None:
            raise NotFound(Msg("Channel not found."))
        before = {"name": channel.name, "kind": channel.kind, "enabled": channel.enabled, **channel.settings}
    else:
        channel = AlertChannel(name=name, kind=kind, settings={}, secrets={})
        session.add(channel)
        before = None
    stored = dict(channel.secrets or {}) if channel.kind == kind else {}
    for key in SECRET_FIELDS[kind]:
        value = (secrets or {}).get(key)
        if value:  # blank = keep what is stored
            stored[key] = str(value).strip()
    missing = [k for k in REQUIRED_SECRETS.get(kind, ()) if not stored.get(k)]
    if missing:
        raise ValidationFailed(Msg("Missing secret: %(keys)s.", keys=", ".join(missing)))
    channel.name, channel.kind, channel.enabled = name, kind, bool(enabled)
    channel.settings, channel.secrets = clean, stored
    session.flush()
    audit.record(session, actor, "alert_channel_saved", "alert_channel", channel.id, summary=f"{name} ({kind})",
                 before=before, after={"name": name, "kind": kind, "enabled": channel.enabled, **clean})
    return channel


def save_route(session: Session, actor, *, channel_id: int, district: str = "", device_kind: str = "",
               min_severity: str = "info", role: str = "", enabled: bool = True) -> AlertRoute:
    if session.get(AlertChannel, channel_id) is None:
        raise ValidationFailed(Msg("Choose a channel."))
    if min_severity not in SEVERITIES:
        raise ValidationFailed(Msg("Unknown severity %(value)s.", value=repr(min_severity)))
    if role not in ("", "crew", "supervisor"):
        raise ValidationFailed(Msg("Unknown role %(value)s.", value=repr(role)))
    if device_kind:
        try:
            device_kind = DeviceKind.parse(device_kind).value
        except ValueError:
            raise ValidationFailed(Msg("Unknown device kind %(value)s.", context="alert route",
                                       value=repr(device_kind))) from None
    route = AlertRoute(channel_id=channel_id, district=(district or "").strip(), device_kind=device_kind,
                       min_severity=min_severity, role=role, enabled=enabled)
    session.add(route)
    session.flush()
    audit.record(session, actor, "alert_route_added", "alert_route", route.id,
                 after={"channel_id": channel_id, "district": route.district, "device_kind": device_kind,
                        "min_severity": min_severity, "role": role})
    return route


def delete_route(session: Session, actor, route_id: int) -> None:
    route = session.get(AlertRoute, route_id)
    if route is None:
        raise NotFound(Msg("Routing rule not found."))
    audit.record(session, actor, "alert_route_deleted", "alert_route", route.id,
                 before={"channel_id": route.channel_id, "district": route.district, "role": route.role})
    session.delete(route)


def save_preference(session: Session, user: User, *, email_enabled: bool, min_severity: str) -> NotificationPreference:
    """A person's own choice: alert e-mail on or off, and from which severity."""
    if min_severity not in SEVERITIES:
        raise ValidationFailed(Msg("Unknown severity %(value)s.", value=repr(min_severity)))
    pref = session.scalar(select(NotificationPreference).where(NotificationPreference.user_id == user.id))
    if pref is None:
        pref = NotificationPreference(user_id=user.id)
        session.add(pref)
    pref.email_enabled, pref.min_severity = bool(email_enabled), min_severity
    audit.record(session, user, "notification_preference_saved", "user", user.id,
                 after={"email_enabled": pref.email_enabled, "min_severity": min_severity})
    return pref


def preference_of(session: Session, user: User) -> NotificationPreference:
    pref = session.scalar(select(NotificationPreference).where(NotificationPreference.user_id == user.id))
    return pref or NotificationPreference(user_id=user.id, email_enabled=True, min_severity="warning")


def add_channel(session: Session, actor, *, name: str, kind: str, settings: dict, secrets: dict | None = None,
                catch_all_route: bool = True) -> int:
    """A new channel and, optionally, a rule sending every alert to it (the CLI's one step). Returns its id."""
    channel = save_channel(session, actor, name=name, kind=kind, settings=settings, secrets=secrets)
    if catch_all_route:
        save_route(session, actor, channel_id=channel.id)
    return channel.id


def delete_channel(session: Session, actor, channel_id: int) -> AlertChannel:
    """Soft delete: the channel leaves the lists and sends nothing more (disabled, its routing rules off), its
    deliveries stay as history. The name is freed for a new channel (the old one keeps "#id"). Audited (A3)."""
    from fleetops.models.base import utcnow

    channel = session.get(AlertChannel, channel_id)
    if channel is None or channel.deleted_at is not None:
        raise NotFound(Msg("Channel not found."))
    name = channel.name
    channel.deleted_at, channel.enabled = utcnow(), False
    channel.name = f"{name[:90]} #{channel.id}"
    for route in session.scalars(select(AlertRoute).where(AlertRoute.channel_id == channel.id)):
        route.enabled = False
    session.flush()
    audit.record(session, actor, "alert_channel_deleted", "alert_channel", channel.id, summary=name,
                 before={"name": name, "kind": channel.kind}, after={"deleted": True})
    return channel
