"""`fleetops score-image` and `fleetops sample-snapshots`: output shape, order, errors without tracebacks."""
import json

from click.testing import CliRunner

from fleetops.cli import main


def test_score_image_json_is_one_array_in_input_order_with_the_required_fields(shared_data, tmp_path):
    bad = tmp_path / "truncated.jpg"
    bad.write_bytes((shared_data / "plates" / "ccpd_blue_14.jpg").read_bytes()[:3000])
    files = [str(shared_data / "faces" / "toll_front_02.png"), str(bad), str(shared_data / "plates" / "easypr_031.jpg")]
    result = CliRunner().invoke(main, ["score-image", *files, "--json"])
    assert result.exit_code == 1  # one file was bad
    assert "Traceback" not in result.output
    out = json.loads(result.output)
    assert [o["file"] for o in out] == files
    good, broken, third = out
    assert "truncated" in broken["error"] and set(broken) == {"file", "error"}
    for o in (good, third):
        for key in ("sharpness", "exposure", "plates", "plate_legible", "faces", "faces_visible", "reasons"):
            assert key in o
        for p in o["plates"]:
            x1, y1, x2, y2 = p["bbox"]
            assert x2 > x1 and y2 > y1 and p["width_px"] == x2 - x1 and isinstance(p["legible"], bool)
        for f in o["faces"]:
            assert len(f["bbox"]) == 4 and isinstance(f["visible"], bool)
    assert good["plate_legible"] is True and good["faces_visible"] is True
    assert "fingerprint" not in good


def test_score_image_exit_status_is_zero_when_all_files_score(shared_data):
    result = CliRunner().invoke(main, ["score-image", str(shared_data / "blur_pairs" / "gopro_flower_sharp.png")])
    assert result.exit_code == 0 and "sharpness=" in result.output


def test_sample_snapshots_for_an_unknown_device_is_a_clear_error(app, monkeypatch):
    import fleetops.cli as cli

    monkeypatch.setattr(cli, "_app", app)
    result = CliRunner().invoke(main, ["sample-snapshots", "--device", "NOPE"])
    assert result.exit_code == 1 and "NOPE" in result.output and "Traceback" not in result.output


def test_sample_snapshots_samples_a_camera_and_prints_its_result(app, db, monkeypatch):
    import fleetops.cli as cli
    from fleetops.models import Device, Site
    from fleetops.simulator.snapshots import SnapshotServer

    server = SnapshotServer({"K105-CAM1": ("admin", "Cam-pass-1")}, port=0).start()
    try:
        site = Site(code="K-105", name="K-105 北门卡口", latitude=45.65, longitude=84.95)
        db.add(site)
        db.flush()
        db.add(Device(code="K105-CAM1", kind="checkpoint_camera", site_id=site.id, snapshot_url=server.url_for("K105-CAM1"),
                      snapshot_username="admin", snapshot_password="Cam-pass-1"))
        db.commit()
        monkeypatch.setattr(cli, "_app", app)
        result = CliRunner().invoke(main, ["sample-snapshots", "--device", "K105-CAM1"])
    finally:
        server.stop()
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["counts"]["sampled"] == 1 and out["samples"][0]["ok"] is True
    assert "Cam-pass-1" not in result.output
