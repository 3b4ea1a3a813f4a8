"""Tickets opened by monitoring's real ingest (T1, U5): the clock starts at the result that crossed the threshold,
a dark site is one ticket, and a site ticket verifies only when every device there is back (T6)."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from fleetops.models.base import utcnow
from fleetops.models.tickets import Ticket
from fleetops.services import tickets
from tests.tickets_fixtures import make_fleet

from fleetops.services import monitoring as polling  # noqa: E402


def results(code, start, minutes, ok):
    return [{"device": code, "probe": "ping", "ok": ok, "at": (start + timedelta(minutes=i)).isoformat(),
             "detail": "" if ok else "timeout"} for i in range(minutes)]


@pytest.fixture
def fleet(db, users):
    f = make_fleet(db, users["crew"])
    db.commit()
    return f


def test_outage_from_ingest_opens_a_ticket_clocked_at_detection_and_replay_changes_nothing(db, fleet):
    t0 = (utcnow() - timedelta(hours=2)).replace(second=0, microsecond=0)
    rows = results("K105-CAM1", t0, 10, True) + results("K105-CAM1", t0 + timedelta(minutes=10), 5, False)
    for code in ("K105-CAM2", "K105-CAB"):
        rows += results(code, t0, 15, True)
    polling.ingest_results(db, rows)
    db.commit()
    t = db.scalar(select(Ticket))
    third_failure = t0 + timedelta(minutes=12)  # U2: three failures in a row
    assert t.detected_at == third_failure == t.notified_at
    first = (t.arrive_by, t.repair_by, t.day_night)
    polling.ingest_results(db, rows)  # the same results again
    db.commit()
    assert db.scalars(select(Ticket)).all() == [t]
    db.refresh(t)
    assert (t.arrive_by, t.repair_by, t.day_night) == first


def test_a_dark_site_from_ingest_is_one_ticket_that_verifies_when_all_devices_are_back(db, fleet, users):
    t0 = (utcnow() - timedelta(minutes=90)).replace(second=0, microsecond=0)
    rows = []
    for code in ("K105-CAM1", "K105-CAM2", "K105-CAB"):
        rows += results(code, t0, 10, True) + results(code, t0 + timedelta(minutes=10), 5, False)
    polling.ingest_results(db, rows)
    db.commit()
    open_ = db.scalars(select(Ticket).where(Ticket.state != "cancelled")).all()
    assert len(open_) == 1 and open_[0].device_id is None and open_[0].category == "site_dark"
    t = open_[0]
    crew = users["crew"]
    tickets.record_arrival(db, t.id, actor=crew)
    tickets.tick_checklist(db, t.id, list(tickets.rules.CHECKLIST_KEYS), actor=crew)
    tickets.start_repair(db, t.id, actor=crew)  # a cabinet is not work at height
    tickets.resolve(db, t.id, "repaired", actor=crew, notes="恢复市电")
    db.commit()
    back = (utcnow() - timedelta(minutes=30)).replace(second=0, microsecond=0)
    polling.ingest_results(db, results("K105-CAM1", back, 30, True) + results("K105-CAB", back, 30, True))
    db.commit()
    db.expire_all()  # monitoring writes Device.status with bulk UPDATEs
    assert tickets.auto_verify(db) == {"verified": 0, "closed": 0}  # K105-CAM2 is still dark
    polling.ingest_results(db, results("K105-CAM2", back, 30, True))
    db.commit()
    db.expire_all()
    assert tickets.auto_verify(db) == {"verified": 1, "closed": 1}
