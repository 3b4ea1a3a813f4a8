"""Maintenance windows (U3, U5, A1, P4): a planned window over a site holds the outages inside it from tickets and
alerts, classifies them with its cause (the contractual figure ignores power-utility time, the raw one does not),
announces itself once to the alert group, and releases what is still down when it ends; a window entered after the
fact changes the contractual figure only after a supervisor approves it. Real database, the one ingest path."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from fleetops.domain.errors import PermissionDenied, ValidationFailed
from fleetops.models import AuditLog, Device
from fleetops.models.alerts import Alert
from fleetops.models.base import utcnow
from fleetops.models.maintenance import MaintenanceScope, MaintenanceWindow
from fleetops.models.monitoring import ExclusionRequest, Outage
from fleetops.models.tickets import Ticket
from fleetops.services import maintenance, monitoring
from fleetops.services.monitoring import exclusions
from tests.tickets_fixtures import make_fleet

SITE_DEVICES = ("K105-CAM1", "K105-CAM2", "K105-CAB")


def results(codes, start, minutes, ok):
    return [{"device": code, "probe": "ping", "ok": ok, "at": (start + timedelta(minutes=i)).isoformat(),
             "detail": "" if ok else "timeout"} for i in range(minutes) for code in codes]


@pytest.fixture
def fleet(db, users):
    f = make_fleet(db, users["crew"])
    for d in db.scalars(select(Device)):
        d.lifecycle, d.in_service_from, d.status = "online", utcnow() - timedelta(days=3), "up"
    db.commit()
    f["t0"] = (utcnow() - timedelta(hours=3)).replace(second=0, microsecond=0)
    return f


def _window(db, users, t0, start_min, end_min, cause="power_utility", **kw):
    w = maintenance.create_window(db, sites=["K-105"], starts_at=t0 + timedelta(minutes=start_min),
                                  ends_at=t0 + timedelta(minutes=end_min), cause=cause, reference="供电通知 2026-118",
                                  actor=users["supervisor"], now=t0 - timedelta(hours=1), **kw)
    db.commit()
    return w


def _figures(db, t0, code="K105-CAM1"):
    row = monitoring.uptime_rows(db, t0, t0 + timedelta(hours=1), "device", codes=[code])[0]
    return row.raw_pct, row.contractual_pct


def _alerts(db, kind):
    return db.scalars(select(Alert).where(Alert.kind == kind)).all()


def test_a_site_dark_inside_a_power_cut_window_opens_no_ticket_no_alert_and_keeps_the_contractual_figure(
        db, users, fleet):
    t0 = fleet["t0"]
    w = _window(db, users, t0, 10, 50)
    assert w.state == "active"
    assert maintenance.tick(db, now=t0 + timedelta(minutes=11))["started"] == 1  # the one note to the group
    db.commit()
    monitoring.ingest_results(db, results(SITE_DEVICES, t0, 20, True) +
                              results(SITE_DEVICES, t0 + timedelta(minutes=20), 20, False) +
                              results(SITE_DEVICES, t0 + timedelta(minutes=40), 20, True))
    db.commit()
    outages = db.scalars(select(Outage).where(Outage.retracted_at.is_(None))).all()
    assert len(outages) == 3 and {o.cause for o in outages} == {"power_utility"}
    assert all(o.cause_reason.startswith(f"maintenance #{w.id}") for o in outages)
    assert db.scalar(select(func.count()).select_from(Ticket)) == 0
    assert not _alerts(db, "device_down") and not _alerts(db, "site_dark")
    [note] = _alerts(db, "maintenance_window")
    assert note.state == "open"
    raw, contractual = _figures(db, t0)
    assert raw is not None and raw < 100 and contractual == 100
    assert sorted(h["outage_id"] for h in maintenance.held_outages(db, w.id)) == sorted(o.id for o in outages)
    out = maintenance.tick(db, now=t0 + timedelta(minutes=51))
    db.commit()
    assert out == {"started": 0, "ended": 1, "still_down": 0}
    db.refresh(note)
    assert note.state == "resolved"  # "window ended": the recovery message
    assert db.scalar(select(func.count()).select_from(Ticket)) == 0


def test_a_contractor_window_silences_but_still_counts_against_the_contractor(db, users, fleet):
    t0 = fleet["t0"]
    _window(db, users, t0, 10, 50, cause="contractor")
    monitoring.ingest_results(db, results(("K105-CAM1",), t0, 20, True) +
                              results(("K105-CAM1",), t0 + timedelta(minutes=20), 20, False) +
                              results(("K105-CAM1",), t0 + timedelta(minutes=40), 20, True))
    db.commit()
    [o] = db.scalars(select(Outage)).all()
    assert o.cause == "planned_work"
    assert db.scalar(select(func.count()).select_from(Ticket)) == 0 and not _alerts(db, "device_down")
    raw, contractual = _figures(db, t0)
    assert raw is not None and raw < 100 and contractual == raw


def test_a_device_still_down_when_the_window_ends_is_ticketed_and_alerted_on_the_next_poll(db, users, fleet):
    t0 = fleet["t0"]
    w = _window(db, users, t0, 10, 40, cause="network_provider")
    monitoring.ingest_results(db, results(("K105-CAM1",), t0, 20, True) +
                              results(("K105-CAM1",), t0 + timedelta(minutes=20), 18, False))
    db.commit()
    [o] = db.scalars(select(Outage)).all()
    assert o.cause == "network_provider" and maintenance.is_held_outage(db, o.id)
    assert db.scalar(select(func.count()).select_from(Ticket)) == 0 and not _alerts(db, "device_down")
    # the next poll after the end: still failing — the ingest's own transaction tickets and alerts it
    monitoring.ingest_results(db, results(("K105-CAM1",), t0 + timedelta(minutes=41), 2, False))
    db.commit()
    db.refresh(o)
    assert not maintenance.is_held_outage(db, o.id)
    [t] = db.scalars(select(Ticket)).all()
    assert t.outage_id == o.id
    [a] = _alerts(db, "device_down")
    assert a.state == "open" and not a.quiet_reason
    assert o.cause == "device_fault"  # outlasting the window: the contractor's again (audited)
    assert db.scalar(select(AuditLog.id).where(AuditLog.entity_type == "outage", AuditLog.entity_id == str(o.id),
                                               AuditLog.action == "outage_cause_set").offset(1).limit(1))
    assert maintenance.tick(db, now=t0 + timedelta(minutes=43))["still_down"] == 0  # released once
    assert w.id


def test_a_window_entered_after_the_fact_changes_the_figure_only_after_approval(db, users, fleet):
    t0 = fleet["t0"]
    monitoring.ingest_results(db, results(("K105-CAM1",), t0, 20, True) +
                              results(("K105-CAM1",), t0 + timedelta(minutes=20), 20, False) +
                              results(("K105-CAM1",), t0 + timedelta(minutes=40), 20, True))
    db.commit()
    assert db.scalar(select(func.count()).select_from(Ticket)) == 1  # no window then: ticketed as usual
    raw, before = _figures(db, t0)
    assert before == raw and before < 100
    w = maintenance.create_window(db, sites=["K-105"], starts_at=t0 + timedelta(minutes=10),
                                  ends_at=t0 + timedelta(minutes=50), cause="power_utility", reference="迟到的通知",
                                  actor=users["supervisor"])
    db.commit()
    assert w.state == "pending" and w.after_the_fact
    [req] = db.scalars(select(ExclusionRequest)).all()
    assert req.maintenance_window_id == w.id and req.state == "pending"
    assert exclusions.request_row(req)["window_id"] == w.id
    assert _figures(db, t0)[1] == before  # waiting: nothing changes
    with pytest.raises(PermissionDenied):
        exclusions.approve(db, req.id, actor=users["crew"])
    exclusions.approve(db, req.id, actor=users["supervisor"])
    db.commit()
    db.refresh(w)
    assert w.state == "active"
    assert _figures(db, t0) == (raw, 100)
    line = db.scalar(select(AuditLog).where(AuditLog.action == "maintenance_window_approved"))
    assert line is not None and line.after["outages"] == 1 and line.actor_name == "supervisor"
    assert len(maintenance.held_outages(db, w.id)) == 1


def test_a_rejected_after_the_fact_window_changes_nothing(db, users, fleet):
    t0 = fleet["t0"]
    monitoring.ingest_results(db, results(("K105-CAM1",), t0, 20, True) +
                              results(("K105-CAM1",), t0 + timedelta(minutes=20), 20, False) +
                              results(("K105-CAM1",), t0 + timedelta(minutes=40), 20, True))
    w = maintenance.create_window(db, sites=["K-105"], starts_at=t0, ends_at=t0 + timedelta(hours=1),
                                  cause="power_utility", actor=users["supervisor"])
    db.commit()
    before = _figures(db, t0)
    req = db.scalar(select(ExclusionRequest))
    exclusions.reject(db, req.id, actor=users["supervisor"], note="没有停电通知")
    db.commit()
    assert maintenance.get_window(db, w.id).state == "rejected" and _figures(db, t0) == before


@pytest.mark.parametrize("kw, field", [
    ({"starts_at": "2026-12-10T17:00", "ends_at": "2026-12-10T09:00"}, "to"),
    ({"sites": ["NOPE-1"]}, "sites"),
    ({"cause": "aliens"}, "cause"),
    ({"sites": []}, "sites"),
    ({"starts_at": "tomorrow"}, "from"),
    ({"recurrence": "daily"}, "count"),
])
def test_bad_input_names_the_field_and_writes_nothing(db, users, fleet, kw, field):
    args = {"sites": ["K-105"], "starts_at": "2099-12-10T09:00", "ends_at": "2099-12-10T17:00",
            "cause": "power_utility", "actor": users["supervisor"]}
    args.update(kw)
    with pytest.raises(ValidationFailed) as err:
        maintenance.create_window(db, **args)
    assert err.value.details.get("field") == field
    db.rollback()
    assert db.scalar(select(func.count()).select_from(MaintenanceWindow)) == 0
    assert db.scalar(select(func.count()).select_from(MaintenanceScope)) == 0


def test_only_a_supervisor_plans_and_a_weekly_window_repeats_on_the_local_clock(db, users, fleet):
    with pytest.raises(PermissionDenied):
        maintenance.create_window(db, sites=["K-105"], starts_at="2099-01-05T09:00", ends_at="2099-01-05T17:00",
                                  cause="owner", actor=users["crew"])
    w = maintenance.create_window(db, devices=["K105-CAM1"], starts_at="2099-01-05T09:00",
                                  ends_at="2099-01-05T17:00", cause="owner", recurrence="weekly", count=3,
                                  actor=users["supervisor"])
    db.commit()
    d = maintenance.window_dict(db, w)
    assert d["last_end_at"].startswith("2099-01-19T17:00") and d["scope"] == [
        {"kind": "device", "code": "K105-CAM1", "name": "北门卡口相机1"}]
    cam, cam2 = fleet["cam"], fleet["cam2"]
    from datetime import datetime
    from zoneinfo import ZoneInfo
    at = datetime(2099, 1, 12, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert maintenance.window_for_device(db, cam, at) is not None
    assert maintenance.window_for_device(db, cam2, at) is None
    assert maintenance.window_for_device(db, cam, at + timedelta(days=1)) is None
    maintenance.cancel_window(db, w.id, actor=users["supervisor"], reason="改期")
    db.commit()
    assert maintenance.window_for_device(db, cam, at) is None


def test_the_window_job_releases_at_the_end_even_before_the_next_result(db, users, fleet):
    """The scheduler's maintenance_windows job (every poll interval) ends the hold on the clock, too."""
    t0 = fleet["t0"]
    _window(db, users, t0, 10, 40)
    monitoring.ingest_results(db, results(("K105-CAM1",), t0, 20, True) +
                              results(("K105-CAM1",), t0 + timedelta(minutes=20), 18, False))
    db.commit()
    assert db.scalar(select(func.count()).select_from(Ticket)) == 0
    assert maintenance.tick(db, now=t0 + timedelta(minutes=39))["still_down"] == 0
    assert maintenance.tick(db, now=t0 + timedelta(minutes=40))["still_down"] == 1
    db.commit()
    assert db.scalar(select(func.count()).select_from(Ticket)) == 1 and len(_alerts(db, "device_down")) == 1


def test_an_outage_that_outlasts_a_power_cut_window_counts_only_from_the_windows_end(db, users, fleet):
    """U3: the down time inside the power utility's window stays out of the contractual figure, the time after
    its end counts against the contractor (the outage is a device fault from then on)."""
    t0 = fleet["t0"]
    w = _window(db, users, t0, 10, 40)
    monitoring.ingest_results(db, results(("K105-CAM1",), t0, 20, True) +
                              results(("K105-CAM1",), t0 + timedelta(minutes=20), 30, False) +
                              results(("K105-CAM1",), t0 + timedelta(minutes=50), 10, True))
    db.commit()
    [o] = db.scalars(select(Outage)).all()
    assert o.cause == "device_fault" and o.excluded_before_s == int((t0 + timedelta(minutes=40)).timestamp())
    [row] = monitoring.uptime_rows(db, t0, t0 + timedelta(hours=1), "device", codes=["K105-CAM1"])
    assert abs(row.down_s - 30 * 60) <= 60 and abs(row.excluded_s - 20 * 60) <= 60  # 20 min inside, 10 after
    assert row.raw_pct < row.contractual_pct < 100
    assert not maintenance.is_held_outage(db, o.id) and w.id


def _routes(db, users):
    """A webhook to the group (every alert) and e-mail to the crew, as a real fleet routes its alerts."""
    from fleetops.services import alerts

    users["crew"].email = users["crew"].email or "crew@example.test"
    hook = alerts.save_channel(db, users["admin"], name="crew-group", kind="webhook",
                               settings={"url": "http://127.0.0.1:9/h"})
    alerts.save_route(db, users["admin"], channel_id=hook.id)
    mail = alerts.save_channel(db, users["admin"], name="crew-mail", kind="email",
                               settings={"host": "127.0.0.1", "port": 2525, "from_addr": "fleetops@example.test"})
    alerts.save_route(db, users["admin"], channel_id=mail.id, role="crew")
    db.commit()
    return hook.id, mail.id


def _messages(db, kind=None):
    from fleetops.models.alerts import AlertDelivery

    q = select(AlertDelivery).join(Alert, Alert.id == AlertDelivery.alert_id).where(Alert.kind != "maintenance_window")
    if kind:
        q = q.where(Alert.kind == kind)
    return db.scalars(q.order_by(AlertDelivery.id)).all()


@pytest.mark.parametrize("released_by", ["next_poll", "window_job"])
def test_a_site_still_dark_when_a_power_cut_window_ends_is_alerted_to_the_on_call_once(db, users, fleet,
                                                                                        released_by):
    """The planned work is over, the site is still dark: the crew hears of it once (routed as any site alert, not
    quiet), a normal site ticket opens, and the outage counts as a device fault from the window's end; nothing was
    sent while the window lasted."""
    t0 = fleet["t0"]
    hook_id, mail_id = _routes(db, users)
    w = _window(db, users, t0, 10, 40)
    assert maintenance.tick(db, now=t0 + timedelta(minutes=11))["started"] == 1
    db.commit()
    monitoring.ingest_results(db, results(SITE_DEVICES, t0, 20, True) +
                              results(SITE_DEVICES, t0 + timedelta(minutes=20), 18, False))
    db.commit()
    assert db.scalar(select(func.count()).select_from(Ticket)) == 0
    assert not _alerts(db, "site_dark") and not _messages(db)  # silent while the window lasts
    if released_by == "next_poll":
        monitoring.ingest_results(db, results(SITE_DEVICES, t0 + timedelta(minutes=41), 2, False))
    else:
        assert maintenance.tick(db, now=t0 + timedelta(minutes=40))["still_down"] >= 1
    db.commit()
    [a] = _alerts(db, "site_dark")
    assert a.state == "open" and not a.quiet_reason and a.cause in ("", "device_fault")
    sent = _messages(db)
    assert [(d.alert_id, d.purpose, d.state) for d in sent] == [(a.id, "opened", "pending")] * 2
    assert sorted(d.channel_id for d in sent) == sorted([hook_id, mail_id])
    [mail] = [d for d in sent if d.channel_id == mail_id]
    assert mail.payload["to"] == [users["crew"].email]
    [t] = db.scalars(select(Ticket)).all()
    assert t.category == "site_dark" and t.device_id is None and t.incident_id is not None
    outages = db.scalars(select(Outage).where(Outage.retracted_at.is_(None))).all()
    assert len(outages) == 3 and {o.cause for o in outages} == {"device_fault"}
    assert {o.excluded_before_s for o in outages} == {int((t0 + timedelta(minutes=40)).timestamp())}
    # released once: the next poll and the job after it send nothing more
    monitoring.ingest_results(db, results(SITE_DEVICES, t0 + timedelta(minutes=43), 2, False))
    maintenance.tick(db, now=t0 + timedelta(minutes=45))
    db.commit()
    assert len(_messages(db)) == 2 and w.id


@pytest.mark.parametrize("released_by", ["next_poll", "window_job"])
def test_every_device_still_down_when_a_window_ends_is_alerted_not_only_the_last_reclassified(db, users, fleet,
                                                                                             released_by):
    """Two cameras of the site down inside the window (the site itself is not dark), both still down at its end:
    each is alerted, loud, to the routed channels — none is taken as explained by the other's window cause."""
    t0 = fleet["t0"]
    hook_id, mail_id = _routes(db, users)
    site_id = db.scalar(select(Device.site_id).where(Device.code == "K105-CAM1"))
    for code in ("K105-CAM3", "K105-CAM4"):  # most of the site stays up: no blackout
        db.add(Device(code=code, name=code, kind="checkpoint_camera", site_id=site_id, lifecycle="online",
                      in_service_from=utcnow() - timedelta(days=3), status="up"))
    db.commit()
    _window(db, users, t0, 10, 40)
    down = ("K105-CAM1", "K105-CAM2")
    up = ("K105-CAB", "K105-CAM3", "K105-CAM4")
    monitoring.ingest_results(db, results(down + up, t0, 20, True) + results(up, t0 + timedelta(minutes=20), 18, True)
                              + results(down, t0 + timedelta(minutes=20), 18, False))
    db.commit()
    assert not _alerts(db, "device_down") and not _messages(db)
    if released_by == "next_poll":
        monitoring.ingest_results(db, results(up, t0 + timedelta(minutes=41), 2, True) +
                                  results(down, t0 + timedelta(minutes=41), 2, False))
    else:
        assert maintenance.tick(db, now=t0 + timedelta(minutes=40))["still_down"] == 2
    db.commit()
    assert not _alerts(db, "site_dark")
    found = _alerts(db, "device_down")
    assert len(found) == 2 and all(a.state == "open" and not a.quiet_reason for a in found)
    assert sorted((d.alert_id, d.channel_id, d.state) for d in _messages(db)) == sorted(
        (a.id, ch, "pending") for a in found for ch in (hook_id, mail_id))
    assert len(db.scalars(select(Ticket)).all()) == 2
