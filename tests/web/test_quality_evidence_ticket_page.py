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
