"""A report as XLSX: one sheet per section, headers in the report's language, frozen header row; numbers stay
numbers, and no text cell is ever a formula (platform.cells)."""
import io
from decimal import Decimal

from fleetops.platform.cells import safe_cell, safe_row
from fleetops.services.reports.sections import Report


def to_xlsx(report: Report) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    wb.remove(wb.active)
    bold, fill = Font(bold=True), PatternFill("solid", fgColor="DDE6F0")
    for sec in report.sections:
        ws = wb.create_sheet(sec.title[:31])
        ws.append(safe_row(sec.headers))
        for c in ws[1]:
            c.font, c.fill = bold, fill
            c.alignment = Alignment(wrap_text=True, vertical="center")
        for row in sec.rows:
            ws.append([_cell(v) for v in row])
        if sec.note:
            ws.append([])
            ws.append([safe_cell(str(sec.note))])
        ws.freeze_panes = "A2"
        for i, h in enumerate(sec.headers, 1):
            width = max([len(str(h)) * 2] + [len(str(r[i - 1])) * 1.6 for r in sec.rows[:200] if i - 1 < len(r)])
            ws.column_dimensions[get_column_letter(i)].width = min(60, max(8, width))
    wb.properties.title = f"{report.title} {report.period_label}"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _cell(v):
    if v is None:
        return "—"
    if hasattr(v, "as_integer_ratio") or isinstance(v, int):
        return v
    if isinstance(v, str):
        return safe_cell(v)
    if isinstance(v, Decimal):
        return float(v)
    return safe_cell(str(v))
