"""Names are data, never markup or formulas: PDF paragraphs escape them, every CSV/XLSX the system writes
quotes a cell a spreadsheet would run (`= + - @`, tab, CR), and numbers stay numbers."""
import csv
import io
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta

from openpyxl import load_workbook

from fleetops.platform.cells import safe_cell, unsafe_cell
from fleetops.services import reports
from fleetops.services.inventory import export_inventory, import_inventory
from fleetops.services.reports.sections import Report, Section
from tests.inventory_helpers import csv_bytes, device_row

EVIL = ["=HYPERLINK(\"http://x\",\"y\")", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\t=1+1", "\r=1+1"]


def test_the_cell_helper_quotes_formulas_and_keeps_numbers():
    for v in EVIL:
        assert safe_cell(v) == "'" + v and unsafe_cell(safe_cell(v)) == v
    for v in (12, -3.5, "-12.5", "+7", "K105-CAM1", "世纪大道", "", None, "'=already quoted"):
        assert safe_cell(v) == v
    assert unsafe_cell("'plain") == "'plain"


def _report(name: str) -> Report:
    now = datetime(2026, 10, 31, tzinfo=UTC)
    sec = Section("sites", "点位 " + name, ["点位", name], [[name, 99.5], ["<b>bold</b> & <", None]], note=name)
    return Report("月报 " + name, "2026-10", now - timedelta(days=30), now, [sec], now)


def _pdf_text(pdf: bytes, tmp_path) -> str | None:
    if not shutil.which("pdftotext"):
        return None
    path = tmp_path / "r.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout


def test_a_name_with_markup_is_text_in_the_pdf(tmp_path):
    secret = tmp_path / "secret.png"
    from PIL import Image
    Image.new("RGB", (40, 40), (255, 0, 0)).save(secret)
    pdf = reports.to_pdf(_report(f'<img src="{secret}" width="40" height="40"/>'))
    assert pdf.startswith(b"%PDF")
    assert b"/Subtype /Image" not in pdf  # the server file was not embedded
    text = _pdf_text(pdf, tmp_path)
    if text is not None:  # poppler-utils present: the name is printed as typed
        assert f'<img src="{secret}"' in text.replace("\n", "")
    assert reports.to_pdf(_report("a < b")).startswith(b"%PDF")  # a lone `<` used to be a 500


def test_report_xlsx_quotes_formula_cells_and_keeps_numbers():
    wb = load_workbook(io.BytesIO(reports.to_xlsx(_report("=1+1"))))
    ws = wb.worksheets[0]
    values = [c for row in ws.iter_rows(values_only=True) for c in row if c is not None]
    assert "'=1+1" in values and 99.5 in values
    assert all(not (isinstance(v, str) and v.startswith("=")) for v in values)
    assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)


def _import_evil(db, users):
    rows = [device_row(code=f"K105-CAM{i}", ip=f"10.65.1.{10 + i}", name=v) for i, v in enumerate(EVIL[:4], 1)]
    for r in rows:
        r["site_name"] = "=1+1"
    result = import_inventory(db, csv_bytes(rows), "a.csv", users["admin"])
    assert result.ok, result.errors[:3]
    db.commit()


def test_inventory_csv_export_quotes_formulas_and_imports_back_unchanged(db, users):
    _import_evil(db, users)
    data = export_inventory(db, "csv")
    cells = [c for row in csv.reader(io.StringIO(data.decode("utf-8-sig"))) for c in row]
    assert "'=1+1" in cells and "'@SUM(A1)" in cells and "'-2+3" in cells
    assert not any(c.startswith(("=", "+", "-", "@")) for c in cells if not re.fullmatch(r"[+-]?[\d.]+", c))
    assert "84.8731" in cells  # numbers stay numbers
    result = import_inventory(db, data, "export.csv", users["admin"])
    assert result.ok and result.unchanged == 4


def test_uptime_exports_quote_formula_names(client_as, db, users):
    _import_evil(db, users)
    c = client_as("supervisor")
    text = c.get("/monitoring/uptime?period=month&by=site&format=csv").get_data(as_text=True)
    cells = [x for row in csv.reader(io.StringIO(text.lstrip("\ufeff"))) for x in row]
    assert "'=1+1" in cells and "=1+1" not in cells
    x = c.get("/monitoring/uptime?period=month&by=device&format=xlsx")
    ws = load_workbook(io.BytesIO(x.data)).active
    values = [v for row in ws.iter_rows(values_only=True) for v in row if isinstance(v, str)]
    assert "'@SUM(A1)" in values and not any(v.startswith(("=", "+", "@")) for v in values)
    assert all(cell.data_type != "f" for row in ws.iter_rows() for cell in row)
