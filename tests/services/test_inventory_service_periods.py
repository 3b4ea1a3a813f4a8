"""In-service history (issue 10): a device's periods in service follow its lifecycle through every writer (form/API
service, retire, import), the in-service date is editable (validated, audited), and uptime counts only the time
inside the periods — a device taken out and brought back is not in service while it was out."""
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from fleetops.domain.errors import ValidationFailed
from fleetops.models import AuditLog, Device, Site
from fleetops.models.monitoring import StatusInterval
from fleetops.models.service import ServicePeriod
from fleetops.services import inventory
from fleetops.services.inventory import import_inventory
from fleetops.services.monitoring import uptime_rows
from tests.inventory_helpers import csv_bytes, device_row

UTC = timezone.utc
LOCAL = ZoneInfo("Asia/Shanghai")
DAY = timedelta(days=1)


def periods(db, code):
    dev = db.scalar(select(Device).where(Device.code == code))
    return db.scalars(select(ServicePeriod).where(ServicePeriod.device_id == dev.id)
                      .order_by(ServicePeriod.id)).all()


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=LOCAL)


@pytest.fixture
def site(db):
    s = Site(code="K105", name="K105 北门卡口", district="天山区", latitude=43.8, longitude=87.6)
    db.add(s)
    db.commit()
    return s


def test_taken_out_and_brought_back_is_not_in_service_while_out(db, users, site):
    today = datetime.now(LOCAL).date()
    d0 = today - timedelta(days=20)
    inventory.save_device(db, None, {"kind": "checkpoint_camera", "site_code": "K105", "lifecycle": "online",
                                     "installed_on": str(d0), "in_service_from": str(d0)},
                          users["supervisor"], new_code="K105-CAM1")
    db.commit()
    [first] = periods(db, "K105-CAM1")
    assert first.start_at == midnight(d0) and first.end_at is None

    before = datetime.now(UTC)
    inventory.save_device(db, "K105-CAM1", {"lifecycle": "replaced"}, users["supervisor"])
    db.commit()
    inventory.save_device(db, "K105-CAM1", {"lifecycle": "online"}, users["supervisor"])
    db.commit()
    first, second = periods(db, "K105-CAM1")
    assert before <= first.end_at <= second.start_at <= datetime.now(UTC) and second.end_at is None
    # Another lifecycle step inside service (online → relocated) opens nothing.
    inventory.save_device(db, "K105-CAM1", {"lifecycle": "relocated"}, users["supervisor"])
    db.commit()
    assert len(periods(db, "K105-CAM1")) == 2

    # The history as it would be after a real absence: out from day 5 to day 10 (the hook wrote "now"; move the
    # stored moments so the out stretch has a length), the device monitored up the whole time.
    first.end_at, second.start_at = midnight(d0 + 5 * DAY), midnight(d0 + 10 * DAY)
    dev = db.scalar(select(Device).where(Device.code == "K105-CAM1"))
    a, b = int(midnight(d0).timestamp()), int(midnight(d0 + 15 * DAY).timestamp())
    db.add_all([StatusInterval(device_id=dev.id, start_s=a, end_s=a + 7 * 86400, state="up"),
                StatusInterval(device_id=dev.id, start_s=a + 7 * 86400, end_s=a + 12 * 86400, state="down"),
                StatusInterval(device_id=dev.id, start_s=a + 12 * 86400, end_s=b, state="up")])
    db.commit()
    [row] = uptime_rows(db, midnight(d0), midnight(d0 + 15 * DAY), codes=["K105-CAM1"])
    assert row.in_service_s == 10 * 86400  # days 0–5 and 10–15
    assert row.up_s == 5 * 86400 + 3 * 86400  # days 0–5, 12–15 (up on days 5–7 was out of service)
    assert row.down_s == 2 * 86400  # days 10–12 (down on days 7–10 was out of service)
    assert row.unknown_s == 0 and row.devices == 1


def test_retire_closes_the_period_at_retirement(db, users, site):
    dev = Device(code="K105-CAM2", kind="checkpoint_camera", site_id=site.id, lifecycle="online",
                 in_service_from=datetime(2025, 4, 18, tzinfo=LOCAL))
    db.add(dev)
    db.commit()
    inventory.retire_device(db, "K105-CAM2", users["supervisor"])
    db.commit()
    [p] = periods(db, "K105-CAM2")
    assert p.start_at == datetime(2025, 4, 18, tzinfo=LOCAL) and p.end_at == dev.retired_at is not None


def test_import_writes_the_history_for_new_retired_and_returning_devices(db, users):
    rows = [device_row("K105-CAM1", in_service_from="2025-04-18"),
            device_row("K105-CAM2", ip="10.65.1.12", lifecycle="已报废", in_service_from="2024-01-01"),
            device_row("K105-CAM3", ip="10.65.1.13", lifecycle="规划", installed_on="")]
    assert import_inventory(db, csv_bytes(rows), "a.csv", users["supervisor"]).ok
    db.commit()
    [p1] = periods(db, "K105-CAM1")
    assert p1.start_at == datetime(2025, 4, 18, tzinfo=LOCAL) and p1.end_at is None
    [p2] = periods(db, "K105-CAM2")
    assert p2.start_at == datetime(2024, 1, 1, tzinfo=LOCAL) and p2.end_at is not None
    assert periods(db, "K105-CAM3") == []
    # Taken out by the next file, back in the one after.
    rows[0]["lifecycle"] = "已更换"
    assert import_inventory(db, csv_bytes(rows), "b.csv", users["supervisor"]).ok
    db.commit()
    rows[0]["lifecycle"] = "已联网"
    assert import_inventory(db, csv_bytes(rows), "c.csv", users["supervisor"]).ok
    db.commit()
    out, back = periods(db, "K105-CAM1")
    assert out.start_at == datetime(2025, 4, 18, tzinfo=LOCAL) and out.end_at is not None
    assert back.start_at >= out.end_at and back.end_at is None


def test_in_service_date_is_editable_validated_and_audited(db, users, site):
    today = datetime.now(LOCAL).date()
    inventory.save_device(db, None, {"kind": "checkpoint_camera", "site_code": "K105", "lifecycle": "online",
                                     "installed_on": "2025-04-01"}, users["supervisor"], new_code="K105-CAM1")
    db.commit()
    inventory.save_device(db, "K105-CAM1", {"in_service_from": "2025/04/18"}, users["supervisor"])
    db.commit()
    dev = db.scalar(select(Device).where(Device.code == "K105-CAM1"))
    assert dev.in_service_from == datetime(2025, 4, 18, tzinfo=LOCAL)
    assert [p.start_at for p in periods(db, "K105-CAM1")] == [datetime(2025, 4, 18, tzinfo=LOCAL)]
    entry = db.scalars(select(AuditLog).where(AuditLog.action == "device_updated")
                       .order_by(AuditLog.id.desc())).first()
    assert "in_service_from" in entry.after and "2025-04-18" in str(entry.after["in_service_from"])

    for value, words in ((str(today + DAY), "不能晚于今天"), ("2025-03-01", "不能早于安装日期"), ("someday", "")):
        with pytest.raises(ValidationFailed) as err:
            inventory.save_device(db, "K105-CAM1", {"in_service_from": value}, users["supervisor"])
        db.rollback()
        assert "in_service_from" in err.value.details["errors"]
        assert words in str(err.value.details["errors"]["in_service_from"])
    inventory.save_device(db, "K105-CAM1", {"in_service_from": "", "vendor": "海康威视"}, users["supervisor"])
    db.commit()  # empty keeps the stored date
    assert dev.in_service_from == datetime(2025, 4, 18, tzinfo=LOCAL)
    # Once taken out, the first start cannot move past that moment.
    inventory.save_device(db, "K105-CAM1", {"lifecycle": "replaced"}, users["supervisor"])
    db.commit()
    with pytest.raises(ValidationFailed) as err:
        inventory.save_device(db, "K105-CAM1", {"in_service_from": str(today)}, users["supervisor"])
    db.rollback()
    assert "首次退出使用" in str(err.value.details["errors"]["in_service_from"])
    assert db.scalar(select(Device.in_service_from).where(Device.code == "K105-CAM1")) == \
        datetime(2025, 4, 18, tzinfo=LOCAL)


def test_the_api_and_the_form_edit_the_in_service_date(app, db, users, site, api_headers, client_as):
    c = app.test_client()
    h = api_headers("supervisor")
    resp = c.post("/api/v1/devices", json={"code": "K105-CAM9", "kind": "checkpoint_camera", "site_code": "K105",
                                           "in_service_from": "2025-05-01"}, headers=h)
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["in_service_from"] == "2025-05-01"
    soon = str(datetime.now(LOCAL).date() + 30 * DAY)
    bad = c.patch("/api/v1/devices/K105-CAM9", json={"in_service_from": soon}, headers=h)
    assert bad.status_code == 422 and "不能晚于今天" in bad.get_json()["details"]["errors"]["in_service_from"]
    ok = c.patch("/api/v1/devices/K105-CAM9", json={"in_service_from": "2025-04-20"}, headers=h)
    assert ok.status_code == 200 and ok.get_json()["in_service_from"] == "2025-04-20"

    web = client_as("supervisor")
    page = web.get("/devices/K105-CAM9/edit").get_data(as_text=True)
    assert 'name="in_service_from"' in page and "2025-04-20" in page
    shown = web.get("/devices/K105-CAM9").get_data(as_text=True)
    assert "2025-04-20" in shown
