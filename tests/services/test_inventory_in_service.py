"""In-service dates are data (issue 10): the import carries 投运日期 (empty → the install date for a device imported
as in service), the export writes it back, and uptime counts from it — not from the moment of the import."""
import csv
import io
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from fleetops.models import Device
from fleetops.services.inventory import export_inventory, import_inventory
from fleetops.services.monitoring import uptime_rows
from tests.inventory_helpers import csv_bytes, device_row

LOCAL = ZoneInfo("Asia/Shanghai")


def device(db, code):
    return db.scalar(select(Device).where(Device.code == code))


def test_a_taken_over_fleet_counts_from_its_in_service_or_install_date(db, users):
    rows = [device_row("K105-CAM1", installed_on="2025-04-18", in_service_from=""),
            device_row("K105-CAM2", ip="10.65.1.12", installed_on="2025-04-18", in_service_from="2025/05/01"),
            device_row("K105-CAM3", ip="10.65.1.13", installed_on="", lifecycle="规划", in_service_from="")]
    result = import_inventory(db, csv_bytes(rows), "接管.csv", users["supervisor"])
    db.commit()
    assert result.ok, result.errors
    assert device(db, "K105-CAM1").in_service_from == datetime(2025, 4, 18, tzinfo=LOCAL)
    assert device(db, "K105-CAM2").in_service_from == datetime(2025, 5, 1, tzinfo=LOCAL)
    assert device(db, "K105-CAM3").in_service_from is None
    # A past month: the whole month is in service (unknown without results), not 0 s.
    start, end = datetime(2025, 11, 1, tzinfo=LOCAL), datetime(2025, 12, 1, tzinfo=LOCAL)
    by_code = {r.key: r for r in uptime_rows(db, start, end, by="device")}
    assert by_code["K105-CAM1"].in_service_s == 30 * 86400 and by_code["K105-CAM1"].unknown_s == 30 * 86400
    assert "K105-CAM3" not in by_code  # planned: not counted
    # April 2025: CAM1 from the 18th, CAM2 not yet
    start, end = datetime(2025, 4, 1, tzinfo=LOCAL), datetime(2025, 5, 1, tzinfo=LOCAL)
    by_code = {r.key: r for r in uptime_rows(db, start, end, by="device")}
    assert by_code["K105-CAM1"].in_service_s == 13 * 86400 and by_code["K105-CAM2"].in_service_s == 0

    exported = export_inventory(db, "csv", "zh").decode("utf-8-sig")
    table = list(csv.DictReader(io.StringIO(exported)))
    assert {r["设备编号"]: r["投运日期"] for r in table} == {
        "K105-CAM1": "2025-04-18", "K105-CAM2": "2025-05-01", "K105-CAM3": ""}
    again = import_inventory(db, exported.encode("utf-8"), "back.csv", users["supervisor"])
    assert again.ok and (again.created, again.updated) == (0, 0)


def test_a_new_in_service_date_on_reimport_is_an_update(db, users):
    import_inventory(db, csv_bytes([device_row("K105-CAM1", installed_on="2025-04-18")]), "a.csv",
                     users["supervisor"])
    db.commit()
    result = import_inventory(db, csv_bytes([device_row("K105-CAM1", installed_on="2025-04-18",
                                                        in_service_from="2025-06-01")]), "b.csv", users["supervisor"])
    db.commit()
    assert result.ok and result.updated == 1
    assert device(db, "K105-CAM1").in_service_from == datetime(2025, 6, 1, tzinfo=LOCAL)
    bad = import_inventory(db, csv_bytes([device_row("K105-CAM1", in_service_from="someday")]), "c.csv",
                           users["supervisor"])
    assert not bad.ok and bad.errors[0].column == "投运日期"
