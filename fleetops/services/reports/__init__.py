"""Supervisors' figures (A2, U4, T9): the dashboard, the monthly acceptance report and the weekly quality summary,
exported as XLSX and PDF in the reader's language (zh by default), and /metrics.

    sections.py     Section and Report: what a report is made of
    words.py        the report's language: msgids (msgctxt "report") and the domain enums' labels
    periods.py      month / ISO week bounds in the configured TIMEZONE; the download page's defaults
    queries.py      every read of the tables this area makes
    figures.py      the numbers: SLA shares, penalty, metrology, stock, plate accuracy, daily online rate
    monthly.py      the monthly report's sections          suggestions.py  its improvement suggestions
    weekly.py       the weekly image-quality summary       dashboard.py    the dashboard's figures
    metrics.py      the Prometheus /metrics text
    export_xlsx.py, export_pdf.py, export.py   the download formats
"""
from fleetops.domain.text import N_

from fleetops.services.reports.dashboard import dashboard
from fleetops.services.reports.export import MIME, export
from fleetops.services.reports.export_pdf import to_pdf
from fleetops.services.reports.export_xlsx import to_xlsx
from fleetops.services.reports.metrics import last_poll, metrics_text
from fleetops.services.reports.monthly import monthly_report
from fleetops.services.reports.periods import default_month, last_month, last_week, month_bounds, week_bounds
from fleetops.services.reports.sections import Report, Section
from fleetops.services.reports.weekly import weekly_quality_report

# Contract numbers this area reads (key → default, description); registered by fleetops.wiring.
PARAMETERS = {
    "report_top_n": (10, N_("How many devices and fault categories the monthly report ranks")),
    "report_recurring_outages": (3, N_("A device with at least this many outages in a month is named in the "
                                       "suggestions")),
}

__all__ = ["MIME", "PARAMETERS", "Report", "Section", "dashboard", "default_month", "export", "last_month",
           "last_poll", "last_week", "metrics_text", "month_bounds", "monthly_report", "to_pdf", "to_xlsx", "week_bounds",
           "weekly_quality_report"]
