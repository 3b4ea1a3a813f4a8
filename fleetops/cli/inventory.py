"""`fleetops import-inventory`, `fleetops export-inventory` and `fleetops load-demo`."""
from pathlib import Path

import click

from fleetops.cli import echo_json, fail, say, session
from fleetops.domain.text import Msg


@click.command("import-inventory")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check every row and report; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def import_inventory_cmd(file: Path, dry_run: bool, as_json: bool):
    """Import sites and devices from a CSV (UTF-8/GBK) or XLSX file; nothing is written if any row is bad."""
    from fleetops.services.inventory import import_inventory

    try:
        data = file.read_bytes()
    except OSError as err:
        fail(Msg("Cannot read %(file)s: %(error)s", file=str(file), error=err.strerror))
    bar = None

    def progress(done, total):
        nonlocal bar
        if total < 500:
            return
        if bar is None:
            bar = click.progressbar(length=total, label=str(Msg("writing")), file=click.get_text_stream("stderr"))
            bar.__enter__()
        bar.update(done - bar.pos)

    with session() as s:
        result = import_inventory(s, data, file.name, actor="cli", dry_run=dry_run, progress=progress)
        if bar is not None:
            bar.__exit__(None, None, None)
        if not result.ok:
            s.rollback()
    if as_json:
        echo_json(result.summary() | {"problems": [e.to_json() for e in result.errors],
                                      "warnings": [str(w) for w in result.warnings]})
    else:
        for w in result.warnings:
            say(w, err=True)
        for e in result.errors:
            say(e, err=True)
        if result.ok:
            counts = dict(rows=result.rows, encoding=result.encoding, created=result.created, updated=result.updated,
                          unchanged=result.unchanged, sites_created=result.sites_created,
                          sites_updated=result.sites_updated)
            say(Msg("Check passed, would have: %(rows)s rows (%(encoding)s) — created %(created)s, updated "
                    "%(updated)s, unchanged %(unchanged)s; sites created %(sites_created)s, updated %(sites_updated)s",
                    **counts) if dry_run else
                Msg("Imported: %(rows)s rows (%(encoding)s) — created %(created)s, updated %(updated)s, unchanged "
                    "%(unchanged)s; sites created %(sites_created)s, updated %(sites_updated)s", **counts))
    if not result.ok:
        fail(Msg("%(n)s problems; nothing was imported.", n=len(result.errors)))


@click.command("export-inventory")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True,
              help="Column headers and labels.")
def export_inventory_cmd(file: Path, lang: str):
    """Write the inventory to FILE.xlsx or FILE.csv (secrets are never exported); it imports back unchanged."""
    from fleetops.services.inventory import device_count, export_inventory

    fmt = file.suffix.lower().lstrip(".")
    if fmt not in ("xlsx", "csv"):
        fail(Msg("The file name must end in .xlsx or .csv: %(file)s", file=str(file)))
    with session() as s:
        data = export_inventory(s, fmt, lang)
        n = device_count(s)
    try:
        file.write_bytes(data)
    except OSError as err:
        fail(Msg("Cannot write %(file)s: %(error)s", file=str(file), error=err.strerror))
    say(Msg("exported %(n)s devices to %(file)s", n=n, file=str(file)))


@click.command("load-demo")
@click.option("--seed", default=7, show_default=True, type=int)
@click.option("--devices", "n_devices", default=600, show_default=True, type=click.IntRange(1, 100_000))
def load_demo_cmd(seed: int, n_devices: int):
    """Load the generated demo fleet (Karamay) into an empty inventory."""
    from fleetops.services.inventory.demo import load_demo_fleet

    with session() as s:
        summary = load_demo_fleet(s, seed=seed, n_devices=n_devices)
    if not summary:
        say(Msg("inventory not empty: demo fleet not loaded"))
        return
    say(Msg("demo fleet loaded: %(sites)s sites, %(devices)s devices, %(certificates)s certificates",
            sites=summary["sites"], devices=summary["devices"], certificates=summary["certificates"]))
