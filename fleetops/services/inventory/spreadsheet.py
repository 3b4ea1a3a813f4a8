"""Reading an uploaded inventory file: CSV (UTF-8, BOM, GBK/GB18030, any usual delimiter) or XLSX → header
and numbered rows, and each cell as the text a person typed."""
import csv
import io
import zlib
from dataclasses import dataclass
from datetime import date, datetime

from fleetops.domain.errors import ValidationFailed
from fleetops.domain.text import Msg
from fleetops.platform.cells import unsafe_cell

XLSX_MAGIC = b"PK\x03\x04"
EMPTY = Msg("The file is empty.")

# Resource limits (a 3.9 MB XLSX of 1.5 M rows once held a web thread 75 s): the largest fleet is ~10,000
# devices, so twice that is plenty; an XLSX is a zip, so its unpacked size is bounded before openpyxl reads it.
MAX_ROWS = 20_000
MAX_COLUMNS = 200
MAX_UNPACKED_BYTES = 64 * 1024 * 1024


def _too_many_rows() -> ValidationFailed:
    return ValidationFailed(Msg("The file has more than %(max)s rows; split it into smaller files.", max=MAX_ROWS))


def _too_big_unpacked() -> ValidationFailed:
    return ValidationFailed(Msg("The XLSX file unpacks to more than %(max)s MB; remove unused sheets, formatting "
                                "or empty rows, or save it as CSV.", max=MAX_UNPACKED_BYTES // (1024 * 1024)))


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
            if len(numbered) > MAX_ROWS:  # the header plus MAX_ROWS rows are allowed
                raise _too_many_rows()
            numbered.append((start, row[:MAX_COLUMNS]))  # the line the record starts on (quoted newlines count)
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
        _check_unpacked_size(data)
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (BadZipFile, KeyError, ValueError, OSError, zlib.error) as err:
        raise ValidationFailed(Msg("Cannot read the XLSX file (%(error)s).", error=type(err).__name__)) from None
    try:
        ws = wb.worksheets[0]
        headers, rows = None, []
        # Streamed row by row (read-only mode); stops at the limit instead of reading a million rows.
        for line, row in enumerate(ws.iter_rows(values_only=True, max_col=MAX_COLUMNS), start=1):
            if headers is None:
                headers = ["" if h is None else str(h) for h in row]
                continue
            if len(rows) >= MAX_ROWS:
                raise _too_many_rows()
            rows.append((line, list(row)))
    except (KeyError, ValueError, zlib.error) as err:  # a corrupt sheet part
        raise ValidationFailed(Msg("Cannot read the XLSX file (%(error)s).", error=type(err).__name__)) from None
    finally:
        wb.close()
    if headers is None:
        raise ValidationFailed(EMPTY)
    return Table(headers, rows, "xlsx")


def _check_unpacked_size(data: bytes) -> None:
    """Inflate every member once, counting, and refuse past MAX_UNPACKED_BYTES (a zip's declared sizes may lie)."""
    from zipfile import ZipFile

    total = 0
    with ZipFile(io.BytesIO(data)) as zf:
        for info in zf.infolist():
            if total + info.file_size > MAX_UNPACKED_BYTES:
                raise _too_big_unpacked()
            with zf.open(info) as member:
                while chunk := member.read(1 << 20):
                    total += len(chunk)
                    if total > MAX_UNPACKED_BYTES:
                        raise _too_big_unpacked()


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
