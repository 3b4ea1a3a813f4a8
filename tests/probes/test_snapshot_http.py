"""Q3: snapshots fetched over HTTP digest auth from the local simulated camera server, and from an upload folder."""
import os
import time

import pytest

from fleetops.simulator.snapshots import SnapshotServer
from probes import snapshot
from fleetops.domain import quality as rules
from probes.vision import imaging

T = imaging.Thresholds.from_mapping(rules.DEFAULT_THRESHOLDS)


@pytest.fixture
def cams():
    server = SnapshotServer({"K105-CAM1": ("admin", "s3cret-Pw"), "K106-CAM1": ("admin", "other-Pw")}, port=0).start()
    yield server
    server.stop()


def test_digest_snapshot_returns_a_real_jpeg(cams):
    result = snapshot.fetch_snapshot("K105-CAM1", cams.url_for("K105-CAM1"), "admin", "s3cret-Pw")
    assert result.ok, result.detail
    img = imaging.decode_image(result.data)
    assert img.shape[1] >= 640


def test_wrong_password_is_a_clear_failure_without_the_password(cams):
    result = snapshot.fetch_snapshot("K105-CAM1", cams.url_for("K105-CAM1"), "admin", "wrong-pass")
    assert not result.ok
    assert "authentication failed" in result.detail
    assert "wrong-pass" not in result.detail and "wrong-pass" not in repr(result)


def test_unknown_camera_and_closed_port_fail_within_the_timeout(cams):
    missing = snapshot.fetch_snapshot("X", cams.url_for("NOPE"), "admin", "x")
    assert not missing.ok and "404" in missing.detail
    cams.stop()
    start = time.monotonic()
    closed = snapshot.fetch_snapshot("K105-CAM1", cams.url_for("K105-CAM1"), "admin", "s3cret-Pw", timeout_s=1.0)
    assert not closed.ok and "cannot connect" in closed.detail
    assert time.monotonic() - start < 3


def test_a_live_camera_never_repeats_a_frame_but_a_frozen_one_does(cams):
    def fingerprint():
        r = snapshot.fetch_snapshot("K105-CAM1", cams.url_for("K105-CAM1"), "admin", "s3cret-Pw")
        return imaging.score_image(imaging.decode_image(r.data), T, faces=False)["fingerprint"]

    a, b = fingerprint(), fingerprint()
    assert not imaging.is_frozen(a, b)
    cams.set_fault("K105-CAM1", "frozen")
    c, d = fingerprint(), fingerprint()
    assert imaging.is_frozen(c, d)


def test_injected_faults_degrade_the_served_image(cams):
    url = cams.url_for("K105-CAM1")

    def scores():
        r = snapshot.fetch_snapshot("K105-CAM1", url, "admin", "s3cret-Pw")
        return imaging.score_image(imaging.decode_image(r.data), T, faces=False)

    good = scores()
    cams.set_fault("K105-CAM1", "dark")
    assert scores()["exposure"]["mean_luma"] < good["exposure"]["mean_luma"] / 4
    cams.set_fault("K105-CAM1", "blur")
    assert scores()["sharpness"] < good["sharpness"] / 3
    cams.set_fault("K105-CAM1", None)
    assert scores()["sharpness"] > good["sharpness"] / 2
    with pytest.raises(ValueError):
        cams.set_fault("K105-CAM1", "melted")


def test_upload_folder_gives_the_newest_image(tmp_path, shared_data):
    old, new = tmp_path / "a.jpg", tmp_path / "b.jpg"
    old.write_bytes((shared_data / "plates" / "ccpd_blue_14.jpg").read_bytes())
    new.write_bytes((shared_data / "plates" / "easypr_031.jpg").read_bytes())
    os.utime(old, (time.time() - 60, time.time() - 60))
    result = snapshot.fetch_snapshot("K1", str(tmp_path))
    assert result.ok and result.source_name == "b.jpg"
    assert not snapshot.fetch_snapshot("K1", str(tmp_path / "missing")).ok
    assert "no image" in snapshot.fetch_snapshot("K1", str(tmp_path / "empty") if (tmp_path / "empty").mkdir() is None else "").detail


def test_unsupported_or_missing_source_is_reported():
    assert "no snapshot source" in snapshot.fetch_snapshot("K1", "").detail
    assert "unsupported" in snapshot.fetch_snapshot("K1", "ftp://127.0.0.1/x").detail


def test_rtsp_stream_that_does_not_answer_is_a_clear_failure():
    result = snapshot.fetch_snapshot("K1", "rtsp://127.0.0.1:9/stream", timeout_s=1.0)
    assert not result.ok and result.detail


@pytest.fixture
def basic_cam(shared_data):
    """A Dahua-style /cgi-bin/snapshot.cgi that only speaks HTTP basic auth."""
    import base64
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    jpeg = (shared_data / "plates" / "ccpd_blue_14.jpg").read_bytes()
    good = "Basic " + base64.b64encode(b"admin:dahua-Pw1").decode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            return

        def do_GET(self):  # noqa: N802
            if self.headers.get("Authorization") != good:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="cam"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(jpeg)))
            self.end_headers()
            self.wfile.write(jpeg)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/cgi-bin/snapshot.cgi?channel=1"
    server.shutdown()
    server.server_close()


def test_basic_auth_camera_answers_when_the_server_asks_for_basic(basic_cam):
    ok = snapshot.fetch_snapshot("D1", basic_cam, "admin", "dahua-Pw1")
    assert ok.ok and ok.data[:2] == b"\xff\xd8"
    bad = snapshot.fetch_snapshot("D1", basic_cam, "admin", "nope")
    assert not bad.ok and "authentication failed" in bad.detail


def test_a_snapshot_larger_than_the_limit_is_refused(cams):
    result = snapshot.fetch_snapshot("K105-CAM1", cams.url_for("K105-CAM1"), "admin", "s3cret-Pw", max_bytes=10_000)
    assert not result.ok and "too large" in result.detail


@pytest.mark.parametrize("scene", __import__("fleetops.simulator.snapshots", fromlist=["SCENES"]).SCENES)
def test_every_healthy_simulated_frame_scores_clean_at_night(scene, shared_data):
    """Q2 in the demo: a healthy simulated camera must never raise a finding, whatever its light step; a change
    of the face or plate verdict that breaks one of these frames would open false tickets in the demo at night."""
    import numpy as np

    from fleetops.simulator.snapshots import JITTER_LEVELS

    base = imaging.read_image_file(str(shared_data / scene))
    t = imaging.Thresholds.from_mapping(rules.DEFAULT_THRESHOLDS)
    for level in JITTER_LEVELS:
        frame = np.clip(base.astype(np.int16) + level, 0, 255).astype(np.uint8)
        scores = imaging.score_image(imaging.decode_image(imaging.encode_jpeg(frame, 88)), t, faces=True)
        assert scores["plate_legible"] and scores["faces_visible"], (scene, level, scores.get("face_reasons"))
