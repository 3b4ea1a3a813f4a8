"""A1/U5/F5: dedup, grouping of a site blackout, quiet on a known cause, recoveries always sent, repeats,
escalation to supervisors, acknowledgement, routing by district/kind/severity/role, certificates."""
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from fleetops.domain.errors import PermissionDenied
from fleetops.models import MetrologyCertificate
from fleetops.models.alerts import Alert, AlertDelivery
from fleetops.models.monitoring import Outage, SiteIncident
from fleetops.platform import events, parameters
from fleetops.services import alerts
from fleetops.services.alerts import raising
from fleetops.services.inventory import certificates
from fleetops.services.monitoring import detectors
from tests.services.test_alerts_delivery import T0, make_site

NOWHERE = "http://127.0.0.1:9/hook"  # never called here: these tests read the outbox


def hook(db, users, name="duty", **route):
    ch = alerts.save_channel(db, users["admin"], name=name, kind="webhook", settings={"url": NOWHERE})
    alerts.save_route(db, users["admin"], channel_id=ch.id, **route)
    return ch


def outbox(db, purpose=None, state="pending"):
    q = select(AlertDelivery).order_by(AlertDelivery.id)
    rows = db.scalars(q).all()
    return [d for d in rows if (purpose is None or d.purpose == purpose) and (state is None or d.state == state)]


def outage(db, device, at=T0) -> int:
    """A real monitoring outage row (the cause handler looks the outage up)."""
    o = Outage(device_id=device.id, started_at=at, detected_at=at)
    db.add(o)
    db.flush()
    return o.id


def emit(db, event, **payload):
    events.emit(db, event, **payload)
    db.flush()


def test_the_same_outage_reported_twice_is_one_alert_and_one_message(db, users):
    hook(db, users)
    _s, (cam,) = make_site(db)
    for _ in range(2):
        emit(db, "outage_opened", outage_id=7, device_id=cam.id, started_at=T0, detected_at=T0)
    (alert,) = db.scalars(select(Alert)).all()
    assert alert.occurrences == 2 and len(outbox(db)) == 1


def test_a_site_blackout_is_one_message_and_one_recovery(db, users):
    hook(db, users)
    site, cams = make_site(db, n=3)
    for i, cam in enumerate(cams):  # the devices' outages arrive first, within the grouping hold
        emit(db, "outage_opened", outage_id=10 + i, device_id=cam.id, started_at=T0, detected_at=T0)
    emit(db, "site_incident_opened", incident_id=5, site_id=site.id, started_at=T0, detected_at=T0)
    pending = outbox(db)
    assert [d.payload["kind"] for d in pending] == ["site_dark"]
    assert "点位整体离线" in pending[0].payload["title"] and "3 台设备" in pending[0].payload["text"]
    assert len(outbox(db, state="cancelled")) == 3

    for i, cam in enumerate(cams):
        cam.status = "up"
        emit(db, "outage_closed", outage_id=10 + i, device_id=cam.id, ended_at=T0 + timedelta(hours=1))
    emit(db, "site_incident_closed", incident_id=5, site_id=site.id, ended_at=T0 + timedelta(hours=1))
    (recovery,) = outbox(db, "resolved")
    assert recovery.payload["kind"] == "site_dark" and "持续 1 小时 0 分钟" in recovery.payload["text"]
    assert not db.scalars(select(Alert).where(Alert.open_key.is_not(None))).all()


def test_device_outages_after_the_site_went_dark_send_nothing(db, users):
    hook(db, users)
    site, cams = make_site(db, n=2)
    emit(db, "site_incident_opened", incident_id=5, site_id=site.id, started_at=T0, detected_at=T0)
    for cam in cams:
        emit(db, "outage_opened", outage_id=cam.id, device_id=cam.id, started_at=T0, detected_at=T0)
    assert len(outbox(db)) == 1
    assert all(a.group_id is not None for a in db.scalars(select(Alert).where(Alert.kind == "device_down")))


def test_a_device_still_down_when_its_site_returns_is_announced_on_its_own(db, users):
    hook(db, users)
    site, (a, b) = make_site(db, n=2)
    emit(db, "site_incident_opened", incident_id=5, site_id=site.id, started_at=T0, detected_at=T0)
    for cam in (a, b):
        emit(db, "outage_opened", outage_id=cam.id, device_id=cam.id, started_at=T0, detected_at=T0)
    a.status, b.status = "up", "down"
    emit(db, "site_incident_closed", incident_id=5, site_id=site.id, ended_at=T0 + timedelta(minutes=40))
    opened = [d.payload["device"] for d in outbox(db, "opened") if d.payload["kind"] == "device_down"]
    assert opened == [b.code]


def test_quiet_when_the_cause_is_known_but_the_recovery_is_still_sent(db, users):
    hook(db, users)
    _s, (cam,) = make_site(db)
    oid = outage(db, cam)
    emit(db, "outage_opened", outage_id=oid, device_id=cam.id, started_at=T0, detected_at=T0)
    emit(db, "outage_cause_set", outage_id=oid, cause="power_utility", by="supervisor")
    alert = db.scalar(select(Alert))
    assert alert.quiet_reason and outbox(db) == []  # the held "down" message is withdrawn
    assert alerts.repeat_and_escalate(db, now=T0 + timedelta(hours=3)) == {"repeated": 0, "escalated": 0}

    emit(db, "outage_closed", outage_id=oid, device_id=cam.id, ended_at=T0 + timedelta(hours=4))
    (recovery,) = outbox(db, "resolved")
    assert recovery.payload["device"] == cam.code and "power_utility" in recovery.payload["text"]


def test_a_new_outage_at_a_site_with_a_recorded_power_cut_is_quiet_from_the_start(db, users):
    hook(db, users)
    _s, (a, b) = make_site(db, n=2)
    oid = outage(db, a)
    emit(db, "outage_opened", outage_id=oid, device_id=a.id, started_at=T0, detected_at=T0)
    emit(db, "outage_cause_set", outage_id=oid, cause="power_utility", by="supervisor")
    emit(db, "outage_opened", outage_id=outage(db, b), device_id=b.id, started_at=T0,
         detected_at=T0 + timedelta(minutes=5))
    assert outbox(db) == []
    assert db.scalar(select(Alert).where(Alert.device_id == b.id)).quiet_reason


def test_a_cause_that_is_not_excused_keeps_the_alert_loud(db, users):
    hook(db, users)
    _s, (cam,) = make_site(db)
    oid = outage(db, cam)
    emit(db, "outage_opened", outage_id=oid, device_id=cam.id, started_at=T0, detected_at=T0)
    emit(db, "outage_cause_set", outage_id=oid, cause="device_fault", by="crew")
    assert len(outbox(db, "opened")) == 1 and db.scalar(select(Alert)).quiet_reason == ""


def test_a_quiet_site_alert_whose_known_cause_is_taken_back_is_told_once(db, users):
    """A1: the blackout was put down to a power cut (quiet, its message withdrawn); the cause turns out to be a
    device fault after all: the on-call hears of the site now, once — and again only as repeats."""
    hook(db, users)
    site, cams = make_site(db, n=2)
    incident = SiteIncident(site_id=site.id, started_at=T0, detected_at=T0, device_count=2)
    db.add(incident)
    db.flush()
    oids = [outage(db, cam) for cam in cams]
    for o in db.scalars(select(Outage).where(Outage.id.in_(oids))):
        o.site_incident_id = incident.id
    emit(db, "site_incident_opened", incident_id=incident.id, site_id=site.id, started_at=T0, detected_at=T0)
    emit(db, "outage_cause_set", outage_id=oids[0], cause="power_utility", by="supervisor")
    site_alert = db.scalar(select(Alert).where(Alert.kind == "site_dark"))
    assert site_alert.quiet_reason and outbox(db) == [] and len(outbox(db, state="cancelled")) == 1
    emit(db, "outage_cause_set", outage_id=oids[0], cause="device_fault", by="supervisor")
    assert site_alert.quiet_reason == ""
    (told,) = outbox(db)
    assert (told.alert_id, told.purpose, told.payload["kind"]) == (site_alert.id, "opened", "site_dark")
    emit(db, "outage_cause_set", outage_id=oids[1], cause="device_fault", by="supervisor")
    assert len(outbox(db)) == 1  # already told: not again


def test_an_alert_taken_or_already_told_is_not_told_again_when_unquieted(db, users):
    hook(db, users)
    _s, (a, b) = make_site(db, n=2)
    told_oid, taken_oid = outage(db, a), outage(db, b)
    for oid, cam in ((told_oid, a), (taken_oid, b)):
        emit(db, "outage_opened", outage_id=oid, device_id=cam.id, started_at=T0, detected_at=T0)
    db.flush()
    for d in outbox(db):
        d.state = "delivered"  # the down message of `a` (and `b`) went out before the cause was known
    taken = db.scalar(select(Alert).where(Alert.device_id == b.id))
    alerts.acknowledge(db, taken.id, users["supervisor"], now=T0)
    for oid in (told_oid, taken_oid):
        emit(db, "outage_cause_set", outage_id=oid, cause="power_utility", by="supervisor")
        emit(db, "outage_cause_set", outage_id=oid, cause="device_fault", by="supervisor")
    assert outbox(db) == [] and all(not x.quiet_reason for x in db.scalars(select(Alert)))


def test_an_alert_whose_down_message_gave_up_is_told_when_unquieted(db, users):
    """A1: the down message failed on every attempt (nobody got it) before the cause was put down to a power cut;
    when that cause is taken back, the alert is told again rather than counted as heard."""
    hook(db, users)
    _s, (cam,) = make_site(db)
    oid = outage(db, cam)
    emit(db, "outage_opened", outage_id=oid, device_id=cam.id, started_at=T0, detected_at=T0)
    (first,) = outbox(db, "opened")
    first.state = "failed"
    emit(db, "outage_cause_set", outage_id=oid, cause="power_utility", by="supervisor")
    emit(db, "outage_cause_set", outage_id=oid, cause="device_fault", by="supervisor")
    (again,) = outbox(db, "opened")
    assert again.id != first.id and again.alert_id == first.alert_id
    assert [d.id for d in outbox(db, "opened", state="failed")] == [first.id]


def test_unacknowledged_alerts_repeat_and_escalate_to_supervisors_and_acknowledging_stops_it(db, users):
    hook(db, users, name="crew-group", role="crew")
    hook(db, users, name="supervisor-group", role="supervisor")
    parameters.set_value(db, "alerts.repeat_interval_min", 20, users["admin"])
    parameters.set_value(db, "alerts.escalate_after_min", 45, users["admin"])
    _s, (cam,) = make_site(db)
    emit(db, "outage_opened", outage_id=3, device_id=cam.id, started_at=T0, detected_at=T0)
    assert {d.channel.name for d in outbox(db, "opened")} == {"crew-group", "supervisor-group"}

    assert alerts.repeat_and_escalate(db, now=T0 + timedelta(minutes=10)) == {"repeated": 0, "escalated": 0}
    assert alerts.repeat_and_escalate(db, now=T0 + timedelta(minutes=21)) == {"repeated": 1, "escalated": 0}
    assert alerts.repeat_and_escalate(db, now=T0 + timedelta(minutes=46)) == {"repeated": 0, "escalated": 1}
    (esc,) = outbox(db, "escalated")
    assert esc.channel.name == "supervisor-group" and esc.payload["title"].startswith("【升级】")

    alert = db.scalar(select(Alert))
    alerts.acknowledge(db, alert.id, users["crew"], now=T0 + timedelta(minutes=50))
    assert alerts.repeat_and_escalate(db, now=T0 + timedelta(hours=5)) == {"repeated": 0, "escalated": 0}
    emit(db, "outage_closed", outage_id=3, device_id=cam.id, ended_at=T0 + timedelta(hours=6))
    assert len(outbox(db, "resolved")) == 2  # recoveries go to both groups


def test_routing_by_district_kind_and_severity(db, users):
    hook(db, users, name="tianshan", district="天山区")
    hook(db, users, name="shayibake", district="沙依巴克区")
    hook(db, users, name="speed-only", device_kind="speed_camera")
    hook(db, users, name="critical-only", min_severity="critical")
    _s, (cam,) = make_site(db, district="天山区")
    emit(db, "outage_opened", outage_id=1, device_id=cam.id, started_at=T0, detected_at=T0)  # critical
    emit(db, "device_rebooted", device_id=cam.id, at=T0)  # warning
    by_kind = {}
    for d in outbox(db):
        by_kind.setdefault(d.payload["kind"], set()).add(d.channel.name)
    assert by_kind == {"device_down": {"tianshan", "critical-only"}, "device_rebooted": {"tianshan"}}


def test_a_crew_cannot_acknowledge_another_districts_alert(db, users):
    users["crew"].district = "沙依巴克区"
    _s, (cam,) = make_site(db, district="天山区")
    emit(db, "outage_opened", outage_id=1, device_id=cam.id, started_at=T0, detected_at=T0)
    alert = db.scalar(select(Alert).where(Alert.kind == "device_down"))
    assert alerts.visible_alerts(db, users["crew"]) == []
    with pytest.raises(PermissionDenied):
        alerts.acknowledge(db, alert.id, users["crew"])
    # the supervisor sees it, beside the escalation that nobody of 天山区 can take the job (T8)
    assert [a for a in alerts.visible_alerts(db, users["supervisor"]) if a.kind == "device_down"] == [alert]


def test_a_breached_deadline_supersedes_the_warning_and_goes_to_supervisors_only(db, users):
    hook(db, users, name="crew-group", role="crew")
    hook(db, users, name="supervisor-group", role="supervisor")
    due = T0 + timedelta(hours=2)
    emit(db, "deadline_approaching", ticket_id=42, which="arrive", due_at=due)
    emit(db, "deadline_breached", ticket_id=42, which="arrive", due_at=due)
    assert [d.channel.name for d in outbox(db)] == ["supervisor-group", "supervisor-group"]
    open_alerts = db.scalars(select(Alert).where(Alert.open_key.is_not(None))).all()
    assert [a.kind for a in open_alerts] == ["deadline_breached"]
    emit(db, "ticket_transitioned", ticket_id=42, from_state="dispatched", to_state="closed")
    assert db.scalars(select(Alert).where(Alert.open_key.is_not(None))).all() == []


def test_certificates_due_within_30_days_or_expired_raise_alerts_once(db, users):
    hook(db, users)
    _s, (soon, late, fine) = make_site(db, n=3, kind="speed_camera")
    today = date(2026, 11, 20)
    db.add_all([MetrologyCertificate(device_id=soon.id, certificate_no="JL-1", valid_until=today + timedelta(days=20)),
                MetrologyCertificate(device_id=late.id, certificate_no="JL-2", valid_until=today - timedelta(days=1)),
                MetrologyCertificate(device_id=fine.id, certificate_no="JL-3", valid_until=today + timedelta(days=200))])
    db.flush()
    assert certificates.check_certificates(db, today=today) == {"expired": 1, "due": 1, "resolved": 0, "renewals": 2}
    assert certificates.check_certificates(db, today=today) == {"expired": 0, "due": 0, "resolved": 0, "renewals": 0}
    # A new certificate for the expired device clears its alert, with a message.
    db.add(MetrologyCertificate(device_id=late.id, certificate_no="JL-2b", valid_until=today + timedelta(days=365)))
    db.flush()
    assert certificates.check_certificates(db, today=today)["resolved"] == 1
    titles = [d.payload["title"] for d in outbox(db)]
    assert any("计量检定即将到期" in t for t in titles) and any(t.startswith("【已恢复】计量检定证书失效") for t in titles)


def test_hung_device_quality_finding_and_stock_alerts(db, users):
    hook(db, users)
    _s, (cam,) = make_site(db)
    emit(db, "device_hung", device_id=cam.id, at=T0)
    emit(db, "quality_finding_opened", finding_id=9, device_id=cam.id, kind="blur")
    emit(db, "stock_below_minimum", part_type_id=1, location_id=2, on_hand=1, minimum=3)
    emit(db, "quality_finding_cleared", finding_id=9, device_id=cam.id)
    kinds = sorted((d.payload["kind"], d.purpose) for d in outbox(db))
    assert kinds == [("device_hung", "opened"), ("quality_finding", "opened"), ("quality_finding", "resolved"),
                     ("stock_below_minimum", "opened")]


def test_channel_secrets_are_write_only(db, users):
    ch = alerts.save_channel(db, users["admin"], name="ding", kind="dingtalk", settings={},
                             secrets={"access_token": "tok-1", "secret": "SEC-1"})
    alerts.save_channel(db, users["admin"], name="ding", kind="dingtalk", settings={}, secrets={"secret": ""},
                        channel_id=ch.id)
    assert ch.secrets == {"access_token": "tok-1", "secret": "SEC-1"}  # blank keeps the stored secret
    view = alerts.channel_view(ch)
    assert "tok-1" not in str(view) and view["secrets_set"] == {"access_token": True, "secret": True}


def test_a_district_without_probe_results_for_ten_minutes_has_a_silent_probe_agent(db, users):
    from fleetops.models.monitoring import ProbeResultRow

    hook(db, users, name="tianshan-supervisors", district="天山区", role="supervisor")
    _a, (cam_a,) = make_site(db, code="K105", district="天山区")
    _b, (cam_b,) = make_site(db, code="S210", district="沙依巴克区")
    for minute in range(0, 30, 1):
        db.add(ProbeResultRow(device_id=cam_b.id, probe="ping", at=T0 + timedelta(minutes=minute), ok=True))
    db.add(ProbeResultRow(device_id=cam_a.id, probe="ping", at=T0, ok=True))  # then nothing from 天山区
    db.flush()

    assert detectors.check_probe_silence(db, now=T0 + timedelta(minutes=5)) == {"silent": 0, "opened": 0, "resolved": 0}
    assert detectors.check_probe_silence(db, now=T0 + timedelta(minutes=25)) == {"silent": 1, "opened": 1, "resolved": 0}
    (msg,) = outbox(db)
    assert msg.channel.name == "tianshan-supervisors" and "天山区" in msg.payload["title"]
    db.add(ProbeResultRow(device_id=cam_a.id, probe="ping", at=T0 + timedelta(minutes=26), ok=True))
    db.flush()
    assert detectors.check_probe_silence(db, now=T0 + timedelta(minutes=27))["resolved"] == 1
    assert [d.purpose for d in outbox(db)] == ["opened", "resolved"]


def test_a_probe_host_problem_is_told_once_not_again_as_silent_districts(db, users):
    from fleetops.models.monitoring import ProbeResultRow

    hook(db, users, name="tianshan-supervisors", district="天山区", role="supervisor")
    _a, (cam_a,) = make_site(db, code="K105", district="天山区")
    db.add(ProbeResultRow(device_id=cam_a.id, probe="ping", at=T0, ok=True))  # then only local failures
    db.flush()
    alerts.raise_alert(db, "probe_host:h:local", "probe_host_problem", "critical", "probe host problem", "",
                       audience=("supervisor",), source_type="probe_host", source_id="h", now=T0, district="")
    assert detectors.check_probe_silence(db, now=T0 + timedelta(minutes=25))["opened"] == 0
    alerts.resolve_key(db, "probe_host:h:local", T0 + timedelta(minutes=26))
    assert detectors.check_probe_silence(db, now=T0 + timedelta(minutes=27))["opened"] == 1


def test_a_second_process_raising_the_same_incident_does_not_break_its_transaction(app, db, users, monkeypatch):
    """Two sessions (two processes) see the same device go down at once: the loser's insert hits the unique
    open key, and it counts an occurrence instead of failing its (the emitter's) transaction."""
    hook(db, users)
    _s, (cam,) = make_site(db)
    db.commit()
    other = app.extensions["fleetops.sessionmaker"]()
    try:
        emit(db, "outage_opened", outage_id=1, device_id=cam.id, started_at=T0, detected_at=T0)
        db.commit()
        real_get_open, looked = raising.get_open, []

        def raced_get_open(session, key):  # the other process looked before the first one committed
            looked.append(key)
            return None if len(looked) == 1 else real_get_open(session, key)

        monkeypatch.setattr(raising, "get_open", raced_get_open)
        alert, new = alerts.raise_alert(other, f"device:{cam.id}:down", "device_down", "critical", "x",
                                        device=other.get(type(cam), cam.id), now=T0)
        other.commit()
    finally:
        other.close()
    assert not new and alert.occurrences == 2
    assert len(db.scalars(select(Alert)).all()) == 1


def test_email_goes_to_the_routes_role_in_the_district_as_each_person_prefers(db, users):
    from fleetops.services import accounts

    other, _pw = accounts.create_user(db, "crew2", "crew", "crew2-pass-123", district="沙依巴克区")
    other.email = "crew2@fleet.example"
    users["crew"].email, users["crew"].district = "crew@fleet.example", "天山区"
    users["supervisor"].email = "boss@fleet.example"
    ch = alerts.save_channel(db, users["admin"], name="mail", kind="email",
                             settings={"host": "127.0.0.1", "from_addr": "alerts@fleet.example"})
    alerts.save_route(db, users["admin"], channel_id=ch.id, role="crew")
    alerts.save_route(db, users["admin"], channel_id=ch.id, role="supervisor")
    alerts.save_preference(db, users["supervisor"], email_enabled=True, min_severity="critical")
    _s, (cam,) = make_site(db, district="天山区")
    emit(db, "device_rebooted", device_id=cam.id, at=T0)  # a warning: below the supervisor's minimum
    emit(db, "outage_opened", outage_id=1, device_id=cam.id, started_at=T0, detected_at=T0)  # critical
    to = {d.payload["kind"]: d.payload["to"] for d in outbox(db)}
    assert to == {"device_rebooted": ["crew@fleet.example"],
                  "device_down": ["boss@fleet.example", "crew@fleet.example"]}


def test_a_fresh_system_whose_first_poll_has_not_run_raises_no_silent_probe_alert(db, users):
    from fleetops.models.monitoring import ProbeResultRow

    hook(db, users, name="tianshan-supervisors", district="天山区", role="supervisor")
    _a, (cam_a,) = make_site(db, code="K105", district="天山区")
    db.flush()
    assert detectors.check_probe_silence(db, now=T0 + timedelta(minutes=30)) == {"silent": 0, "opened": 0, "resolved": 0}
    assert outbox(db) == []
    # Once it has been heard, going quiet is an alert.
    db.add(ProbeResultRow(device_id=cam_a.id, probe="ping", at=T0 + timedelta(minutes=31), ok=True))
    db.flush()
    assert detectors.check_probe_silence(db, now=T0 + timedelta(minutes=50))["opened"] == 1


def test_an_alert_is_kept_as_words_of_either_language_and_sent_in_chinese_by_default(db, users):
    """Stored rows keep the msgid and its parameters; the channel message is rendered in the recipient's language
    (Chinese unless asked otherwise), and the same alert reads in English for an English reader."""
    from fleetops.domain.text import render_stored
    from fleetops.services.alerts import messages

    hook(db, users)
    _s, (cam,) = make_site(db)
    emit(db, "outage_opened", outage_id=3, device_id=cam.id, started_at=T0, detected_at=T0)
    alert = db.scalar(select(Alert))
    assert render_stored(alert.title, "zh").startswith("设备离线：") and cam.code in alert.title
    assert render_stored(alert.title, "en").startswith("Device offline: ")
    (msg,) = outbox(db)
    assert msg.payload["title"].startswith("设备离线：") and "级别：严重" in msg.payload["text"]
    english = messages.render(alert, "resolved", T0 + timedelta(minutes=61), locale="en")
    assert english["title"].startswith("[Recovered] Device offline: ") and "Severity: Critical" in english["text"]
    assert "lasted 1 h 1 min" in english["text"]
