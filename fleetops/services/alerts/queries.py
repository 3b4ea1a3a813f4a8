"""Reads for the pages, the API and the CLI: who may see which alert, lists, one alert's messages, the delivery
log with its attempts, channels and routes, and the JSON shapes of an alert and a delivery."""
from sqlalchemy import select
from sqlalchemy.orm import Session

from fleetops.domain.text import render_stored
from fleetops.models import User
from fleetops.models.alerts import Alert, AlertChannel, AlertDelivery, AlertDeliveryAttempt, AlertRoute


def can_see(user: User, alert: Alert) -> bool:
    if user.role != "crew" or not user.district:
        return True
    return alert.district in ("", user.district) and "crew" in (alert.audience or ["crew"])


def visible_alerts(session: Session, user: User, states=("open", "acknowledged"), limit: int = 200) -> list[Alert]:
    q = select(Alert).where(Alert.state.in_(states), Alert.group_id.is_(None))
    if user.role == "crew" and user.district:
        q = q.where(Alert.district.in_(["", user.district]))
    rows = session.scalars(q.order_by(Alert.opened_at.desc()).limit(limit)).all()
    return [a for a in rows if can_see(user, a)]


def visible_alert(session: Session, user: User, alert_id: int) -> Alert | None:
    """The alert if it exists and `user` may see it (else None: the page answers 404)."""
    alert = session.get(Alert, alert_id)
    return alert if alert is not None and can_see(user, alert) else None


def alert_page(session: Session, user: User, alert_id: int) -> dict | None:
    """One alert with its messages, their attempts, and the device alerts folded into it (None: not visible)."""
    alert = visible_alert(session, user, alert_id)
    if alert is None:
        return None
    deliveries = list(session.scalars(select(AlertDelivery).where(AlertDelivery.alert_id == alert.id)
                                      .order_by(AlertDelivery.id)))
    grouped = list(session.scalars(select(Alert).where(Alert.group_id == alert.id).order_by(Alert.id)))
    return {"alert": alert, "deliveries": deliveries, "grouped": grouped,
            "attempts": attempts_of(session, [d.id for d in deliveries])}


def latest_alerts(session: Session, include_resolved: bool = False, limit: int = 500) -> list[Alert]:
    q = select(Alert).order_by(Alert.opened_at.desc()).limit(limit)
    if not include_resolved:
        q = q.where(Alert.open_key.is_not(None))
    return list(session.scalars(q))


def delivery_log(session: Session, limit: int = 200, state: str = "") -> list[AlertDelivery]:
    q = select(AlertDelivery).order_by(AlertDelivery.id.desc()).limit(limit)
    if state:
        q = q.where(AlertDelivery.state == state)
    return list(session.scalars(q))


def attempts_of(session: Session, delivery_ids: list[int]) -> dict[int, list[AlertDeliveryAttempt]]:
    out: dict[int, list[AlertDeliveryAttempt]] = {}
    for a in session.scalars(select(AlertDeliveryAttempt).where(AlertDeliveryAttempt.delivery_id.in_(
            delivery_ids or [0])).order_by(AlertDeliveryAttempt.id)):
        out.setdefault(a.delivery_id, []).append(a)
    return out


def delivery_log_with_attempts(session: Session, limit: int = 200, state: str = "") -> tuple[list, dict]:
    rows = delivery_log(session, limit=limit, state=state)
    return rows, attempts_of(session, [d.id for d in rows])


def channels(session: Session) -> list[AlertChannel]:
    return list(session.scalars(select(AlertChannel).where(AlertChannel.deleted_at.is_(None))
                                .order_by(AlertChannel.name)))


def channel(session: Session, channel_id: int) -> AlertChannel | None:
    return session.get(AlertChannel, channel_id)


def routes(session: Session) -> list[AlertRoute]:
    return list(session.scalars(select(AlertRoute).join(AlertChannel, AlertChannel.id == AlertRoute.channel_id)
                                .where(AlertChannel.deleted_at.is_(None))
                                .order_by(AlertRoute.channel_id, AlertRoute.id)))


def channel_view(channel: AlertChannel) -> dict:
    """What may be shown of a channel: settings, and for each secret only whether it is set."""
    from fleetops.services.alerts.channels import SECRET_FIELDS

    return {"id": channel.id, "name": channel.name, "kind": channel.kind, "enabled": channel.enabled,
            "settings": dict(channel.settings or {}),
            "secrets_set": {k: bool((channel.secrets or {}).get(k)) for k in SECRET_FIELDS.get(channel.kind, ())}}


def channel_views(session: Session) -> list[dict]:
    return [channel_view(c) for c in channels(session)]


def alert_dict(alert: Alert, locale: str | None = None) -> dict:
    """An alert as JSON; title, body and quiet reason in `locale` (default: the reader's, Chinese)."""
    return {"id": alert.id, "key": alert.key, "kind": alert.kind, "severity": alert.severity, "state": alert.state,
            "title": render_stored(alert.title, locale), "body": render_stored(alert.body, locale),
            "district": alert.district,
            "site": alert.site.code if alert.site is not None else None,
            "device": alert.device.code if alert.device is not None else None,
            "quiet_reason": render_stored(alert.quiet_reason, locale), "cause": alert.cause,
            "occurrences": alert.occurrences, "escalated": alert.escalated, "ticket_id": alert.ticket_id,
            "opened_at": alert.opened_at.isoformat(),
            "acknowledged_at": alert.acknowledged_at.isoformat() if alert.acknowledged_at else None,
            "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None}


def delivery_dict(d: AlertDelivery, attempts: list[AlertDeliveryAttempt], locale: str | None = None) -> dict:
    return {"id": d.id, "alert_id": d.alert_id, "channel": d.channel.name, "purpose": d.purpose, "state": d.state,
            "attempts": d.attempts, "next_attempt_at": d.next_attempt_at.isoformat(),
            "last_error": render_stored(d.last_error, locale),
            "delivered_at": d.delivered_at.isoformat() if d.delivered_at else None,
            "log": [{"at": a.at.isoformat(), "ok": a.ok, "duration_ms": a.duration_ms,
                     "result": render_stored(a.result, locale)} for a in attempts]}


def delivery_dicts(session: Session, limit: int = 200, state: str = "", locale: str | None = None) -> list[dict]:
    rows, tries = delivery_log_with_attempts(session, limit=limit, state=state)
    return [delivery_dict(d, tries.get(d.id, []), locale) for d in rows]
