"""A1: repeat unacknowledged alerts at the set interval, escalate old critical ones to supervisors; a hung device
(no "recovered" event) is resolved once monitoring says it is up again. The `alerts_repeat` job."""
import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleetops.models.alerts import Alert
from fleetops.models.base import utcnow
from fleetops.platform import parameters
from fleetops.services.alerts.raising import resolve
from fleetops.services.alerts.routing import enqueue

log = logging.getLogger(__name__)


def repeat_and_escalate(session: Session, now: datetime | None = None) -> dict:
    """A1: repeat unacknowledged alerts at the set interval; escalate old critical ones to supervisors."""
    now = now or utcnow()
    every = timedelta(minutes=float(parameters.get(session, "alerts.repeat_interval_min")))
    max_repeats = int(parameters.get(session, "alerts.max_repeats"))
    escalate_after = timedelta(minutes=float(parameters.get(session, "alerts.escalate_after_min")))
    repeated = escalated = 0
    # A hung device has no "recovered" event: it is back when monitoring says it is up again.
    for alert in session.scalars(select(Alert).where(Alert.open_key.is_not(None), Alert.kind == "device_hung")):
        if alert.device is not None and alert.device.status == "up":
            resolve(session, alert, now)
    rows = session.scalars(select(Alert).where(Alert.state == "open", Alert.group_id.is_(None),
                                               Alert.quiet_reason == "")).all()
    for alert in rows:
        if not alert.escalated and alert.severity == "critical" and now - alert.opened_at >= escalate_after:
            enqueue(session, alert, "escalated", now=now, audience=["supervisor"])
            alert.escalated = True
            escalated += 1
        elif (alert.last_notified_at is not None and now - alert.last_notified_at >= every
              and alert.notify_count <= max_repeats):
            enqueue(session, alert, "repeated", now=now)
            repeated += 1
    return {"repeated": repeated, "escalated": escalated}


def job_repeat(ctx) -> None:
    with ctx.session(write=True) as s:
        stats = repeat_and_escalate(s)
    log.info("job=alerts_repeat repeated=%s escalated=%s", stats["repeated"], stats["escalated"])
