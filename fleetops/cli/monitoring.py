"""Monitoring commands: `fleetops ingest-results FILE.jsonl`, `fleetops uptime`, `fleetops poll-once`.

ingest-results stores every good line (of any age) and reports the others by reason with their line numbers;
it exits with status 1 when any line was rejected. `--strict` writes nothing then (like the inventory import);
`--rejects FILE` lists every rejected line.
"""
import json
from datetime import datetime

import click

from fleetops.cli import echo_json, fail, get_app, say, session
from fleetops.domain.text import Msg


@click.command("ingest-results")
@click.argument("path", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--rejects", "rejects_path", type=click.Path(dir_okay=False, writable=True),
              help="Write every rejected line to this file (JSON lines: line, device, reason, text).")
@click.option("--strict", is_flag=True, help="Write nothing if any line is rejected.")
def ingest_results_cmd(path, rejects_path, strict):
    """Replay timestamped probe results from a JSONL file (one result per line; see docs/results-format.md).

    Results of any age are stored. Prints a summary; exits with status 1 when any line was rejected."""
    from fleetops.services.monitoring import IngestConfig, ingest_results

    try:
        fh = click.open_file(path, "r", encoding="utf-8")
        with fh:
            raw_lines = fh.read().splitlines()
    except (OSError, UnicodeDecodeError) as err:
        fail(str(Msg("cannot read %(path)s: %(error)s", path=path, error=str(err))))
    items, numbers, not_json = [], [], []
    for number, line in enumerate(raw_lines, start=1):
        if not line.strip():
            continue
        try:
            items.append(json.loads(line))
            numbers.append(number)
        except (json.JSONDecodeError, RecursionError) as err:
            reason = Msg("not valid JSON (%(error)s)", error=getattr(err, "msg", type(err).__name__))
            not_json.append({"index": number, "device": "", "reason": reason})
    with session() as s:
        summary = ingest_results(s, items, IngestConfig.from_app_config(get_app().config), strict=strict,
                                 write=not (strict and not_json))
        if summary.written:
            s.commit()
        else:
            s.rollback()
    for r in summary.rejected:  # the batch's 1-based index → the file's line number
        r["index"] = numbers[r["index"] - 1]
    summary.received += len(not_json)
    summary.rejected = sorted(summary.rejected + not_json, key=lambda r: r["index"])
    echo_json(summary.as_dict())
    if not summary.rejected:
        return
    for g in summary.by_reason():
        more = "…" if g["count"] > len(g["lines"]) else ""
        say(Msg("rejected %(n)s × %(reason)s (lines %(lines)s%(more)s)", n=g["count"], reason=g["reason"],
                lines=", ".join(str(n) for n in g["lines"]), more=more), err=True)
    if rejects_path:
        _write_rejects(rejects_path, summary.rejected, raw_lines)
        say(Msg("every rejected line is listed in %(path)s", path=rejects_path), err=True)
    if summary.written:
        fail(Msg("%(n)s of %(total)s lines were rejected; the others were stored", n=len(summary.rejected),
                 total=summary.received))
    fail(Msg("%(n)s of %(total)s lines were rejected; nothing was written", n=len(summary.rejected),
             total=summary.received))


def _write_rejects(path: str, rejected: list[dict], raw_lines: list[str]) -> None:
    try:
        with open(path, "w", encoding="utf-8") as out:
            for r in rejected:
                out.write(json.dumps({"line": r["index"], "device": r["device"], "reason": str(r["reason"]),
                                      "text": raw_lines[r["index"] - 1]}, ensure_ascii=False) + "\n")
    except OSError as err:
        fail(Msg("cannot write %(path)s: %(error)s", path=path, error=str(err)))


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
