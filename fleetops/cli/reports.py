"""`fleetops report monthly|weekly --out FILE`: the acceptance reports as XLSX or PDF (chosen by the extension)."""
from pathlib import Path

import click

from fleetops.cli import fail, session


@click.group("report")
def report_group():
    """Reports for supervisors and the contract's acceptance (A2)."""


def _format_of(out: str) -> str:
    ext = Path(out).suffix.lower().lstrip(".")
    if ext not in ("xlsx", "pdf"):
        fail(f"输出文件须以 .xlsx 或 .pdf 结尾 / --out must end in .xlsx or .pdf, not {out!r}")
    return ext


def _write(out: str, data: bytes) -> None:
    path = Path(out)
    if not path.parent.exists():
        fail(f"目录不存在 / directory does not exist: {path.parent}")
    tmp = path.with_name(path.name + ".part")
    try:
        tmp.write_bytes(data)
        tmp.replace(path)  # never a half-written report
    except OSError as err:
        tmp.unlink(missing_ok=True)
        fail(f"无法写入 / cannot write {path}: {err.strerror}")
    click.echo(f"wrote {path} ({len(data)} bytes)")


@report_group.command("monthly")
@click.option("--month", required=True, help="YYYY-MM, in Beijing time.")
@click.option("--out", required=True, help="FILE.xlsx or FILE.pdf")
def monthly(month, out):
    """The monthly monitoring report: uptime, outages, SLA, spares, quality, metrology, penalty, suggestions."""
    from fleetops.services import reports

    fmt = _format_of(out)
    with session() as s:
        data = reports.export(reports.monthly_report(s, month), fmt)
    _write(out, data)


@report_group.command("weekly")
@click.option("--week", required=True, help="YYYY-Www (ISO week), e.g. 2026-W44.")
@click.option("--out", required=True, help="FILE.xlsx or FILE.pdf")
def weekly(week, out):
    """The weekly image-quality summary."""
    from fleetops.services import reports

    fmt = _format_of(out)
    with session() as s:
        data = reports.export(reports.weekly_quality_report(s, week), fmt)
    _write(out, data)
