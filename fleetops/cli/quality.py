"""Image-quality commands: score image files, sample camera snapshots now, import pass records from a folder."""
import json
import sys

import click

from fleetops.cli import echo_json, fail, get_app
from fleetops.domain.errors import FleetopsError
from fleetops.domain.quality import plate_reasons_msg
from fleetops.domain.text import Msg

HIDDEN_KEYS = ("fingerprint", "error_msg")  # internal comparison data and the error for people, not for JSON


def _public(result: dict) -> dict:
    return {k: v for k, v in result.items() if k not in HIDDEN_KEYS}


@click.command("score-image")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array, one object per file, in input order.")
@click.option("--read", "read_text", is_flag=True, help="Also read plate text with the optional reader (~1 s/image).")
def score_image(files, as_json, read_text):
    """Score snapshot FILES: sharpness, exposure, plates (legible?), faces (visible?), with the reasons."""
    from fleetops.services import quality

    if read_text and not quality.plate_reader_available():
        click.echo(str(Msg("note: no plate reader installed; plates are scored, not read")), err=True)
    scored = quality.score_files(files, read_text=read_text)
    results = [_public(r) for r in scored]
    if as_json:
        click.echo(json.dumps(results, ensure_ascii=False, indent=2))
    else:
        for full, r in zip(scored, results):
            if "error" in r:
                click.echo(str(Msg("%(file)s: error: %(error)s", file=r["file"], error=full["error_msg"])))
                continue
            main_plate = r["plates"][0] if r["plates"] else None
            plate = (f"plate {main_plate['width_px']} px {'legible' if r['plate_legible'] else 'NOT legible'}"
                     + (f" {main_plate['text']}" if main_plate and main_plate.get("text") else "")
                     if main_plate else "no plate")
            click.echo(f"{r['file']}: sharpness={r['sharpness']:.0f} mean_luma={r['exposure']['mean_luma']:.0f} "
                       f"{plate}; faces={len(r['faces'])} visible={r['faces_visible']}"
                       + (f"; {Msg('reasons: %(why)s', why=plate_reasons_msg(r['reasons']))}" if r["reasons"] else ""))
    if any("error" in r for r in results):
        sys.exit(1)


@click.command("sample-snapshots")
@click.option("--device", "code", default=None, help="One camera's code (default: every camera with a snapshot source).")
@click.option("--timeout", "timeout_s", default=5.0, show_default=True, help="Seconds per snapshot.")
def sample_snapshots(code, timeout_s):
    """Take a snapshot of cameras now, score it, and update findings and tickets (Q3)."""
    from fleetops.services import quality

    app = get_app()
    with app.app_context():
        try:
            report = quality.sample_snapshots_report(app.extensions["fleetops.sessionmaker"], code,
                                                     store_dir=app.config["UPLOAD_DIR"], timeout_s=timeout_s)
        except FleetopsError as err:
            if err.status_code == 404:
                raise
            fail(err.message)
    echo_json(report)


@click.command("import-passes")
@click.argument("folder", type=click.Path(file_okay=False))
def import_passes(folder):
    """Import pass records from FOLDER (files <DEVICE>_<YYYYmmddHHMMSS>_<PLATE>.jpg) for the plate audit (Q1)."""
    from fleetops.services import quality

    app = get_app()
    with app.app_context():
        result = quality.import_pass_folder(app.extensions["fleetops.sessionmaker"], folder,
                                            store_dir=app.config["UPLOAD_DIR"])
    echo_json(result)
    if result["errors"]:
        sys.exit(1)
