"""F6: inventory import and export — encodings, headers, every bad row reported, all-or-nothing, idempotence, round trip."""
import pytest
from sqlalchemy import func, select

from fleetops.models import AuditLog, Cabinet, Device, Site
from fleetops.services.inventory import export_inventory, import_inventory
from tests.inventory_helpers import csv_bytes, device_row, load_small_fleet, small_fleet_csv, xlsx_bytes


def count(db, model):
    return db.scalar(select(func.count()).select_from(model))


def three_rows():
    return [device_row("K105-SW", "交换机", "10.65.1.2"),
            device_row("K105-CAM1", "卡口相机", "10.65.1.11", parent="K105-SW"),
            device_row("K105-BG1", "补光灯", "", parent="K105-CAM1", snmp_version="", snmp_community="")]


def test_gbk_csv_with_chinese_headers_is_detected_and_imported(db, users):
    data = csv_bytes(three_rows(), chinese=True, encoding="gbk")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    result = import_inventory(db, data, "清单.csv", users["supervisor"])
    db.commit()
    assert result.ok, result.errors
    assert (result.encoding, result.created, result.sites_created) == ("gb18030", 3, 1)
    site = db.scalar(select(Site).where(Site.code == "K105"))
    assert site.name == "世纪大道与友谊路口卡口" and site.district == "克拉玛依区" and site.key_site is True
    cam = db.scalar(select(Device).where(Device.code == "K105-CAM1"))
    assert (cam.kind, cam.lifecycle, cam.parent.code) == ("checkpoint_camera", "online", "K105-SW")
    assert cam.snmp_community == "s3cret-community" and str(cam.installed_on) == "2023-05-01"


def test_utf8_file_with_bom_and_english_headers_is_imported(db, users):
    data = csv_bytes(three_rows(), chinese=False, encoding="utf-8-sig")
    assert data.startswith(b"\xef\xbb\xbf")
    result = import_inventory(db, data, "inventory.csv", users["supervisor"])
    assert result.ok, result.errors
    assert result.encoding == "utf-8-bom" and result.created == 3


def test_xlsx_is_imported(db, users):
    result = import_inventory(db, xlsx_bytes(three_rows()), "inventory.xlsx", users["supervisor"])
    db.commit()
    assert result.ok, result.errors
    assert result.created == 3
    site = db.scalar(select(Site).where(Site.code == "K105"))
    assert site.latitude == pytest.approx(45.6012)


def test_every_bad_row_is_reported_with_line_and_column_and_nothing_is_written(db, users):
    rows = three_rows() + [
        device_row("K105-X1", "飞碟", "10.65.1.30"),  # line 5: unknown kind
        device_row("K105-X2", "卡口相机", "10.65.1.999"),  # line 6: bad IP
        device_row("K105-X3", "卡口相机", "10.65.1.11"),  # line 7: duplicate IP (line 3)
        device_row("K106-X4", "卡口相机", "10.65.1.40", site_code="K106", latitude="84.9", longitude="45.6"),
        device_row("K105-X5", "卡口相机", "10.65.1.50", parent="NOPE-1"),  # line 9: unknown parent
        device_row("", "卡口相机", "10.65.1.60"),  # line 10: missing code
        device_row("K105-X6", "卡口相机", "10.65.1.70", installed_on="2023-13-45"),  # line 11: bad date
    ]
    result = import_inventory(db, csv_bytes(rows), "bad.csv", users["supervisor"])
    db.commit()
    assert not result.ok
    found = {(e.line, e.column) for e in result.errors}
    assert {(5, "设备类型"), (6, "IP地址"), (7, "IP地址"), (8, "纬度"), (8, "经度"), (9, "上级设备"),
            (10, "设备编号"), (11, "安装日期")} <= found
    messages = " ".join(str(e) for e in result.errors)
    assert "未知设备类型" in messages and "不在中国境内" in messages and "第 3 行" in messages
    assert count(db, Device) == 0 and count(db, Site) == 0 and count(db, AuditLog) == 5  # only the users (3) and the crew member's certificates (2)


def test_missing_required_column_is_reported_on_the_header_line(db, users):
    rows = [{k: v for k, v in device_row().items() if k != "kind"}]
    result = import_inventory(db, csv_bytes(rows), "x.csv", users["supervisor"])
    assert [(e.line, e.column) for e in result.errors] == [(1, "设备类型")]


def test_duplicate_device_codes_in_one_file_are_refused(db, users):
    rows = [device_row("K105-CAM1", ip="10.0.0.1"), device_row("K105-CAM1", ip="10.0.0.2")]
    result = import_inventory(db, csv_bytes(rows), "x.csv", users["supervisor"])
    assert [(e.line, e.column) for e in result.errors] == [(3, "设备编号")]


def test_ip_already_used_by_a_device_not_in_the_file_is_refused(db, users):
    assert import_inventory(db, csv_bytes([device_row("K105-CAM1", ip="10.0.0.1")]), "a.csv", users["admin"]).ok
    db.commit()
    result = import_inventory(db, csv_bytes([device_row("K105-CAM2", ip="10.0.0.1")]), "b.csv", users["admin"])
    assert not result.ok and "K105-CAM1" in result.errors[0].message


def test_v2c_without_a_community_is_refused_for_a_new_device(db, users):
    result = import_inventory(db, csv_bytes([device_row(snmp_community="")]), "x.csv", users["admin"])
    assert [(e.line, e.column) for e in result.errors] == [(2, "SNMP团体名")]


def test_parent_loop_is_refused(db, users):
    rows = [device_row("A-1", "交换机", "10.0.0.1", parent="A-2"), device_row("A-2", "交换机", "10.0.0.2", parent="A-1")]
    result = import_inventory(db, csv_bytes(rows), "x.csv", users["admin"])
    assert {e.line for e in result.errors} == {2, 3} and "循环" in result.errors[0].message


def test_reimporting_the_same_file_changes_nothing(db, users):
    data = small_fleet_csv(40)
    first = import_inventory(db, data, "fleet.csv", users["admin"])
    db.commit()
    audits = count(db, AuditLog)
    versions = dict(db.execute(select(Device.code, Device.version)).all())
    second = import_inventory(db, data, "fleet.csv", users["admin"])
    db.commit()
    assert first.ok and first.created == first.rows >= 40
    assert (second.created, second.updated, second.unchanged, second.sites_updated) == (0, 0, first.rows, 0)
    assert dict(db.execute(select(Device.code, Device.version)).all()) == versions
    assert count(db, AuditLog) == audits + 1  # just the "inventory_imported" summary


def test_a_changed_row_updates_the_device_and_is_audited_with_secrets_redacted(db, users):
    import_inventory(db, csv_bytes(three_rows()), "a.csv", users["admin"])
    db.commit()
    rows = three_rows()
    rows[1].update(vendor="大华", snmp_community="new-secret-42")
    result = import_inventory(db, csv_bytes(rows), "b.csv", users["supervisor"])
    db.commit()
    assert (result.updated, result.unchanged) == (1, 2)
    cam = db.scalar(select(Device).where(Device.code == "K105-CAM1"))
    assert cam.vendor == "大华" and cam.snmp_community == "new-secret-42"
    entry = db.scalar(select(AuditLog).where(AuditLog.action == "device_updated"))
    assert entry.actor_name == "supervisor" and entry.entity_id == "K105-CAM1"
    assert entry.before["vendor"] == "海康威视" and entry.after["vendor"] == "大华"
    assert "new-secret-42" not in str(entry.after) and "s3cret-community" not in str(entry.before)


def test_an_empty_secret_cell_keeps_the_stored_secret(db, users):
    import_inventory(db, csv_bytes(three_rows()), "a.csv", users["admin"])
    db.commit()
    rows = three_rows()
    rows[1]["snmp_community"] = ""
    result = import_inventory(db, csv_bytes(rows), "b.csv", users["admin"])
    db.commit()
    assert result.ok and result.unchanged == 3
    assert db.scalar(select(Device.snmp_community).where(Device.code == "K105-CAM1")) == "s3cret-community"


def test_dry_run_reports_what_would_happen_and_writes_nothing(db, users):
    result = import_inventory(db, csv_bytes(three_rows()), "a.csv", users["admin"], dry_run=True)
    db.commit()
    assert result.ok and (result.created, result.sites_created) == (3, 1)
    assert count(db, Device) == 0 and count(db, Site) == 0


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_export_imports_back_unchanged_and_contains_no_secrets(db, users, fmt):
    fleet = load_small_fleet(db, 60)
    data = export_inventory(db, fmt)
    secrets = [d[k] for d in fleet.devices for k in ("snmp_community", "snapshot_password") if d[k]]
    assert secrets
    if fmt == "csv":
        text = data.decode("utf-8-sig")
        assert "设备编号" in text
        assert not any(s in text for s in secrets)
    else:
        from zipfile import ZipFile
        import io
        with ZipFile(io.BytesIO(data)) as z:
            blob = b"".join(z.read(n) for n in z.namelist()).decode("utf-8", "replace")
        assert not any(s in blob for s in secrets)
    result = import_inventory(db, data, f"export.{fmt}", users["admin"])
    db.commit()
    assert result.ok, result.errors[:5]
    assert (result.created, result.updated, result.unchanged) == (0, 0, len(fleet.devices))
    assert result.sites_updated == 0


def test_an_undecodable_file_is_one_clear_error(db, users):
    result = import_inventory(db, b"\xff\xfe\x00\x81garbage\x81\xff", "x.csv", users["admin"])
    assert len(result.errors) == 1 and "编码" in result.errors[0].message


def test_a_corrupt_xlsx_is_one_clear_error(db, users):
    result = import_inventory(db, b"PK\x03\x04 not really a zip", "x.xlsx", users["admin"])
    assert len(result.errors) == 1 and "XLSX" in result.errors[0].message


def test_a_new_cabinet_code_creates_the_cabinet_at_the_site(db, users):
    result = import_inventory(db, csv_bytes([device_row(cabinet="K105-JG")]), "x.csv", users["admin"])
    db.commit()
    assert result.ok
    cab = db.scalar(select(Cabinet).where(Cabinet.code == "K105-JG"))
    assert cab.site.code == "K105"
    assert db.scalar(select(Device).where(Device.code == "K105-CAM1")).cabinet is cab


def test_a_cell_that_looks_like_a_formula_is_exported_as_text(db, users):
    import io

    from openpyxl import load_workbook

    assert import_inventory(db, csv_bytes([device_row(name="=HYPERLINK(\"http://x\")")]), "a.csv", users["admin"]).ok
    db.commit()
    data = export_inventory(db, "xlsx")
    ws = load_workbook(io.BytesIO(data)).active
    cell = ws.cell(row=2, column=2)
    assert cell.data_type == "s" and cell.value.startswith("'=HYPERLINK")  # quoted: text, never a formula
    result = import_inventory(db, data, "export.xlsx", users["admin"])
    assert result.ok and result.unchanged == 1
