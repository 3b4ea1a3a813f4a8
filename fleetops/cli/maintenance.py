"""`fleetops maintenance …`: plan a maintenance window (planned power cut, works, relocation) and list them."""
from pathlib import Path

import click

from fleetops.cli import echo_json, get_app, say, session
from fleetops.domain.text import Msg


@click.group("maintenance")
def maintenance_group():
    """Maintenance windows: no outage alarms or tickets inside them; their cause classifies the outages."""


@maintenance_group.command("add")
@click.option("--site", "sites", multiple=True, help="Site code (repeat, or several separated by spaces).")
@click.option("--device", "devices", multiple=True, help="Device code (repeatable).")
@click.option("--district", "districts", multiple=True, help="A whole district (repeatable).")
@click.option("--cabinet", "cabinets", multiple=True, help="Every device on a cabinet's power feed (repeatable).")
@click.option("--from", "starts_at", required=True, help="Start, ISO 8601 (local time when no offset).")
@click.option("--to", "ends_at", required=True, help="End, ISO 8601 (local time when no offset).")
@click.option("--cause", required=True, help="power_utility | network_provider | contractor | owner")
@click.option("--ref", "reference", default="", help="The notice number (e.g. the utility's).")
@click.option("--title", default="", help="A short title.")
@click.option("--repeat", "recurrence", type=click.Choice(["none", "daily", "weekly"]), default="none",
              show_default=True)
@click.option("--count", default=None, help="How many times a repeating window happens.")
@click.option("--until", default=None, help="Last local date (YYYY-MM-DD) of a repeating window.")
@click.option("--attachment", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="The notice as a PDF or a photo (JPEG/PNG).")
@click.option("--json", "as_json", is_flag=True, help="Print the window as JSON.")
def add_cmd(sites, devices, districts, cabinets, starts_at, ends_at, cause, reference, title, recurrence, count,
            until, attachment, as_json):
    """Plan a window. One that started in the past waits for a supervisor's approval (exclusion requests)."""
    from fleetops.services import maintenance

    split = lambda values: [v for value in values for v in value.replace(",", " ").split()]  # noqa: E731
    upload_dir = get_app().config["UPLOAD_DIR"]
    with session() as s:
        stream = attachment.open("rb") if attachment else None
        try:
            w = maintenance.create_window(
                s, sites=split(sites), devices=split(devices), districts=list(districts), cabinets=split(cabinets),
                starts_at=starts_at, ends_at=ends_at, cause=cause, reference=reference, title=title,
                recurrence=recurrence, count=count, until=until, actor="cli", upload_dir=upload_dir,
                attachment_name=attachment.name if attachment else "", attachment_stream=stream)
        finally:
            if stream is not None:
                stream.close()
        out = maintenance.window_dict(s, w)
    if as_json:
        echo_json(out)
    elif out["state"] == "pending":
        say(Msg("Maintenance window #%(id)s entered after the fact: waiting for a supervisor's approval.",
                id=out["id"]))
    else:
        say(Msg("Maintenance window #%(id)s planned.", id=out["id"]))


@maintenance_group.command("list")
@click.option("--state", type=click.Choice(["", "active", "pending", "rejected", "cancelled"]), default="")
@click.option("--json", "as_json", is_flag=True, help="As JSON.")
def list_cmd(state, as_json):
    """The windows, newest first."""
    from fleetops.services import maintenance

    with session() as s:
        rows = [maintenance.window_dict(s, w) for w in maintenance.list_windows(s, state)]
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        click.echo(f"#{r['id']}\t{r['state']}\t{r['cause']}\t{r['starts_at']} – {r['ends_at']}\t"
                   f"{' '.join(i['code'] for i in r['scope'])}\t{r['reference']}")
