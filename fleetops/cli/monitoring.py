"""Monitoring commands: `fleetops ingest-results FILE.jsonl`, `fleetops uptime`, `fleetops poll-once`.

ingest-results reads the whole file first: when any line is not valid JSON, or not a valid result, every bad
line is reported with its number and NOTHING is written (like the inventory import). Unknown device codes are
reported but do not block the other lines (a remote agent may know devices not yet imported).
"""
import json
from datetime import datetime

import click

from fleetops.cli import echo_json, fail, get_app, session
from fleetops.domain.text import Msg


@click.command("ingest-results")
@click.argument("path", type=click.Path(dir_okay=False, allow_dash=True))
def ingest_results_cmd(path):
    """Replay timestamped probe results from a JSONL file (one result per line; see docs/results-format.md)."""
    from fleetops.services.monitoring import IngestConfig, ingest_results, parse_result

    try:
        fh = click.open_file(path, "r", encoding="utf-8")
        with fh:
            raw_lines = fh.read().splitlines()
    except (OSError, UnicodeDecodeError) as err:
        fail(str(Msg("cannot read %(path)s: %(error)s", path=path, error=str(err))))
    items, errors = [], []
    for number, line in enumerate(raw_lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            parse_result(obj)
        except json.JSONDecodeError as err:
            errors.append(Msg("line %(n)s: not valid JSON (%(error)s)", n=number, error=err.msg))
            continue
        except ValueError as err:
            errors.append(Msg("line %(n)s: %(error)s", n=number, error=getattr(err, "msg", str(err))))
            continue
        items.append(obj)
    if errors:
        for e in errors[:50]:
            click.echo(str(e), err=True)
        if len(errors) > 50:
            click.echo(str(Msg("… and %(n)s more", n=len(errors) - 50)), err=True)
        fail(str(Msg("%(n)s bad lines; nothing was written", n=len(errors))))
    with session() as s:
        summary = ingest_results(s, items, IngestConfig.from_app_config(get_app().config))
    for r in summary.rejected:
        click.echo(str(Msg("line %(n)s: %(error)s", n=r["index"], error=r["reason"])), err=True)
    if summary.unknown_devices:
        click.echo(str(Msg("unknown devices: %(codes)s", codes=", ".join(summary.unknown_devices))), err=True)
    echo_json(summary.as_dict())


def _parse_time(value: str, name: str) -> datetime:
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        fail(str(Msg("%(name)s is not an ISO 8601 time: %(value)s", name=name, value=repr(value))))
    if at.tzinfo is None:
        from zoneinfo import ZoneInfo

        at = at.replace(tzinfo=ZoneInfo(get_app().config["TIMEZONE"]))  # local time when no offset is given
    return at


@click.command("uptime")
@click.option("--from", "start", required=True, help="Start, ISO 8601 (local time when no offset).")
@click.option("--to", "end", required=True, help="End (exclusive), ISO 8601.")
@click.option("--by", type=click.Choice(["device", "site", "kind", "district", "fleet"]), default="fleet",
              show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Rows as JSON.")
def uptime_cmd(start, end, by, as_json):
    """Raw and contractual uptime for a period (U3, U4)."""
    from fleetops.services.monitoring import queries

    a, b = _parse_time(start, "--from"), _parse_time(end, "--to")
    with session() as s:
        target, rows = queries.uptime_report(s, a, b, by=by, local_tz=get_app().config["TIMEZONE"])
    if as_json:
        echo_json(rows)
        return
    click.echo(f"{'key':<24} {'up_s':>10} {'down_s':>9} {'unknown_s':>10} {'excluded_s':>10} "
               f"{'raw_%':>8} {'contract_%':>10}")
    for r in rows:
        click.echo(f"{r['key']:<24} {r['up_s']:>10} {r['down_s']:>9} {r['unknown_s']:>10} {r['excluded_s']:>10} "
                   f"{_pct(r['raw_pct']):>8} {_pct(r['contractual_pct']):>10}")
    click.echo(str(Msg("Target: %(pct)s", pct=f"{target:g} %")))


def _pct(v):
    return "—" if v is None else f"{v:.3f}"


@click.command("poll-once")
def poll_once_cmd():
    """Probe every in-service device once and ingest the results."""
    from fleetops.services.monitoring import poll_once

    summary = poll_once(get_app())
    echo_json(summary.as_dict())
