"""The crew asks from the tablet (photo + note, big targets); supervisors see a badge and decide from the queue."""
import io
from datetime import timedelta

from sqlalchemy import select

from fleetops.models.base import utcnow
from fleetops.models.monitoring import ExclusionRequest, Outage
from fleetops.models.tickets import Ticket
from fleetops.platform import events
from tests.tickets_fixtures import make_fleet, qualify

JPEG = b"\xff\xd8\xff\xe0" + b"0" * 64


def _on_site(db, users):
    fleet = make_fleet(db, users["crew"])
    qualify(db, users["crew"])
    o = Outage(device_id=fleet["cam"].id, started_at=utcnow() - timedelta(minutes=30),
               detected_at=utcnow() - timedelta(minutes=27))
    db.add(o)
    db.flush()
    events.emit(db, "outage_opened", outage_id=o.id, device_id=fleet["cam"].id, started_at=o.started_at,
                detected_at=o.detected_at)
    db.commit()
    return db.scalar(select(Ticket)), o


def test_crew_asks_from_the_tablet_and_the_supervisor_approves_from_the_queue(client_as, db, users):
    t, o = _on_site(db, users)
    crew = client_as("crew")
    crew.post(f"/tickets/{t.id}/step", data={"action": "arrive", "request_id": "arr-1"})
    page = crew.get(f"/tickets/{t.id}").get_data(as_text=True)
    assert 'id="request-exclusion"' in page and "btn-big" in page and "供电" in page
    r = crew.post(f"/exclusions/ticket/{t.id}", data={"cause": "power_utility", "site_note": "整条路停电",
                                                       "photo": (io.BytesIO(JPEG), "site.jpg")},
                  content_type="multipart/form-data", follow_redirects=True)
    assert r.status_code == 200
    missing = crew.post(f"/exclusions/ticket/{t.id}", data={"cause": "power_utility", "site_note": "再来"},
                        content_type="multipart/form-data", follow_redirects=True)
    assert missing.status_code == 200 and "照片" in missing.get_data(as_text=True)  # a sentence, not a 500
    assert len(db.scalars(select(ExclusionRequest)).all()) == 1  # nothing more written
    assert crew.get("/exclusions/").status_code == 403
    sup = client_as("supervisor")
    queue = sup.get("/exclusions/").get_data(as_text=True)
    assert 'id="exclusions-badge">1<' in queue and "整条路停电" in queue and "K105-CAM1" in queue
    [req] = db.scalars(select(ExclusionRequest)).all()
    assert sup.get(f"/exclusions/{req.id}/photo").data == JPEG
    sup.post(f"/exclusions/{req.id}/decide", data={"decision": "approve"})
    db.expire_all()
    assert db.get(Outage, o.id).cause == "power_utility"
    assert 'id="exclusions-badge"' not in sup.get("/exclusions/").get_data(as_text=True)


def test_crew_says_it_cannot_be_repaired_on_site_and_the_swap_clock_shows(client_as, db, users):
    t, _o = _on_site(db, users)
    crew = client_as("crew")
    crew.post(f"/tickets/{t.id}/step", data={"action": "arrive", "request_id": "arr-2"})
    crew.post(f"/tickets/{t.id}/cannot-repair", data={"request_id": "swap-1"})
    crew.post(f"/tickets/{t.id}/cannot-repair", data={"request_id": "swap-1"})  # resent: applied once
    page = crew.get(f"/tickets/{t.id}").get_data(as_text=True)
    assert 'id="swap-by"' in page and 'id="cannot-repair"' not in page


def test_pages_show_no_requirement_ids(client_as, db, users):
    import re

    for url, who in (("/admin/parameters", "admin"), ("/tickets/penalties", "supervisor"),
                     ("/exclusions/", "supervisor")):
        html = client_as(who).get(url).get_data(as_text=True)
        text = re.sub(r"<[^>]+>", " ", html)
        assert not re.search(r"\b[UTFPQSA][0-9]\s*[:：]", text), url
