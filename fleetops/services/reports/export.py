"""A report in a download format: XLSX or PDF, chosen by name (the URL's or the output file's extension)."""
from fleetops.domain.errors import ValidationFailed
from fleetops.domain.text import Msg
from fleetops.services.reports.export_pdf import to_pdf
from fleetops.services.reports.export_xlsx import to_xlsx
from fleetops.services.reports.sections import Report

MIME = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "pdf": "application/pdf"}


def export(report: Report, fmt: str) -> bytes:
    if fmt == "xlsx":
        return to_xlsx(report)
    if fmt == "pdf":
        return to_pdf(report)
    raise ValidationFailed(Msg("Only .xlsx or .pdf, not %(fmt)s.", context="report", fmt=repr(fmt)))
