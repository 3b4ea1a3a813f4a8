"""U7: a camera that answers ping but uploads nothing, or far less than the same slot on previous days, is a fault
with its own alert and ticket; a dead camera is an outage instead; counts come from the API or from pass records."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from fleetops.domain.errors import ValidationFailed
from fleetops.models.alerts import Alert, PassCount
from fleetops.models.quality import PassRecord
from fleetops.models.tickets import Ticket
from fleetops.domain.text import render_stored
from fleetops.services.monitoring import detectors
from tests.services.test_alerts_delivery import make_site

NOW = datetime(2026, 11, 20, 10, 5, tzinfo=timezone.utc)
SLOT = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)  # the last complete hour at NOW


def history(db, cam, per_slot=(120, 95, 110, 130, 101, 99, 115), slot=SLOT):
    rows = [{"device": cam.code, "slot_start": slot - timedelta(days=d + 1), "count": n}
            for d, n in enumerate(per_slot)]
    detectors.record_pass_counts(db, rows)


def test_a_camera_online_but_uploading_far_less_than_usual_opens_a_fault_and_a_ticket(db, users):
    _s, (cam,) = make_site(db)
    cam.status = "up"
    history(db, cam)
    detectors.record_pass_counts(db, [{"device": cam.code, "slot_start": SLOT.isoformat(), "count": 4}])

    result = detectors.check_no_data(db, now=NOW)

    assert result["opened"] == 1 and result["slot"] == SLOT.isoformat()
    alert = db.scalar(select(Alert).where(Alert.kind == "no_data"))
    title, body = render_stored(alert.title, "zh"), render_stored(alert.body, "zh")
    assert "在线但无数据" in title and "过车 4 条" in body and "中位数 110" in body
    assert "Online but no data" in render_stored(alert.title, "en")
    ticket = db.get(Ticket, alert.ticket_id)
    assert ticket.category == "no_records" and ticket.device_id == cam.id
    assert detectors.check_no_data(db, now=NOW)["opened"] == 0  # deduplicated


def test_nothing_pushed_for_the_slot_counts_as_nothing_uploaded(db, users):
    _s, (cam,) = make_site(db)
    cam.status = "up"
    history(db, cam)
    assert detectors.check_no_data(db, now=NOW)["opened"] == 1


def test_a_normal_quiet_night_slot_is_not_a_fault(db, users):
    _s, (cam,) = make_site(db)
    cam.status = "up"
    history(db, cam, per_slot=(6, 4, 5, 7, 3, 5, 6))  # few passes at this hour on every day
    detectors.record_pass_counts(db, [{"device": cam.code, "slot_start": SLOT, "count": 1}])
    assert detectors.check_no_data(db, now=NOW)["opened"] == 0


def test_a_camera_that_is_down_is_an_outage_not_a_no_data_fault(db, users):
    _s, (cam,) = make_site(db)
    cam.status = "down"
    history(db, cam)
    assert detectors.check_no_data(db, now=NOW)["opened"] == 0


def test_without_enough_history_no_judgement_is_made(db, users):
    _s, (cam,) = make_site(db)
    cam.status = "up"
    history(db, cam, per_slot=(120, 100))
    assert detectors.check_no_data(db, now=NOW)["opened"] == 0


def test_the_fault_clears_when_uploads_come_back(db, users):
    _s, (cam,) = make_site(db)
    cam.status = "up"
    history(db, cam)
    history(db, cam, slot=SLOT + timedelta(hours=1))
    detectors.check_no_data(db, now=NOW)
    detectors.record_pass_counts(db, [{"device": cam.code, "slot_start": SLOT + timedelta(hours=1), "count": 97}])
    assert detectors.check_no_data(db, now=NOW + timedelta(hours=1))["resolved"] == 1
    assert db.scalar(select(Alert).where(Alert.kind == "no_data")).state == "resolved"


def test_individual_pass_records_of_the_quality_area_count_too(db, users):
    _s, (cam,) = make_site(db)
    cam.status = "up"
    history(db, cam, per_slot=(12, 11, 10, 12))
    db.add_all([PassRecord(device_id=cam.id, captured_at=SLOT + timedelta(minutes=i * 5), period="day",
                           reported_plate=f"新A·{1000 + i}", external_id=f"r{i}") for i in range(11)])
    db.flush()
    assert detectors.check_no_data(db, now=NOW)["opened"] == 0


def test_bad_pass_counts_are_rejected_whole(db, users):
    _s, (cam,) = make_site(db)
    with pytest.raises(ValidationFailed) as err:
        detectors.record_pass_counts(db, [{"device": cam.code, "slot_start": SLOT, "count": 5},
                                       {"device": "NOPE", "slot_start": SLOT, "count": 5},
                                       {"device": cam.code, "slot_start": "2026-11-20T09:00:00", "count": 5},
                                       {"device": cam.code, "slot_start": SLOT, "count": -1}])
    assert len(err.value.details["errors"]) == 3
    assert db.scalars(select(PassCount)).all() == []
