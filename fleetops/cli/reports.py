"""`fleetops report monthly|weekly --out FILE`: the acceptance reports as XLSX or PDF (chosen by the extension)."""
from pathlib import Path

import click

from fleetops.cli import fail, session
from fleetops.domain.text import Msg
from fleetops.services import reports

CONTEXT = "report"
LANG = click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True,
                    help="The report's language.")


@click.group("report")
def report_group():
    """Reports for supervisors and the contract's acceptance (A2)."""


def _format_of(out: str) -> str:
    ext = Path(out).suffix.lower().lstrip(".")
    if ext not in reports.MIME:
        fail(Msg("--out must end in .xlsx or .pdf, not %(out)s", context=CONTEXT, out=repr(out)))
    return ext


def _write(out: str, data: bytes) -> None:
    path = Path(out)
    if not path.parent.exists():
        fail(Msg("Directory does not exist: %(dir)s", context=CONTEXT, dir=str(path.parent)))
    tmp = path.with_name(path.name + ".part")
    try:
        tmp.write_bytes(data)
        tmp.replace(path)  # never a half-written report
    except OSError as err:
        tmp.unlink(missing_ok=True)
        fail(Msg("Cannot write %(path)s: %(reason)s", context=CONTEXT, path=str(path), reason=err.strerror))
    click.echo(str(Msg("Wrote %(path)s (%(size)s bytes)", context=CONTEXT, path=str(path), size=len(data))))


@report_group.command("monthly")
@click.option("--month", required=True, help="YYYY-MM, in local time (the TIMEZONE setting).")
@click.option("--out", required=True, help="FILE.xlsx or FILE.pdf")
@LANG
def monthly(month, out, lang):
    """The monthly monitoring report: uptime, outages, SLA, spares, quality, metrology, penalty, suggestions."""
    fmt = _format_of(out)
    with session() as s:
        data = reports.export(reports.monthly_report(s, month, locale=lang), fmt)
    _write(out, data)


@report_group.command("weekly")
@click.option("--week", required=True, help="YYYY-Www (ISO week), e.g. 2026-W44.")
@click.option("--out", required=True, help="FILE.xlsx or FILE.pdf")
@LANG
def weekly(week, out, lang):
    """The weekly image-quality summary."""
    fmt = _format_of(out)
    with session() as s:
        data = reports.export(reports.weekly_quality_report(s, week, locale=lang), fmt)
    _write(out, data)
