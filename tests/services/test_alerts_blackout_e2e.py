"""U5 + A1 end to end: probe results for a site whose power is cut go through monitoring's real ingest; the crew's
webhook receives ONE grouped blackout message and, when power returns, ONE recovery."""
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from fleetops.models.alerts import Alert, AlertDelivery
from fleetops.models.monitoring import Outage
from fleetops.platform import parameters
from fleetops.services import alerts
from fleetops.services import monitoring as polling
from fleetops.services import monitoring as uptime
from tests.services.test_alerts_delivery import Receiver, make_site

T0 = datetime(2026, 11, 20, 3, 0, tzinfo=timezone.utc)


def _poll(db, devices, minute, ok):
    at = T0 + timedelta(minutes=minute)
    results = [{"device": d.code, "probe": "ping", "ok": ok, "at": at.isoformat(), "metrics": {"rtt_ms": 2.0}}
               for d in devices]
    polling.ingest_results(db, results, now=at + timedelta(seconds=5))
    db.commit()
    return at


def test_a_site_power_cut_sends_one_grouped_alert_and_one_recovery(db, users):
    hook = Receiver()
    try:
        ch = alerts.save_channel(db, users["admin"], name="crew-group", kind="webhook", settings={"url": hook.url})
        alerts.save_route(db, users["admin"], channel_id=ch.id)
        _site, devices = make_site(db, n=4)
        db.commit()
        for minute in range(0, 10):
            _poll(db, devices, minute, ok=True)
        for minute in range(10, 16):  # the cabinet loses power: every device at the site stops answering
            at = _poll(db, devices, minute, ok=False)
            alerts.deliver_due(db, now=at + timedelta(minutes=3))
        assert len(hook.requests) == 1, [r["json"]["title"] for r in hook.requests]
        down = hook.requests[0]["json"]
        assert down["kind"] == "site_dark" and down["purpose"] == "opened" and "4 台设备" in down["text"]

        for minute in range(16, 20):  # power is back
            at = _poll(db, devices, minute, ok=True)
            alerts.deliver_due(db, now=at + timedelta(minutes=3))
        assert [r["json"]["purpose"] for r in hook.requests] == ["opened", "resolved"]
        assert hook.requests[1]["json"]["kind"] == "site_dark"
        assert db.scalars(select(Alert).where(Alert.open_key.is_not(None))).all() == []
        assert {d.state for d in db.scalars(select(AlertDelivery))} <= {"delivered", "cancelled"}
    finally:
        hook.close()


def test_a_power_cut_recorded_for_the_site_keeps_it_quiet_until_the_recovery(db, users):
    hook = Receiver()
    try:
        ch = alerts.save_channel(db, users["admin"], name="crew-group", kind="webhook", settings={"url": hook.url})
        alerts.save_route(db, users["admin"], channel_id=ch.id)
        parameters.set_value(db, "alerts.repeat_interval_min", 5, users["admin"])
        _other, (elsewhere,) = make_site(db, code="K200")
        db.add(Outage(device_id=elsewhere.id, started_at=T0 - timedelta(days=3), detected_at=T0 - timedelta(days=3),
                      ended_at=T0 - timedelta(days=2)))  # so that outage ids and incident ids differ
        _site, devices = make_site(db, n=3)
        db.commit()
        for minute in range(0, 5):
            _poll(db, devices, minute, ok=True)
        for minute in range(5, 10):
            _poll(db, devices, minute, ok=False)
        incident = uptime.open_incidents(db)[0]
        uptime.set_site_incident_cause(db, incident.id, "power_utility", "供电局通知：10kV 线路检修",
                                       actor=users["supervisor"])
        db.commit()
        alerts.repeat_and_escalate(db, now=T0 + timedelta(minutes=40))
        alerts.deliver_due(db, now=T0 + timedelta(minutes=40))
        assert hook.requests == []  # quiet: the cause is known, nobody needs to be woken
        for minute in range(40, 44):
            at = _poll(db, devices, minute, ok=True)
            alerts.deliver_due(db, now=at + timedelta(minutes=1))
        assert [r["json"]["purpose"] for r in hook.requests] == ["resolved"]  # recoveries are always sent
    finally:
        hook.close()
