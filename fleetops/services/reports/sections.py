"""What a report is made of: sections (a sheet in the XLSX, a heading and a table in the PDF) in one language."""
from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class Section:
    """One part of a report; its title, headers and text cells are already in the report's language."""

    key: str
    title: str
    headers: list[str]
    rows: list[list] = field(default_factory=list)
    note: str = ""
    chart: dict | None = None  # {"kind": "bar"|"line", "labels": [...], "values": [...], "target": float|None}
    pdf_limit: int | None = None  # the PDF shows the first N rows; the XLSX has them all


@dataclass
class Report:
    title: str
    period_label: str
    start: datetime
    end: datetime
    sections: list[Section]
    generated_at: datetime
    locale: str = "zh"

    def section(self, key: str) -> Section:
        return next(s for s in self.sections if s.key == key)
