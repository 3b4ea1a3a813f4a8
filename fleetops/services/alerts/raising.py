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
from fleetops.services.alerts.routing import Routes, enqueue

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
                group: Alert | None = None, hold_s: int = 0, district: str | None = None,
                ticket_id: int | None = None) -> tuple[Alert, bool]:
    """Open an alert for `key`, or count one more occurrence of the open one (A1: dedup). Returns (alert, new).
    `title`, `body` and `quiet_reason` are `Msg` values (kept in their stored form) or plain text; `ticket_id`: the
    ticket a new alert is about (link_ticket)."""
    now = now or utcnow()
    existing = get_open(session, key)
    if existing is not None:
        existing.occurrences += 1
        return existing, False
    alert = _new_alert(key, kind, severity, title, body, device=device, site=site, audience=audience,
                       source_type=source_type, source_id=source_id, now=now, quiet_reason=quiet_reason, group=group,
                       district=district, ticket_id=ticket_id)
    try:
        with session.begin_nested():  # another process may raise the same incident at the same moment
            session.add(alert)
    except IntegrityError:
        existing = get_open(session, key)
        if existing is None:
            raise
        existing.occurrences += 1
        return existing, False
    _announce(session, alert, now, quiet_reason, group, hold_s)
    return alert, True


def raise_alerts(session: Session, specs: list[dict], routes: Routes | None = None) -> list[tuple[Alert, bool]]:
    """raise_alert for many keys at once (a blackout's site alerts, issue 14): each spec holds raise_alert's
    arguments by name. The open alerts of the keys are read in one query and the new alerts inserted together
    (one savepoint); their messages are queued with the routes read once (`routes`) and written with the caller's
    next flush. Same outcome as raising them one by one, in order; when another process raised one of the keys
    meanwhile, or a key repeats, they are raised one by one instead."""
    keys = [spec["key"] for spec in specs]
    if len(set(keys)) < len(keys):
        return [raise_alert(session, **spec) for spec in specs]
    is_open: dict[str, Alert] = {}
    for i in range(0, len(keys), 500):
        for a in session.scalars(select(Alert).where(Alert.open_key.in_(keys[i:i + 500]))):
            is_open[a.open_key] = a
    out: list[tuple[Alert, bool] | None] = []
    new: list[tuple[int, Alert, dict]] = []
    for spec in specs:
        existing = is_open.get(spec["key"])
        if existing is not None:
            existing.occurrences += 1
            out.append((existing, False))
            continue
        spec = {**spec, "now": spec.get("now") or utcnow()}
        args = {k: v for k, v in spec.items() if k not in ("key", "kind", "severity", "title", "body", "hold_s")}
        alert = _new_alert(spec["key"], spec["kind"], spec["severity"], spec["title"], spec.get("body", ""), **args)
        new.append((len(out), alert, spec))
        out.append(None)
    if not new:
        return out
    try:
        with session.begin_nested():  # another process may raise the same incident at the same moment
            session.add_all([a for _i, a, _s in new])
    except IntegrityError:
        for i, _a, spec in new:
            out[i] = raise_alert(session, **spec)
        return out
    routes = routes or Routes(session)
    for i, alert, spec in new:
        _announce(session, alert, spec["now"], spec.get("quiet_reason", ""), spec.get("group"), spec.get("hold_s", 0),
                  routes)
        out[i] = (alert, True)
    return out


def _new_alert(key: str, kind: str, severity: str, title, body="", *, device: Device | None = None,
               site: Site | None = None, audience=("crew", "supervisor"), source_type: str = "", source_id="",
               now: datetime, quiet_reason="", group: Alert | None = None, district: str | None = None,
               ticket_id: int | None = None) -> Alert:
    """The new alert, already counting the message _announce queues for it (so that it is inserted once, not
    inserted and updated)."""
    if site is None and device is not None:
        site = device.site
    told = not quiet_reason and group is None
    return Alert(key=key, open_key=key, kind=kind, severity=severity, state="open", title=stored_title(title),
                 body=stored(body), device_id=device.id if device else None, site_id=site.id if site else None,
                 district=district if district is not None else ((site.district if site else "") or ""),
                 device_kind=device.kind if device else "",
                 audience=list(audience), source_type=source_type, source_id=str(source_id or ""),
                 quiet_reason=stored(quiet_reason), group_id=group.id if group else None, opened_at=now,
                 occurrences=1, notify_count=1 if told else 0, last_notified_at=now if told else None,
                 ticket_id=ticket_id)


def _announce(session: Session, alert: Alert, now: datetime, quiet_reason, group: Alert | None, hold_s: int,
              routes: Routes | None = None) -> None:
    """A new alert: its message queued (unless quiet or folded into a group), alert_raised emitted."""
    if not quiet_reason and group is None:
        enqueue(session, alert, "opened", now=now, due=now + timedelta(seconds=hold_s), routes=routes,
                flush=routes is None, counted=True)
    events.emit(session, "alert_raised", alert_id=alert.id, key=alert.key, kind=alert.kind)


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


def cancel_unsent(session: Session, alert: Alert, reason, rows: list[AlertDelivery] | None = None) -> int:
    """Withdraw messages never attempted (a grouped or quietened alert); the ones already tried stay. `rows`: the
    alert's deliveries a batch read at once (those still unsent are withdrawn), else read here."""
    if rows is None:
        rows = session.scalars(select(AlertDelivery).where(
            AlertDelivery.alert_id == alert.id, AlertDelivery.state == "pending", AlertDelivery.attempts == 0,
            AlertDelivery.purpose != "resolved")).all()
    else:
        rows = [d for d in rows if d.alert_id == alert.id and d.state == "pending" and d.attempts == 0
                and d.purpose != "resolved"]
    for d in rows:
        d.state, d.last_error = "cancelled", stored(reason)
    return len(rows)


def unsent_of(session: Session, alert_ids) -> dict[int, list[AlertDelivery]]:
    """The messages never attempted of many alerts, by alert (for cancel_unsent's `rows`), one query per 500."""
    ids, out = sorted(set(alert_ids)), {}
    for i in range(0, len(ids), 500):
        for d in session.scalars(select(AlertDelivery).where(
                AlertDelivery.alert_id.in_(ids[i:i + 500]), AlertDelivery.state == "pending",
                AlertDelivery.attempts == 0, AlertDelivery.purpose != "resolved").order_by(AlertDelivery.id)):
            out.setdefault(d.alert_id, []).append(d)
    return out


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
