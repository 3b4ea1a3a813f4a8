"""Exclusion requests (U3, A3): crew (photo + note) or system (cabinet mains loss) ask; a supervisor approves or
rejects; only an approval changes the contractual figure; everything audited; the monthly report lists them."""
import io
from datetime import timedelta

import pytest
from sqlalchemy import select

from fleetops.domain.errors import ConflictError, PermissionDenied, ValidationFailed
from fleetops.models import AuditLog, Device
from fleetops.models.base import utcnow
from fleetops.models.monitoring import Outage, SiteIncident
from fleetops.platform import events
from fleetops.services import monitoring
from fleetops.services.monitoring import exclusions
from fleetops.services.reports.monthly import exclusion_section
from fleetops.services.reports.words import Words
from tests.tickets_fixtures import make_fleet

JPEG = b"\xff\xd8\xff\xe0" + b"0" * 64


def results(code, start, minutes, ok):
    return [{"device": code, "probe": "ping", "ok": ok, "at": (start + timedelta(minutes=i)).isoformat(),
             "detail": "" if ok else "timeout"} for i in range(minutes)]


@pytest.fixture
def outage(db, users):
    """K105-CAM1 down 20 minutes of an observed hour, from real results through the one ingest path."""
    fleet = make_fleet(db, users["crew"])
    for d in db.scalars(select(Device)):
        d.lifecycle, d.in_service_from = "online", utcnow() - timedelta(days=3)
    db.commit()
    t0 = (utcnow() - timedelta(hours=3)).replace(second=0, microsecond=0)
    rows = (results("K105-CAM1", t0, 20, True) + results("K105-CAM1", t0 + timedelta(minutes=20), 20, False)
            + results("K105-CAM1", t0 + timedelta(minutes=40), 20, True))
    monitoring.ingest_results(db, rows)
    db.commit()
    o = db.scalar(select(Outage).where(Outage.device_id == fleet["cam"].id))
    return {"outage": o, "t0": t0, **fleet}


def _contractual(db, o, t0):
    row = monitoring.uptime_rows(db, t0, t0 + timedelta(hours=1), "device", codes=["K105-CAM1"])[0]
    return row.contractual_pct


def test_a_crew_request_needs_a_photo_and_a_note_and_changes_nothing_until_approved(db, users, outage, tmp_path):
    o, t0 = outage["outage"], outage["t0"]
    before = _contractual(db, o, t0)
    with pytest.raises(ValidationFailed):
        exclusions.request_exclusion(db, cause="power_utility", note="", outage_id=o.id, actor=users["crew"],
                                     upload_dir=str(tmp_path), photo_name="a.jpg", photo_stream=io.BytesIO(JPEG))
    with pytest.raises(ValidationFailed):
        exclusions.request_exclusion(db, cause="power_utility", note="整条路停电", outage_id=o.id, actor=users["crew"],
                                     upload_dir=str(tmp_path))
    with pytest.raises(ValidationFailed):
        exclusions.request_exclusion(db, cause="device_fault", note="整条路停电", outage_id=o.id, actor=users["crew"],
                                     upload_dir=str(tmp_path), photo_name="a.jpg", photo_stream=io.BytesIO(JPEG))
    r = exclusions.request_exclusion(db, cause="power_utility", note="整条路停电，路灯也不亮", outage_id=o.id,
                                     actor=users["crew"], upload_dir=str(tmp_path), photo_name="a.jpg",
                                     photo_stream=io.BytesIO(JPEG))
    db.commit()
    assert (tmp_path / r.photo_path).read_bytes() == JPEG
    assert exclusions.pending_count(db) == 1
    assert _contractual(db, o, t0) == before  # a request alone changes nothing
    with pytest.raises(ConflictError):  # one pending request per outage
        exclusions.request_exclusion(db, cause="network_provider", note="再报一次", outage_id=o.id,
                                     actor=users["crew"], upload_dir=str(tmp_path), photo_name="b.jpg",
                                     photo_stream=io.BytesIO(JPEG))
    with pytest.raises(PermissionDenied):
        exclusions.approve(db, r.id, actor=users["crew"])
    exclusions.approve(db, r.id, actor=users["supervisor"])
    db.commit()
    db.refresh(o)
    assert o.cause == "power_utility" and o.evidence_path == r.photo_path
    assert before is not None and before < 100 and _contractual(db, o, t0) == 100
    assert exclusions.pending_count(db) == 0
    actions = [a.action for a in db.scalars(select(AuditLog).order_by(AuditLog.id))]
    assert actions[-3:] == ["exclusion_requested", "outage_cause_set", "exclusion_approved"]
    with pytest.raises(ConflictError):
        exclusions.reject(db, r.id, actor=users["supervisor"], note="晚了")


def test_a_rejection_needs_a_reason_and_keeps_the_outage_counting(db, users, outage, tmp_path):
    o, t0 = outage["outage"], outage["t0"]
    before = _contractual(db, o, t0)
    r = exclusions.request_exclusion(db, cause="network_provider", note="光缆被挖断", outage_id=o.id,
                                     actor=users["crew"], upload_dir=str(tmp_path), photo_name="c.png",
                                     photo_stream=io.BytesIO(b"\x89PNG" + b"0" * 32))
    with pytest.raises(ValidationFailed):
        exclusions.reject(db, r.id, actor=users["supervisor"], note=" ")
    exclusions.reject(db, r.id, actor=users["supervisor"], note="运营商无故障记录")
    db.commit()
    db.refresh(o)
    assert (r.state, o.cause, _contractual(db, o, t0)) == ("rejected", "device_fault", before)


def test_a_dark_site_whose_cabinet_reports_mains_loss_asks_by_itself_and_the_report_lists_it(db, users, tmp_path):
    fleet = make_fleet(db, users["crew"])
    at = utcnow() - timedelta(hours=1)
    inc = SiteIncident(site_id=fleet["near"].id, started_at=at, detected_at=at, device_count=3)
    db.add(inc)
    db.flush()
    db.add(Outage(device_id=fleet["cam"].id, started_at=at, detected_at=at, site_incident_id=inc.id))
    db.flush()
    events.emit(db, "cabinet_mains_lost", site_id=fleet["near"].id, at=at + timedelta(minutes=2), input_voltage_v=0.0)
    events.emit(db, "cabinet_mains_lost", site_id=fleet["near"].id, at=at + timedelta(minutes=3), input_voltage_v=0.0)
    db.commit()
    [r] = exclusions.list_requests(db)
    assert (r.source, r.cause, r.site_incident_id, r.evidence["input_voltage_v"]) == ("system", "power_utility", inc.id, 0.0)
    sec = exclusion_section(Words("zh"), db, at - timedelta(days=1), utcnow())
    [row] = sec.rows
    assert row[0] == "K-105 北门卡口" and "供电" in row[4] and "0.0 V" in row[6] and row[7] == "待审核"
    assert "U3" not in " ".join(map(str, row)) + sec.title + sec.note
    exclusions.approve(db, r.id, actor=users["supervisor"])
    db.commit()
    assert db.scalar(select(Outage.cause)) == "power_utility"
