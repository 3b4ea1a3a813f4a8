"""`fleetops import-inventory`, `fleetops export-inventory` and `fleetops load-demo`."""
from pathlib import Path

import click

from fleetops.cli import echo_json, fail, session


@click.command("import-inventory")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check every row and report; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def import_inventory_cmd(file: Path, dry_run: bool, as_json: bool):
    """Import sites and devices from a CSV (UTF-8/GBK) or XLSX file; nothing is written if any row is bad."""
    from fleetops.services.inventory_import import import_inventory

    try:
        data = file.read_bytes()
    except OSError as err:
        fail(f"无法读取 {file}：{err.strerror} / Cannot read {file}: {err.strerror}")
    bar = None

    def progress(done, total):
        nonlocal bar
        if total < 500:
            return
        if bar is None:
            bar = click.progressbar(length=total, label="写入 / writing", file=click.get_text_stream("stderr"))
            bar.__enter__()
        bar.update(done - bar.pos)

    with session() as s:
        result = import_inventory(s, data, file.name, actor="cli", dry_run=dry_run, progress=progress)
        if bar is not None:
            bar.__exit__(None, None, None)
        if not result.ok:
            s.rollback()
    if as_json:
        echo_json(result.summary() | {"problems": [e.__dict__ for e in result.errors], "warnings": result.warnings})
    else:
        for w in result.warnings:
            click.echo(w, err=True)
        for e in result.errors:
            click.echo(str(e), err=True)
        verb = "检查通过，将会 / check passed, would have" if dry_run else "已导入 / imported"
        if result.ok:
            click.echo(f"{verb}: {result.rows} rows ({result.encoding}) — created {result.created}, updated "
                       f"{result.updated}, unchanged {result.unchanged}; sites created {result.sites_created}, "
                       f"updated {result.sites_updated}")
    if not result.ok:
        fail(f"{len(result.errors)} 处问题，未导入任何数据 / {len(result.errors)} problems; nothing was imported.")


@click.command("export-inventory")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True,
              help="Column headers and labels.")
def export_inventory_cmd(file: Path, lang: str):
    """Write the inventory to FILE.xlsx or FILE.csv (secrets are never exported); it imports back unchanged."""
    from fleetops.services.inventory_import import export_inventory

    fmt = file.suffix.lower().lstrip(".")
    if fmt not in ("xlsx", "csv"):
        fail(f"文件名应以 .xlsx 或 .csv 结尾 / The file name must end in .xlsx or .csv: {file}")
    with session() as s:
        data = export_inventory(s, fmt, lang)
        from fleetops.models import Device
        n = s.query(Device).count()
    try:
        file.write_bytes(data)
    except OSError as err:
        fail(f"无法写入 {file}：{err.strerror} / Cannot write {file}: {err.strerror}")
    click.echo(f"exported {n} devices to {file}")


@click.command("load-demo")
@click.option("--seed", default=7, show_default=True, type=int)
@click.option("--devices", "n_devices", default=600, show_default=True, type=click.IntRange(1, 100_000))
def load_demo_cmd(seed: int, n_devices: int):
    """Load the generated demo fleet (Karamay) into an empty inventory."""
    from fleetops.services.demo import load_demo_fleet

    with session() as s:
        summary = load_demo_fleet(s, seed=seed, n_devices=n_devices)
    if not summary:
        click.echo("inventory not empty: demo fleet not loaded")
        return
    click.echo(f"demo fleet loaded: {summary['sites']} sites, {summary['devices']} devices, "
               f"{summary['certificates']} certificates")
