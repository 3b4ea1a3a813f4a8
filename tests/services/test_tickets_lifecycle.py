"""Tickets from monitoring events, their clocks, the crew's steps, verification, breaches, penalties (T1–T9, A3)."""
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import delete, func, select

from fleetops.domain.errors import ConflictError, IllegalTransition
from fleetops.domain.text import render_stored
from fleetops.domain.tickets import NotQualified, ChecklistIncomplete
from fleetops.models import AuditLog
from fleetops.models.tickets import CrewQualification, Ticket
from fleetops.platform import events, parameters
from fleetops.services import tickets
from tests.tickets_fixtures import bj, make_fleet, qualify, raises_en, walk_to_repairing


@pytest.fixture
def fleet(db, users):
    f = make_fleet(db, users["crew"])
    db.commit()
    return f


@pytest.fixture
def heard():
    """Collect the deadline events the alerts area would receive."""
    got = []

    def on(which):
        def handler(session, **payload):
            got.append((which, payload))
        return handler

    handlers = {name: on(name) for name in ("deadline_approaching", "deadline_breached")}
    for name, h in handlers.items():
        events.connect(name, h)
    yield got
    for name, h in handlers.items():
        events.disconnect(name, h)


def test_outage_event_opens_a_dispatched_ticket_with_the_clock_at_detection(db, fleet, users):
    qualify(db, users["crew"])  # T8: auto-dispatch picks only crew holding the job's certificates
    detected = bj(2026, 6, 21, 21, 0)  # still daylight at the site
    events.emit(db, "outage_opened", outage_id=7, device_id=fleet["cam"].id,
                started_at=detected - timedelta(minutes=3), detected_at=detected)
    db.commit()
    t = db.scalar(select(Ticket).where(Ticket.outage_id == 7))
    assert (t.state, t.assignee_id, t.source, t.category) == ("dispatched", users["crew"].id, "outage", "offline")
    assert t.notified_at == detected and t.day_night == "day"
    assert t.arrive_by == detected + timedelta(hours=2)
    assert t.repair_by == t.arrive_by + timedelta(hours=4)
    assert 5 < t.distance_km < 10  # ≈ 6.8 km great-circle × 1.3 road factor
    assert t.needs_height  # a pole-mounted camera (T8)


def test_replayed_outage_event_does_not_open_a_second_ticket(db, fleet):
    for _ in range(2):
        events.emit(db, "outage_opened", outage_id=8, device_id=fleet["cam"].id,
                    started_at=bj(2026, 6, 21, 22, 30), detected_at=bj(2026, 6, 21, 22, 30))
    db.commit()
    rows = db.scalars(select(Ticket)).all()
    assert len(rows) == 1 and rows[0].day_night == "night"
    assert rows[0].arrive_by - rows[0].notified_at == timedelta(hours=3)


def test_far_site_gets_four_hours_whatever_the_daylight(db, fleet):
    events.emit(db, "outage_opened", outage_id=9, device_id=fleet["far_cam"].id,
                started_at=bj(2026, 3, 2, 12, 0), detected_at=bj(2026, 3, 2, 12, 0))
    t = db.scalar(select(Ticket))
    assert t.distance_km == 150.0 and t.arrive_by - t.notified_at == timedelta(hours=4)


def test_a_dark_site_is_one_ticket_and_absorbs_its_devices_outages(db, fleet):
    at = bj(2026, 6, 21, 12, 0)
    events.emit(db, "outage_opened", outage_id=1, device_id=fleet["cam"].id, started_at=at, detected_at=at)
    events.emit(db, "site_incident_opened", incident_id=3, site_id=fleet["near"].id, started_at=at, detected_at=at)
    events.emit(db, "outage_opened", outage_id=2, device_id=fleet["cam2"].id, started_at=at, detected_at=at)
    db.commit()
    open_ = db.scalars(select(Ticket).where(Ticket.state != "cancelled")).all()
    assert [(t.incident_id, t.device_id, t.category) for t in open_] == [(3, None, "site_dark")]
    merged = db.scalar(select(Ticket).where(Ticket.outage_id == 1))
    assert merged.state == "cancelled" and "#%d" % open_[0].id in render_stored(merged.events[-1].note, "en")


def test_whole_crew_flow_closes_only_after_the_device_is_back_long_enough(db, fleet, users):
    crew = users["crew"]
    qualify(db, crew)
    at = bj(2026, 6, 21, 10, 0)
    t = tickets.open_ticket(db, device_id=fleet["cam"].id, category="offline", source="inspection",
                            opened_by=users["supervisor"], detected_at=at, now=at)
    tickets.depart(db, t.id, actor=crew, at=at + timedelta(minutes=10))
    walk_to_repairing(db, t, crew, at + timedelta(minutes=70))
    assert t.repair_by == at + timedelta(minutes=70, hours=4)  # T3: from arrival
    tickets.resolve(db, t.id, "repaired", actor=crew, notes="更换电源适配器", at=at + timedelta(hours=2))
    db.commit()
    cam = fleet["cam"]
    cam.status, cam.status_since = "up", at + timedelta(hours=2)
    db.commit()
    with raises_en(ConflictError, "less than 10"):
        tickets.verify(db, t.id, now=at + timedelta(hours=2, minutes=5))
    assert tickets.auto_verify(db, now=at + timedelta(hours=2, minutes=5)) == {"verified": 0, "closed": 0}
    assert tickets.auto_verify(db, now=at + timedelta(hours=2, minutes=11)) == {"verified": 1, "closed": 1}
    db.commit()
    assert t.state == "closed" and t.breaches == []
    actions = [e.action for e in t.events]
    assert actions[:3] == ["opened", "dispatch", "depart"] and actions[-2:] == ["verify", "close"]
    audited = db.scalars(select(AuditLog.action).where(AuditLog.entity_type == "ticket",
                                                       AuditLog.entity_id == str(t.id))).all()
    assert {"ticket_opened", "ticket_arrive", "ticket_checklist_ticked", "ticket_resolve", "ticket_close"} <= set(audited)


def test_a_device_still_down_cannot_verify(db, fleet, users):
    at = bj(2026, 6, 21, 10, 0)
    t = tickets.open_ticket(db, device_id=fleet["cabinet"].id, category="offline", source="inspection",
                            opened_by="test", detected_at=at, now=at)
    walk_to_repairing(db, t, users["crew"], at)
    tickets.resolve(db, t.id, "repaired", actor=users["crew"], at=at)
    with raises_en(ConflictError, "not online"):
        tickets.verify(db, t.id, now=at + timedelta(hours=1))
    with pytest.raises(IllegalTransition):
        tickets.close(db, t.id, actor=users["supervisor"])


def test_category_verifier_can_hold_back_verification(db, fleet, users, monkeypatch):
    at = bj(2026, 6, 21, 10, 0)
    t = tickets.open_ticket(db, device_id=fleet["cabinet"].id, category="inspection", source="supervisor",
                            opened_by="s", detected_at=at, now=at, evidence_path="q/1.jpg")
    walk_to_repairing(db, t, users["crew"], at)
    tickets.resolve(db, t.id, "repaired", actor=users["crew"], at=at)
    fleet["cabinet"].status, fleet["cabinet"].status_since = "up", at - timedelta(days=1)
    verdicts = ["还没有合格抓拍 / no good snapshot yet"]
    # Only this test's verifier for the category, whatever other areas registered (restored afterwards).
    monkeypatch.setitem(tickets.VERIFIERS, "inspection", [])
    tickets.register_verifier("inspection", lambda s, ticket, now: verdicts[0])
    with pytest.raises(ConflictError, match="no good snapshot"):
        tickets.verify(db, t.id, now=at + timedelta(hours=1))
    verdicts[0] = None
    assert tickets.verify(db, t.id, now=at + timedelta(hours=1)).state == "verified"


def test_illegal_step_is_refused_and_changes_nothing(db, fleet, users):
    t = tickets.open_ticket(db, device_id=fleet["cam"].id, category="offline", source="inspection", opened_by="t")
    db.commit()
    with pytest.raises(IllegalTransition, match="不能"):
        tickets.resolve(db, t.id, "repaired", actor=users["crew"])
    db.rollback()
    assert db.get(Ticket, t.id).state == "dispatched"


def test_work_needs_the_full_safety_checklist(db, fleet, users):
    t = tickets.open_ticket(db, device_id=fleet["cabinet"].id, category="offline", source="inspection", opened_by="t")
    tickets.record_arrival(db, t.id, actor=users["crew"])
    tickets.tick_checklist(db, t.id, ["vest", "warning_lights", "cone_10m"], actor=users["crew"])
    with pytest.raises(ChecklistIncomplete, match="100"):
        tickets.start_repair(db, t.id, actor=users["crew"])


def test_work_at_height_needs_a_certificate_valid_that_day(db, fleet, users):
    crew = users["crew"]
    db.execute(delete(CrewQualification).where(CrewQualification.user_id == crew.id))  # the fixture's lifelong ones
    qualify(db, crew, until=date(2026, 6, 20))
    at = bj(2026, 6, 21, 10, 0)
    t = tickets.open_ticket(db, device_id=fleet["cam"].id, category="offline", source="inspection",
                            opened_by="t", detected_at=at, now=at)
    tickets.record_arrival(db, t.id, actor=crew, at=at)
    tickets.tick_checklist(db, t.id, list(tickets.rules.CHECKLIST_KEYS), actor=crew)
    with pytest.raises(NotQualified, match="2026-06-21"):
        tickets.start_repair(db, t.id, actor=crew, at=at)
    qualify(db, crew, until=date(2026, 12, 31))
    assert tickets.start_repair(db, t.id, actor=crew, at=at).state == "repairing"


def test_same_fault_after_two_repairs_demands_a_replacement(db, fleet, users):
    crew, cam = users["crew"], fleet["cabinet"]
    at = bj(2026, 5, 1, 10, 0)
    for i, resolution in enumerate(("repaired", "part_swapped")):
        t = tickets.open_ticket(db, device_id=cam.id, category="offline", source="outage", opened_by="m",
                                detected_at=at + timedelta(days=i), now=at + timedelta(days=i))
        walk_to_repairing(db, t, crew, at + timedelta(days=i))
        tickets.resolve(db, t.id, resolution, actor=crew, at=at + timedelta(days=i, hours=1))
        cam.status, cam.status_since = "up", at + timedelta(days=i, hours=1)
        tickets.auto_verify(db, now=at + timedelta(days=i, hours=2))
    third = tickets.open_ticket(db, device_id=cam.id, category="offline", source="outage", opened_by="m",
                                detected_at=at + timedelta(days=5), now=at + timedelta(days=5))
    assert third.requires_replacement and "after 2 consecutive repairs" in render_stored(third.replacement_reason, "en")
    walk_to_repairing(db, third, crew, at + timedelta(days=5))
    with raises_en(ConflictError, "replaced"):
        tickets.resolve(db, third.id, "repaired", actor=crew)
    assert tickets.resolve(db, third.id, "device_replaced", actor=crew).resolution == "device_replaced"
    other = tickets.open_ticket(db, device_id=cam.id, category="image_blur", source="quality", opened_by="q")
    assert not other.requires_replacement


def test_same_request_id_is_applied_once(db, fleet, users):
    t = tickets.open_ticket(db, device_id=fleet["cam"].id, category="offline", source="inspection", opened_by="t")
    db.commit()
    tickets.record_arrival(db, t.id, actor=users["crew"], request_id="req-arrive-1")
    db.commit()
    with pytest.raises(tickets.DuplicateRequest):
        tickets.record_arrival(db, t.id, actor=users["crew"], request_id="req-arrive-1")
    db.rollback()
    assert [e.action for e in db.get(Ticket, t.id).events].count("arrive") == 1


def test_deadlines_warn_then_breach_once_and_price_the_delay(db, fleet, users, heard):
    parameters.set_value(db, "contract_total_yuan", 2400000, "test")
    at = bj(2026, 6, 21, 10, 0)
    t = tickets.open_ticket(db, device_id=fleet["cam"].id, category="offline", source="outage",
                            opened_by="m", detected_at=at, now=at)
    db.commit()
    assert tickets.check_deadlines(db, now=at + timedelta(minutes=95)) == {"approaching": 1, "breached": 0}
    assert tickets.check_deadlines(db, now=at + timedelta(hours=2, minutes=1)) == {"approaching": 0, "breached": 1}
    assert tickets.check_deadlines(db, now=at + timedelta(hours=2, minutes=30)) == {"approaching": 0, "breached": 0}
    assert [(w, p["which"]) for w, p in heard] == [("deadline_approaching", "arrive"), ("deadline_breached", "arrive")]
    tickets.record_arrival(db, t.id, actor=users["crew"], at=at + timedelta(days=1, hours=3))
    db.commit()
    row = tickets.ticket_row(t)
    assert [(b["which"], b["days_late"]) for b in row["breaches"]] == [("arrive", 2)]
    est = tickets.penalty_estimate(db, not_to_spec_cases=1, now=at + timedelta(days=2))
    # arrival late on 06-21 and 06-22; the repair (due 4 h after the late arrival) still open on 06-23
    assert [d.isoformat() for d in est["late_days"]] == ["2026-06-21", "2026-06-22", "2026-06-23"]
    assert est["days_late"] == 3
    assert Decimal(est["late_amount"]) == Decimal("36000.00")  # 3 days × 0.5 % × 2 400 000
    assert Decimal(est["total"]) == Decimal("156000.00")  # + 5 % for one case not to spec


def test_service_desk_policy_gives_tier_deadlines(db, fleet):
    at = bj(2026, 3, 2, 9, 0)
    t = tickets.open_ticket(db, site_id=fleet["near"].id, category="inspection", source="supervisor",
                            opened_by="s", tier="complex", policy_key="service_desk", detected_at=at, now=at)
    assert (t.respond_by - at, t.repair_by - at, t.arrive_by) == (timedelta(hours=1), timedelta(hours=24), None)


def test_policy_edits_are_validated_and_audited(db, users):
    with pytest.raises(Exception, match="repair_h"):
        tickets.save_policy(db, "checkpoint_om", {"name": "x", "repair_h": 0}, users["admin"])
    tickets.save_policy(db, "checkpoint_om", {"name": "卡口运维2027", "arrive_day_h": 1.5, "arrive_night_h": 3,
                                              "repair_h": 4}, users["admin"])
    db.commit()
    row = db.scalar(select(AuditLog).where(AuditLog.action == "sla_policy_saved"))
    assert row.before["rules"]["arrive_day_h"] == 2 and row.after["rules"]["arrive_day_h"] == 1.5
    assert db.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "sla_policy_saved")) == 1


def test_quality_tickets_carry_their_evidence_and_reuse_an_open_one(db, fleet):
    kw = dict(device_id=fleet["cam"].id, category="image_blur", source="quality", opened_by="quality",
              evidence_path="quality/K105-CAM1/2026-06-21.jpg", summary="清晰度低")
    a = tickets.open_ticket(db, **kw)
    b = tickets.open_ticket(db, **kw)
    assert a.id == b.id and a.evidence_path.endswith(".jpg")
    assert a.needs_height


def test_photos_over_the_size_limit_are_refused_and_nothing_is_written(app, db, fleet, users, shared_data, tmp_path):
    parameters.set_value(db, "photo_max_mb", 0.05, "test")
    t = tickets.open_ticket(db, device_id=fleet["cam"].id, category="offline", source="inspection", opened_by="t")
    tickets.record_arrival(db, t.id, actor=users["crew"])
    jpeg = (shared_data / "plates" / "ccpdsample_blur_0.jpg").read_bytes()  # 82 kB
    with raises_en(Exception, "larger than 0.05 MB"):
        tickets.add_photo(db, t.id, "before", jpeg, upload_dir=str(tmp_path), actor=users["crew"])
    assert not any(tmp_path.rglob("*.jpg"))
