"""F6: the whole inventory out as XLSX or CSV — readable labels in Chinese or English, no secrets, no cell a
spreadsheet would run as a formula (platform.cells), and it imports back unchanged."""
import csv
import io
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, contains_eager

from fleetops.domain.choices import DeviceKind, Lifecycle
from fleetops.domain.errors import ValidationFailed
from fleetops.domain.text import Msg
from fleetops.models import Cabinet, Device, Site
from fleetops.platform.cells import safe_cell
from fleetops.services.inventory.columns import export_columns
from fleetops.services.inventory.records import in_service_date


def export_rows(session: Session, language: str = "zh"):
    """Header + one list per device (ordered by site, code); labels in `language` so people can read it."""
    cols = export_columns()
    yield [c.header(language) for c in cols]
    query = select(Device).join(Device.site).options(contains_eager(Device.site)).order_by(Site.code, Device.code)
    parents = dict(session.execute(select(Device.id, Device.code)).all())
    cab_codes = dict(session.execute(select(Cabinet.id, Cabinet.code)).all())
    for device in session.scalars(query):
        site = device.site
        out = []
        for c in cols:
            if c.field.startswith("site."):
                value = getattr(site, c.field[5:])
            elif c.field == "parent_code":
                value = parents.get(device.parent_id, "")
            elif c.field == "cabinet_code":
                value = cab_codes.get(device.cabinet_id, "")
            elif c.field == "in_service_from":
                value = in_service_date(device)
            else:
                value = getattr(device, c.field)
            out.append(_export_value(c.field, value, language))
        yield out


def _export_value(field_name, value, language):
    if value is None:
        return ""
    if field_name == "kind":
        return DeviceKind(value).label(language)
    if field_name == "lifecycle":
        return Lifecycle(value).label(language)
    if isinstance(value, bool):
        # File data read back by the importer (parsers.TRUE_WORDS), not UI text.
        return ("是" if value else "否") if language == "zh" else ("yes" if value else "no")
    if isinstance(value, date):
        return value.isoformat()
    return value


def export_inventory(session: Session, fmt: str = "xlsx", language: str = "zh") -> bytes:
    """The whole inventory as XLSX or CSV (UTF-8 with BOM, which Excel opens correctly)."""
    fmt = fmt.lower().lstrip(".")
    if fmt == "csv":
        buf = io.StringIO(newline="")
        writer = csv.writer(buf)
        for row in export_rows(session, language):
            writer.writerow(["" if v is None else (repr(v) if isinstance(v, float) else safe_cell(v)) for v in row])
        return buf.getvalue().encode("utf-8-sig")
    if fmt != "xlsx":
        raise ValidationFailed(Msg("Unsupported export format %(fmt)r; use xlsx or csv.", fmt=fmt))
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("设备清单" if language == "zh" else "inventory")
    for row in export_rows(session, language):
        ws.append([safe_cell(v) for v in row])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()

