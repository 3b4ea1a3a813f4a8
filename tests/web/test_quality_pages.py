"""Q1/Q3 pages and API: findings with evidence, a camera's snapshots, sample now, the audit queue, accuracy, pass records."""
import base64
import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from fleetops.models import Device, Site
from fleetops.models.quality import AuditSample, PassRecord, QualityFinding
from fleetops.platform import parameters
from fleetops.services import quality
from fleetops.simulator.snapshots import SnapshotServer

BJ = ZoneInfo("Asia/Shanghai")
NOON = datetime(2026, 6, 21, 14, 0, tzinfo=BJ)


@pytest.fixture
def cams():
    server = SnapshotServer({"K105-CAM1": ("admin", "Cam-pass-1")}, port=0).start()
    yield server
    server.stop()


@pytest.fixture
def cam(db, cams):
    site = Site(code="K-105", name="K-105 北门卡口", latitude=45.65, longitude=84.95)
    db.add(site)
    db.flush()
    device = Device(code="K105-CAM1", name="北门卡口相机1", kind="checkpoint_camera", site_id=site.id,
                    snapshot_url=cams.url_for("K105-CAM1"), snapshot_username="admin", snapshot_password="Cam-pass-1")
    db.add(device)
    db.commit()
    return device


def test_sample_now_stores_a_snapshot_shown_on_the_camera_page_without_the_password(app, client_as, cam, db):
    client = client_as("crew")
    resp = client.post("/quality/camera/K105-CAM1/sample")
    assert resp.status_code == 302
    page = client.get("/quality/camera/K105-CAM1").get_data(as_text=True)
    assert "Cam-pass-1" not in page
    [s] = quality.latest_samples(db, cam.id)
    assert s.ok and s.trigger == "on_demand"
    assert f"/quality/image/{s.image_path}" in page
    img = client.get(f"/quality/image/{s.image_path}")
    assert img.status_code == 200 and img.data[:2] == b"\xff\xd8"


def test_stored_images_cannot_be_read_outside_the_store(client_as, cam):
    client = client_as("crew")
    assert client.get("/quality/image/../../etc/passwd").status_code == 404
    assert client.get("/quality/image/quality/../fleetops.sqlite3").status_code == 404


def test_findings_page_shows_the_evidence_image(app, client_as, cam, cams, db):
    cams.set_fault("K105-CAM1", "blur")
    for i in range(3):
        quality.sample_device(db, cam, store_dir=app.config["UPLOAD_DIR"], now=NOON + timedelta(hours=i))
    db.commit()
    finding = db.scalar(select(QualityFinding))
    page = client_as("supervisor").get("/quality/").get_data(as_text=True)
    assert "K105-CAM1" in page and f"/quality/image/{finding.evidence_path}" in page
    assert "图像模糊" in page or "镜头" in page  # Chinese by default


def test_audit_queue_shows_the_plate_crop_and_takes_a_corrected_plate(app, client_as, cam, db, shared_data, users):
    quality.record_pass(db, device_code="K105-CAM1", captured_at=datetime(2026, 6, 29, 14, tzinfo=BJ), plate="皖ALJ624",
                        store_dir=app.config["UPLOAD_DIR"], image=(shared_data / "plates" / "ccpd_blue_14.jpg").read_bytes(),
                        external_id="r1", reader=None, rng=random.Random(1))
    db.commit()
    client = client_as("crew")
    page = client.get("/quality/audit").get_data(as_text=True)
    [item] = db.scalars(select(AuditSample)).all()
    assert "皖ALJ624" in page and f"/quality/audit/{item.id}/crop.jpg" in page
    crop = client.get(f"/quality/audit/{item.id}/crop.jpg")
    assert crop.status_code == 200 and crop.data[:2] == b"\xff\xd8"
    bad = client.post(f"/quality/audit/{item.id}", data={"verdict": "maybe"})
    assert bad.status_code == 302
    db.expire_all()
    assert db.get(AuditSample, item.id).outcome is None
    client.post(f"/quality/audit/{item.id}", data={"verdict": "wrong", "corrected_text": "皖alj 634"})
    db.expire_all()
    done = db.get(AuditSample, item.id)
    assert (done.outcome, done.corrected_text, done.reviewed_by) == ("wrong", "皖ALJ634", "crew")
    assert "Nothing to audit" in client.get("/quality/audit").get_data(as_text=True) or \
        "没有待审核" in client.get("/quality/audit").get_data(as_text=True)


def test_accuracy_page_is_for_supervisors_and_rejects_a_bad_month(client_as, cam):
    assert client_as("crew").get("/quality/accuracy").status_code == 403
    sup = client_as("supervisor")
    assert sup.get("/quality/accuracy?month=2026-06").status_code == 200
    assert sup.get("/quality/accuracy?month=June").status_code == 302  # flashed error, no 500


def test_api_accepts_a_pass_record_with_an_image_and_refuses_a_bad_one(app, client_as, api_headers, cam, db, shared_data):
    h = api_headers("supervisor")
    body = {"device": "K105-CAM1", "captured_at": "2026-06-29T14:00:00+08:00", "plate": "皖ALJ624", "external_id": "x1",
            "image_base64": base64.b64encode((shared_data / "plates" / "ccpd_blue_14.jpg").read_bytes()).decode()}
    resp = app.test_client().post("/api/v1/pass-records", json=body, headers=h)
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["audited"] is True and resp.get_json()["period"] == "day"
    bad = app.test_client().post("/api/v1/pass-records", json={**body, "external_id": "x2", "captured_at": "2026-06-29T14:00:00"},
                                 headers=h)
    assert bad.status_code == 422 and "2026-06-21T14:00:00+08:00" in bad.get_json()["error"]
    assert "时区" in bad.get_json()["error"]  # Chinese by default; the English msgid names the offset
    bad_img = app.test_client().post("/api/v1/pass-records", json={**body, "external_id": "x3", "image_base64": "AAAA"},
                                     headers=h)
    assert bad_img.status_code == 422
    assert db.scalar(select(func.count()).select_from(PassRecord)) == 1
    assert app.test_client().post("/api/v1/pass-records", json=body, headers=api_headers("crew")).status_code == 403


def test_api_reads_a_drawn_image_with_no_write_open(app, api_headers, cam, db, shared_data, monkeypatch):
    """The reference reader takes ~1 s a frame: a camera posting pass records must not hold the database meanwhile."""
    from probes.vision import plate_reader
    from tests.db_probes import writes_in_flight

    seen = []

    class WatchingReader:
        name = "watching"

        def read_plates(self, frame):
            seen.append(writes_in_flight(db.get_bind()))
            return [("皖ALJ624", [10, 10, 120, 40])]

    monkeypatch.setattr(plate_reader, "default_reader", WatchingReader)
    body = {"device": "K105-CAM1", "captured_at": "2026-06-29T14:00:00+08:00", "plate": "皖ALJ624", "external_id": "w1",
            "image_base64": base64.b64encode((shared_data / "plates" / "ccpd_blue_14.jpg").read_bytes()).decode()}
    resp = app.test_client().post("/api/v1/pass-records", json=body, headers=api_headers("supervisor"))
    assert resp.status_code == 201 and resp.get_json()["audited"] is True
    assert seen == [False]
    db.rollback()
    assert db.scalar(select(AuditSample.auto_result)) == "agree"


def test_api_lists_findings_and_accuracy(app, api_headers, cam):
    c = app.test_client()
    assert c.get("/api/v1/quality/findings", headers=api_headers("crew")).get_json() == {"findings": []}
    acc = c.get("/api/v1/quality/accuracy?month=2026-06", headers=api_headers("supervisor")).get_json()
    assert acc == {"month": "2026-06", "rows": []}
    assert c.get("/api/v1/quality/accuracy?month=13", headers=api_headers("supervisor")).status_code == 422
    spec = c.get("/api/v1/openapi.json").get_json()
    assert "/pass-records" in spec["paths"] and "/quality/accuracy" in spec["paths"]


def test_a_failed_snapshot_is_shown_with_its_reason_in_english_too(app, client_as, cam, cams, db):
    cams.stop()
    quality.sample_device(db, cam, store_dir=app.config["UPLOAD_DIR"], now=NOON, timeout_s=1.0)
    db.commit()
    client = client_as("supervisor")
    page = client.get("/quality/camera/K105-CAM1").get_data(as_text=True)
    assert "抓拍失败" in page and "无法连接" in page  # the stored reason code, in the reader's language
    client.get("/lang/en")
    page = client.get("/quality/camera/K105-CAM1").get_data(as_text=True)
    assert "Snapshot failed" in page and "Sample now" in page and "Cannot connect" in page
    assert client.get("/quality/devices").status_code == 200
