"""Raising, deduplicating, resolving, acknowledging alerts (A1); the area's contract numbers.

At most one unresolved alert per key (`open_key` is unique); a second occurrence counts instead. A new alert goes
to the outbox unless it is quiet (cause known) or folded into a site blackout (U5)."""
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fleetops.domain.errors import NotFound, PermissionDenied, ValidationFailed
from fleetops.domain.text import Msg, stored
from fleetops.models import Device, Site, User
from fleetops.models.alerts import Alert, AlertDelivery
from fleetops.models.base import utcnow
from fleetops.platform import audit, events
from fleetops.services.alerts.messages import stored_title
from fleetops.services.alerts.queries import can_see
from fleetops.services.alerts.routing import enqueue

# Contract numbers this area reads (key → default, description); registered by fleetops.wiring.
# (The U7 no-data and silent-agent numbers live in services/monitoring/detectors.py, the certificate
# window in services/inventory/certificates.py; their keys keep the "alerts." prefix already stored.)
PARAMETERS = {
    "alerts.repeat_interval_min": (30,
        "A1: repeat an unacknowledged alert every N minutes"),
    "alerts.max_repeats": (6,
        "A1: stop repeating after N repeats"),
    "alerts.escalate_after_min": (60,
        "A1: escalate an unacknowledged critical alert to supervisors after N minutes"),
    "alerts.group_hold_s": (90,
        "U5: hold a device-down message N seconds so a site blackout can absorb it"),
    "alerts.quiet_causes": (["power_utility", "network_provider", "planned_work"],
        "A1: outage causes that make an alert quiet (no repeats, no escalation)"),
}


def get_open(session: Session, key: str) -> Alert | None:
    return session.scalar(select(Alert).where(Alert.open_key == key))


def raise_alert(session: Session, key: str, kind: str, severity: str, title, body="", *,
                device: Device | None = None, site: Site | None = None, audience=("crew", "supervisor"),
                source_type: str = "", source_id="", now: datetime | None = None, quiet_reason="",
                group: Alert | None = None, hold_s: int = 0, district: str | None = None) -> tuple[Alert, bool]:
    """Open an alert for `key`, or count one more occurrence of the open one (A1: dedup). Returns (alert, new).
    `title`, `body` and `quiet_reason` are `Msg` values (kept in their stored form) or plain text."""
    now = now or utcnow()
    existing = get_open(session, key)
    if existing is not None:
        existing.occurrences += 1
        return existing, False
    if site is None and device is not None:
        site = device.site
    alert = Alert(key=key, open_key=key, kind=kind, severity=severity, state="open", title=stored_title(title),
                  body=stored(body), device_id=device.id if device else None, site_id=site.id if site else None,
                  district=district if district is not None else ((site.district if site else "") or ""),
                  device_kind=device.kind if device else "",
                  audience=list(audience), source_type=source_type, source_id=str(source_id or ""),
                  quiet_reason=stored(quiet_reason), group_id=group.id if group else None, opened_at=now,
                  occurrences=1, notify_count=0)
    try:
        with session.begin_nested():  # another process may raise the same incident at the same moment
            session.add(alert)
    except IntegrityError:
        existing = get_open(session, key)
        if existing is None:
            raise
        existing.occurrences += 1
        return existing, False
    if not quiet_reason and group is None:
        enqueue(session, alert, "opened", now=now, due=now + timedelta(seconds=hold_s))
    events.emit(session, "alert_raised", alert_id=alert.id, key=key, kind=kind)
    return alert, True


def resolve(session: Session, alert: Alert, now: datetime | None = None, notify: bool = True, actor=None) -> None:
    """Close an alert; A1: the recovery is ALWAYS sent (even when the alert was quiet), unless superseded."""
    if alert.state == "resolved":
        return
    now = now or utcnow()
    alert.state, alert.open_key, alert.resolved_at = "resolved", None, now
    # Children of a grouped site alert recover with it, silently.
    for child in session.scalars(select(Alert).where(Alert.group_id == alert.id, Alert.open_key.is_not(None))):
        resolve(session, child, now, notify=False)
    if notify and alert.group_id is None:
        enqueue(session, alert, "resolved", now=now)
    if actor is not None:
        audit.record(session, actor, "alert_resolved", "alert", alert.id, summary=_summary(alert))
    events.emit(session, "alert_resolved", alert_id=alert.id, key=alert.key, kind=alert.kind)


def resolve_key(session: Session, key: str, now: datetime | None = None, notify: bool = True) -> bool:
    """Resolve the open alert of `key`, if there is one; True when one was resolved."""
    alert = get_open(session, key)
    if alert is None:
        return False
    resolve(session, alert, now, notify=notify)
    return True


def cancel_unsent(session: Session, alert: Alert, reason) -> int:
    """Withdraw messages never attempted (a grouped or quietened alert); the ones already tried stay."""
    rows = session.scalars(select(AlertDelivery).where(
        AlertDelivery.alert_id == alert.id, AlertDelivery.state == "pending", AlertDelivery.attempts == 0,
        AlertDelivery.purpose != "resolved")).all()
    for d in rows:
        d.state, d.last_error = "cancelled", stored(reason)
    return len(rows)


def link_ticket(session: Session, alert_id: int, ticket_id: int | None) -> None:
    """Remember the ticket opened for the fault an alert is about (shown on the alert page)."""
    alert = session.get(Alert, alert_id)
    if alert is not None:
        alert.ticket_id = ticket_id


def acknowledge(session: Session, alert_id: int, user: User, now: datetime | None = None) -> Alert:
    """A person takes the alert: repeats and escalations stop. A crew may only take alerts of its district."""
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFound(Msg("Alert not found."))
    if not can_see(user, alert):
        raise PermissionDenied(Msg("This alert is outside your district."))
    if alert.state != "open":
        raise ValidationFailed(Msg("The alert is already acknowledged or resolved."))
    alert.state, alert.acknowledged_at, alert.acknowledged_by_id = "acknowledged", now or utcnow(), user.id
    audit.record(session, user, "alert_acknowledged", "alert", alert.id, summary=_summary(alert))
    return alert


def resolve_by_hand(session: Session, alert_id: int, user: User, now: datetime | None = None) -> Alert:
    """For alerts without a recovery event (a reboot, low stock): a supervisor closes them."""
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFound(Msg("Alert not found."))
    if user.role not in ("supervisor", "admin"):
        raise PermissionDenied(Msg("Only supervisors can close alerts."))
    resolve(session, alert, now, notify=True, actor=user)
    return alert


def _summary(alert: Alert):
    return Msg.from_stored(alert.title) or alert.title
