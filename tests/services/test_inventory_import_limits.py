"""Resource limits on inventory import: too many rows, or an XLSX that unpacks too large, is refused with a
message a person understands and nothing written; the sheet is read row by row."""
import io
import zipfile

from sqlalchemy import func, select

from fleetops.models import Device
from fleetops.platform.i18n import use_locale
from fleetops.services.inventory import import_inventory, spreadsheet
from tests.inventory_helpers import csv_bytes, device_row, xlsx_bytes


def rows(n):
    return [device_row(f"K105-CAM{i}", "卡口相机", f"10.65.1.{i + 10}") for i in range(n)]


def first_error(result):
    with use_locale("en"):
        return str(result.errors[0].message)


def test_a_csv_with_more_rows_than_the_limit_is_refused_and_nothing_imported(db, users, monkeypatch):
    monkeypatch.setattr(spreadsheet, "MAX_ROWS", 3)
    result = import_inventory(db, csv_bytes(rows(4)), "big.csv", users["supervisor"])
    assert not result.ok
    assert first_error(result) == "The file has more than 3 rows; split it into smaller files."
    assert db.scalar(select(func.count()).select_from(Device)) == 0
    assert import_inventory(db, csv_bytes(rows(3)), "ok.csv", users["supervisor"]).ok  # the limit itself is fine


def test_an_xlsx_with_more_rows_than_the_limit_is_refused(db, users, monkeypatch):
    monkeypatch.setattr(spreadsheet, "MAX_ROWS", 3)
    result = import_inventory(db, xlsx_bytes(rows(4)), "big.xlsx", users["supervisor"])
    assert first_error(result) == "The file has more than 3 rows; split it into smaller files."
    assert import_inventory(db, xlsx_bytes(rows(3)), "ok.xlsx", users["supervisor"]).ok


def test_an_xlsx_that_unpacks_past_the_limit_is_refused_before_it_is_parsed(db, users, monkeypatch):
    monkeypatch.setattr(spreadsheet, "MAX_UNPACKED_BYTES", 1024 * 1024)
    good = xlsx_bytes(rows(2))
    assert import_inventory(db, good, "ok.xlsx", users["supervisor"]).ok
    # The same workbook with 3 MB of zeros in one part: 3 KB on the wire, a "zip bomb" in small.
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        dst.writestr("xl/media/padding.bin", b"\0" * (3 * 1024 * 1024))
    assert len(out.getvalue()) < 64 * 1024
    result = import_inventory(db, out.getvalue(), "bomb.xlsx", users["supervisor"])
    assert not result.ok
    assert first_error(result).startswith("The XLSX file unpacks to more than 1 MB")
    with use_locale("zh"):
        assert "解压后超过 1 MB" in str(result.errors[0].message)


def test_a_hostile_wide_row_is_cut_to_the_column_limit(db, users):
    data = csv_bytes(rows(1))
    header, line = data.decode().splitlines()[:2]
    wide = (header + "\n" + line + "," * 100_000 + "\n").encode()
    table = spreadsheet.read_table(wide, "wide.csv")
    assert len(table.rows[0][1]) == spreadsheet.MAX_COLUMNS
