"""The delivery outbox worker (A1): due messages sent per channel lane in parallel, every attempt logged,
exponential back-off, a failing channel's other messages deferred; resending by hand; a channel's test message.
The `alerts_deliver` job."""
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from fleetops.domain.errors import NotFound, ValidationFailed
from fleetops.domain.text import Msg, render_stored
from fleetops.models.alerts import AlertChannel, AlertDelivery, AlertDeliveryAttempt
from fleetops.models.base import utcnow
from fleetops.platform import audit, netpolicy
from fleetops.services.alerts.channels import ChannelError, send
from fleetops.services.alerts.messages import trial_payload

log = logging.getLogger(__name__)

NOT_ATTEMPTED = Msg("Channel failing, not attempted this round")


def backoff_s(attempts: int, base_s: float = 30, max_s: float = 3600) -> float:
    """Exponential back-off after `attempts` failures: base, 2·base, 4·base … capped."""
    return min(max_s, base_s * 2 ** max(0, attempts - 1))


def deliver_due(session: Session, now: datetime | None = None, limit: int = 100, base_s: float = 30,
                max_s: float = 3600, max_attempts: int = 15, workers: int = 8) -> dict:
    """Send due outbox messages. Each channel is a lane of its own thread (channels run in parallel, each send
    with its own timeout), so a dead channel never holds up the others; within a lane the first failure opens
    the circuit: that channel's remaining messages wait for its back-off without an attempt. Every attempt is
    logged; failures back off exponentially. Commits its own work."""
    now = now or utcnow()
    lease = now + timedelta(minutes=5)
    due = session.scalars(select(AlertDelivery).where(
        AlertDelivery.state == "pending", AlertDelivery.next_attempt_at <= now,
        or_(AlertDelivery.claimed_until.is_(None), AlertDelivery.claimed_until < now))
        .order_by(AlertDelivery.next_attempt_at, AlertDelivery.id).limit(limit)).all()
    # Keep each alert's messages in order on a channel: a recovery never overtakes its pending "down" message.
    earlier = {(a, c): i for a, c, i in session.execute(select(
        AlertDelivery.alert_id, AlertDelivery.channel_id, func.min(AlertDelivery.id)).where(
        AlertDelivery.state == "pending").group_by(AlertDelivery.alert_id, AlertDelivery.channel_id))}
    claimed = []
    for d in due:
        if earlier.get((d.alert_id, d.channel_id), d.id) < d.id:
            continue
        got = session.execute(update(AlertDelivery).where(
            AlertDelivery.id == d.id, AlertDelivery.state == "pending",
            or_(AlertDelivery.claimed_until.is_(None), AlertDelivery.claimed_until < now))
            .values(claimed_until=lease).execution_options(synchronize_session=False)).rowcount
        if got:
            set_committed_value(d, "claimed_until", lease)  # the UPDATE bypassed the ORM
            claimed.append(d)
    lanes: dict[int, list[tuple[int, tuple]]] = {}
    allowed = netpolicy.networks(session, netpolicy.ALERTS)
    for d in claimed:
        lanes.setdefault(d.channel_id, []).append(
            (d.id, (d.channel.kind, dict(d.channel.settings or {}), dict(d.channel.secrets or {}), dict(d.payload))))
    session.commit()  # the claims are visible to other workers; no transaction stays open while sending
    if not claimed:
        return {"sent": 0, "failed": 0, "deferred": 0}

    def run_lane(jobs):
        out = {}
        for did, job in jobs:
            started = time.monotonic()
            try:
                out[did] = (True, send(*job, networks=allowed), time.monotonic() - started)
            except ChannelError as err:
                out[did] = (False, str(err), time.monotonic() - started)
                break  # circuit open for this round
        return out

    results: dict[int, tuple] = {}
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(lanes)))) as pool:
        for lane_result in pool.map(run_lane, lanes.values()):
            results.update(lane_result)
    sent = failed = deferred = 0
    retry_at: dict[int, datetime] = {}
    for d in claimed:
        d.claimed_until = None
        if d.id not in results:
            continue
        ok, result, duration = results[d.id]
        session.add(AlertDeliveryAttempt(delivery_id=d.id, at=now, ok=ok, duration_ms=int(duration * 1000),
                                         result=result[:2000]))
        d.attempts += 1
        if ok:
            d.state, d.delivered_at, d.last_error = "delivered", now, ""
            sent += 1
        else:
            d.last_error = result[:2000]
            d.next_attempt_at = now + timedelta(seconds=backoff_s(d.attempts, base_s, max_s))
            retry_at[d.channel_id] = d.next_attempt_at
            if d.attempts >= max_attempts:
                d.state = "failed"
            failed += 1
            log.warning("alert delivery=%s channel=%s attempt=%s failed: %s", d.id, d.channel.name, d.attempts,
                        render_stored(result, "en")[:200])
    for d in claimed:
        if d.id not in results:  # not attempted: its channel just failed; wait with it
            d.next_attempt_at = retry_at.get(d.channel_id, now + timedelta(seconds=base_s))
            d.last_error = NOT_ATTEMPTED.stored()
            deferred += 1
    session.commit()
    return {"sent": sent, "failed": failed, "deferred": deferred}


def retry_delivery(session: Session, delivery_id: int, actor) -> AlertDelivery:
    """Put a message that gave up (or was withdrawn) back in the outbox, due now. Audited."""
    d = session.get(AlertDelivery, delivery_id)
    if d is None:
        raise NotFound(Msg("Message not found."))
    if d.state not in ("failed", "cancelled"):
        raise ValidationFailed(Msg("Only failed or withdrawn messages can be resent."))
    before = d.state
    d.state, d.next_attempt_at, d.claimed_until = "pending", utcnow(), None
    audit.record(session, actor, "alert_delivery_retried", "alert_delivery", d.id,
                 before={"state": before}, after={"state": "pending"})
    return d


def send_test_message(session: Session, channel_id: int, actor=None) -> Msg:
    """Send a test message through one channel now; a catalogue sentence when the peer accepted it (its raw answer,
    "HTTP 200" or "250 accepted …", is English and stays out of the page: issue 13), or the error, scrubbed."""
    channel = session.get(AlertChannel, channel_id)
    if channel is None:
        raise NotFound(Msg("Channel not found."))
    try:
        send(channel.kind, channel.settings, channel.secrets, trial_payload(utcnow()),
             networks=netpolicy.networks(session, netpolicy.ALERTS))
        return Msg("The channel accepted the test message.")
    except ChannelError as err:
        raise ValidationFailed(Msg("Sending failed: %(error)s", error=Msg.from_stored(str(err)) or str(err))) from None


def job_deliver(ctx) -> None:
    with ctx.session() as s:
        stats = deliver_due(s, base_s=float(ctx.config.get("ALERT_RETRY_BASE_S", 30)),
                            max_s=float(ctx.config.get("ALERT_RETRY_MAX_S", 3600)))
    if stats["sent"] or stats["failed"]:
        log.info("job=alerts_deliver sent=%s failed=%s deferred=%s", stats["sent"], stats["failed"],
                 stats["deferred"])
