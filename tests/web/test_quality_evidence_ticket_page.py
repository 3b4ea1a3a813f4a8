"""Issue 5: a quality ticket's page shows its evidence snapshot (thumbnail linking to the full image)."""
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from fleetops.models import Device, Site
from fleetops.models.quality import QualityFinding
from fleetops.services import quality, tickets
from fleetops.simulator.snapshots import SnapshotServer

BJ = ZoneInfo("Asia/Shanghai")
NOON = datetime(2026, 6, 21, 14, 0, tzinfo=BJ)


@pytest.fixture
def cams():
    server = SnapshotServer({"K105-CAM1": ("admin", "Cam-pass-1")}, port=0).start()
    yield server
    server.stop()


@pytest.fixture
def blur_ticket(app, db, cams):
    site = Site(code="K-105", name="K-105 北门卡口", latitude=45.65, longitude=84.95)
    db.add(site)
    db.flush()
    cam = Device(code="K105-CAM1", name="北门卡口相机1", kind="checkpoint_camera", site_id=site.id,
                 snapshot_url=cams.url_for("K105-CAM1"), snapshot_username="admin", snapshot_password="Cam-pass-1")
    db.add(cam)
    db.commit()
    cams.set_fault("K105-CAM1", "blur")
    for i in range(3):
        quality.sample_device(db, cam, store_dir=app.config["UPLOAD_DIR"], now=NOON + timedelta(hours=i))
    db.commit()
    finding = db.scalar(select(QualityFinding))
    return tickets.get_ticket(db, finding.ticket_id)


@pytest.mark.parametrize("role", ["supervisor", "admin"])
def test_a_quality_ticket_page_shows_the_evidence_image_linking_to_full_size(client_as, blur_ticket, role):
    t = blur_ticket
    assert t.source == "quality" and t.evidence_path
    client = client_as(role)
    page = client.get(f"/tickets/{t.id}").get_data(as_text=True)
    url = f"/quality/image/{t.evidence_path}"
    assert 'id="quality-evidence"' in page
    assert f'<a href="{url}"' in page and f'<img src="{url}"' in page
    img = client.get(url)
    assert img.status_code == 200 and img.mimetype == "image/jpeg" and img.data[:2] == b"\xff\xd8"


def test_the_assigned_crew_member_sees_the_evidence_image_too(client_as, blur_ticket, db, users):
    t = blur_ticket
    tickets.dispatch(db, t.id, assignee_id=users["crew"].id, actor="test", at=NOON + timedelta(hours=2))
    db.commit()
    client = client_as("crew")
    resp = client.get(f"/tickets/{t.id}")
    assert resp.status_code == 200
    assert f'<img src="/quality/image/{t.evidence_path}"' in resp.get_data(as_text=True)


def test_a_ticket_that_is_not_from_image_quality_keeps_its_evidence_as_text(client_as, db, blur_ticket):
    t = blur_ticket
    t.source, t.evidence_path = "supervisor", "monitoring/notes.pdf"
    db.commit()
    page = client_as("supervisor").get(f"/tickets/{t.id}").get_data(as_text=True)
    assert "monitoring/notes.pdf" in page and "/quality/image/" not in page


# The words each plate reason code is shown with to a Chinese reader (fleetops/translations/zh/quality.po).
ZH_PLATE_REASONS = {"no_plate_found": "未找到车牌", "too_small": "车牌过小", "too_dark": "车牌过暗",
                    "glare": "车牌反光/眩光", "blurred": "车牌模糊", "occluded": "车牌被遮挡或褪色不清"}
EN_PLATE_REASONS = {"no_plate_found": "no plate found", "too_small": "plate too small", "too_dark": "plate too dark",
                    "glare": "glare on the plate", "blurred": "plate blurred", "occluded": "plate covered or washed out"}


@pytest.fixture
def plate_ticket(app, db):
    """A camera whose starved encoder smears its plate into JPEG blocks, three frames in a row (degraded copies of a
    real toll-lane frame, fixed seeds): a plate finding and its ticket."""
    from fleetops.services.quality.common import imaging_thresholds, thresholds
    from fleetops.services.quality.sampling import Capture
    from fleetops.simulator.snapshots import SHARED_DATA
    from probes.vision import degrade, imaging

    site = Site(code="K-105", name="K-105 北门卡口", latitude=45.65, longitude=84.95)
    db.add(site)
    db.flush()
    cam = Device(code="K105-CAM2", name="北门卡口相机2", kind="checkpoint_camera", site_id=site.id)
    db.add(cam)
    db.commit()
    scene = imaging.read_image_file(str(SHARED_DATA / "faces" / "toll_front_01.png"))
    samples = []
    for i in range(3):
        at = NOON + timedelta(hours=i)
        img = degrade.degrade_copy(scene, "jpeg", [674, 658, 894, 751], seed=i)  # the labelled plate box
        data = imaging.encode_jpeg(img, 95)
        t = imaging_thresholds(thresholds(db, cam, "day"))
        cap = Capture(cam.id, at, True, "", data, img, imaging.score_image(img, t, faces=False))
        samples.append(quality.record_capture(db, cam, cap, store_dir=app.config["UPLOAD_DIR"]))
    db.commit()
    finding = db.scalar(select(QualityFinding).where(QualityFinding.kind == "plate_illegible"))
    assert finding is not None, [s.problems for s in samples]
    return tickets.get_ticket(db, finding.ticket_id), samples[-1]


def test_a_plate_ticket_shows_why_in_chinese_with_the_plate_crop_as_evidence(client_as, plate_ticket):
    import cv2
    import numpy as np

    t, sample = plate_ticket
    reasons = sample.scores["plates"][0]["reasons"]
    assert reasons and set(reasons) <= set(ZH_PLATE_REASONS)
    # The evidence is the crop round the plate, kept beside the frame, not the frame itself.
    assert t.evidence_path == sample.scores["evidence_crop"] != sample.image_path
    client = client_as("supervisor")
    page = client.get(f"/tickets/{t.id}").get_data(as_text=True)
    assert "号牌不可辨认" in page  # the finding kind, in the reader's language (Chinese by default)
    for code in reasons:
        assert ZH_PLATE_REASONS[code] in page and EN_PLATE_REASONS[code] not in page
    url = f"/quality/image/{t.evidence_path}"
    assert f'<img src="{url}"' in page
    crop = cv2.imdecode(np.frombuffer(client.get(url).data, np.uint8), cv2.IMREAD_COLOR)
    frame = cv2.imdecode(np.frombuffer(client.get(f"/quality/image/{sample.image_path}").data, np.uint8),
                         cv2.IMREAD_COLOR)
    assert crop is not None and frame is not None
    assert crop.shape[0] == 240 and crop.shape[1] < frame.shape[1] / 2  # a plate crop at the evidence height
    client.get("/lang/en")
    page = client.get(f"/tickets/{t.id}").get_data(as_text=True)
    for code in reasons:
        assert EN_PLATE_REASONS[code] in page and ZH_PLATE_REASONS[code] not in page
