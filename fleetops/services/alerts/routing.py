"""Who hears about an alert: the routing rules that match it, the people of a route's role (district, their own
minimum severity, e-mail wanted), and the outbox rows written for them in the caller's transaction."""
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleetops.domain.alerts import SEVERITIES
from fleetops.models import User
from fleetops.models.alerts import Alert, AlertChannel, AlertDelivery, AlertRoute, NotificationPreference
from fleetops.models.base import utcnow
from fleetops.services.alerts import messages


def rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else 1


class Routes:
    """The enabled routes, and the people of each role they name, read once for a batch of alerts (a blackout):
    pass it to `enqueue` as `routes=`."""

    def __init__(self, session: Session):
        self.routes = _enabled_routes(session)
        self.people: dict[str, tuple[list[User], dict[int, NotificationPreference]]] = {}


def _enabled_routes(session: Session) -> list[AlertRoute]:
    return list(session.scalars(select(AlertRoute).join(AlertChannel).where(
        AlertRoute.enabled.is_(True), AlertChannel.enabled.is_(True)).order_by(AlertRoute.id)).all())


def matching_routes(session: Session, alert: Alert, audience=None, routes: Routes | None = None) -> list[AlertRoute]:
    audience = set(audience or alert.audience or ())
    out = []
    for r in routes.routes if routes is not None else _enabled_routes(session):
        if r.district and r.district != alert.district:
            continue
        if r.device_kind and r.device_kind != alert.device_kind:
            continue
        if rank(alert.severity) < rank(r.min_severity):
            continue
        if r.role and r.role not in audience:
            continue
        out.append(r)
    return out


def _people_of(session: Session, role: str, routes: Routes | None):
    if routes is not None and role in routes.people:
        return routes.people[role]
    users = session.scalars(select(User).where(User.role == role, User.active.is_(True))).all()
    prefs = {p.user_id: p for p in session.scalars(select(NotificationPreference).where(
        NotificationPreference.user_id.in_([u.id for u in users] or [0]))).all()}
    if routes is not None:
        routes.people[role] = (users, prefs)
    return users, prefs


def people_for(session: Session, role: str, alert: Alert, email: bool = True,
               routes: Routes | None = None) -> list[User]:
    """Active users with `role` who want this alert: a crew only for its district, each person's own minimum
    severity, and (for e-mail) whether they want alert e-mail at all."""
    users, prefs = _people_of(session, role, routes)
    out = []
    for u in users:
        if role == "crew" and u.district and alert.district and u.district != alert.district:
            continue  # a crew hears only about its district
        pref = prefs.get(u.id)
        if pref is not None and ((email and not pref.email_enabled) or
                                 rank(alert.severity) < rank(pref.min_severity)):
            continue
        out.append(u)
    return out


def enqueue(session: Session, alert: Alert, purpose: str, now: datetime | None = None, due: datetime | None = None,
            audience=None, routes: Routes | None = None, flush: bool = True,
            counted: bool = False) -> list[AlertDelivery]:
    """Put one message per matching channel in the outbox, in the caller's transaction (nothing lost on restart).
    Each message is rendered now in the recipients' language (Chinese, the fleet's language). For a batch:
    `routes` read once, and `flush=False` leaves the rows to the caller's one flush. `counted`: the alert's
    notify_count and last_notified_at already count this message (a new alert, inserted with them)."""
    now = now or utcnow()
    per_channel: dict[int, dict] = {}
    for route in matching_routes(session, alert, audience, routes):
        payload = per_channel.get(route.channel_id)
        if payload is None:
            payload = per_channel[route.channel_id] = messages.render(alert, purpose, now)
            payload["to"], payload["at_mobiles"] = [], []
        if route.role and route.channel.kind in ("email", "dingtalk"):
            people = people_for(session, route.role, alert, email=route.channel.kind == "email", routes=routes)
            if route.channel.kind == "email":
                payload["to"] = sorted(set(payload["to"]) | {u.email for u in people if u.email})
            else:  # DingTalk mentions the people of the route's role by their phone numbers
                payload["at_mobiles"] = sorted(set(payload["at_mobiles"]) | {u.phone for u in people if u.phone})
    out = []
    for channel_id, payload in per_channel.items():
        d = AlertDelivery(alert_id=alert.id, channel_id=channel_id, purpose=purpose, payload=payload,
                          state="pending", attempts=0, next_attempt_at=due or now, created_at=now)
        session.add(d)
        out.append(d)
    if not counted:
        alert.notify_count += 1
        alert.last_notified_at = now
    if flush:
        session.flush()
    return out
