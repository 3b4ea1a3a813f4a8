"""Reading an uploaded inventory file: CSV (UTF-8, BOM, GBK/GB18030, any usual delimiter) or XLSX → header
and numbered rows, and each cell as the text a person typed."""
import csv
import io
from dataclasses import dataclass
from datetime import date, datetime

from fleetops.domain.errors import ValidationFailed
from fleetops.domain.text import Msg
from fleetops.platform.cells import unsafe_cell

XLSX_MAGIC = b"PK\x03\x04"
EMPTY = Msg("The file is empty.")


@dataclass
class Table:
    headers: list[str]
    rows: list[tuple[int, list]]  # (line number, cells)
    encoding: str


def is_xlsx(data: bytes) -> bool:
    return data.startswith(XLSX_MAGIC)


def decode_csv(data: bytes) -> tuple[str, str]:
    """UTF-8 (with or without BOM) first, then GB18030 (a superset of GBK); both strictly."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return text, ("utf-8-bom" if encoding == "utf-8-sig" and data.startswith(b"\xef\xbb\xbf")
                      else "utf-8" if encoding == "utf-8-sig" else "gb18030")
    raise ValidationFailed(Msg("The file is neither UTF-8 nor GBK/GB18030 text; save the CSV as UTF-8 or GBK."))


def read_table(data: bytes, filename: str = "") -> Table:
    """Bytes of a CSV or XLSX file → header + numbered rows (XLSX by content, not only by name)."""
    if not data:
        raise ValidationFailed(EMPTY)
    if is_xlsx(data) or filename.lower().endswith((".xlsx", ".xlsm")):
        return _read_xlsx(data)
    if filename.lower().endswith(".xls"):
        raise ValidationFailed(Msg("Old .xls files are not supported; save as .xlsx or CSV."))
    text, encoding = decode_csv(data)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    numbered, start = [], 1
    try:
        for row in reader:
            numbered.append((start, row))  # the physical line the record starts on (quoted newlines count)
            start = reader.line_num + 1
    except csv.Error as err:
        raise ValidationFailed(Msg("The CSV is malformed at line %(line)s: %(error)s", line=reader.line_num,
                                   error=str(err))) from None
    if not numbered:
        raise ValidationFailed(EMPTY)
    return Table(numbered[0][1], numbered[1:], encoding)


def _read_xlsx(data: bytes) -> Table:
    from zipfile import BadZipFile

    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (BadZipFile, KeyError, ValueError, OSError) as err:
        raise ValidationFailed(Msg("Cannot read the XLSX file (%(error)s).", error=type(err).__name__)) from None
    try:
        ws = wb.worksheets[0]
        rows = list(ws.iter_rows(values_only=True))
    finally:
        wb.close()
    if not rows:
        raise ValidationFailed(EMPTY)
    headers = ["" if h is None else str(h) for h in rows[0]]
    return Table(headers, [(i + 2, list(r)) for i, r in enumerate(rows[1:])], "xlsx")


def cell_text(value) -> str:
    """A cell as the text a person typed: 45.6 stays 45.6, 161.0 becomes 161, dates become ISO."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(unsafe_cell(value)).strip()
