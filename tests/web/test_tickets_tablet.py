"""The crew's tablet and the supervisors' pages over HTTP: home, big button, duplicates, photos, permissions (T7, A3)."""
import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from fleetops.models.tickets import Ticket, TicketPhoto
from fleetops.platform import events
from fleetops.services import spares
from probes.vision import thumbnails
from tests.tickets_fixtures import make_fleet, qualify, stock

CHECKLIST = ["vest", "warning_lights", "cone_10m", "cone_30m", "cone_50m", "cone_100m", "cone_200m"]


@pytest.fixture
def opened(db, users):
    """An outage on K105-CAM1 detected now, a qualified crew, fill lights in the warehouse."""
    fleet = make_fleet(db, users["crew"])
    qualify(db, users["crew"])
    pt, loc = stock(db, on_hand=3)
    from fleetops.models.base import utcnow

    events.emit(db, "outage_opened", outage_id=41, device_id=fleet["cam"].id,
                started_at=utcnow() - timedelta(minutes=4), detected_at=utcnow())
    db.commit()
    return {"ticket": db.scalar(select(Ticket)), "pt": pt, "loc": loc, **fleet}


def post(client, url, **data):
    data.setdefault("request_id", f"rid-{url}-{sorted(data.items())}"[:64])
    return client.post(url, data=data)


def test_crew_lands_on_my_tickets_in_chinese(client_as, opened):
    c = client_as("crew")
    resp = c.get("/", follow_redirects=True)
    html = resp.get_data(as_text=True)
    assert resp.request.path == "/tickets/mine"
    assert "我的工单" in html and "K-105 北门卡口" in html and "设备离线" in html
    assert 'data-due="' in html  # the countdown to arrive-by


def test_big_button_walks_the_ticket_and_a_resent_form_is_applied_once(client_as, db, opened):
    c, t = client_as("crew"), opened["ticket"]
    page = c.get(f"/tickets/{t.id}").get_data(as_text=True)
    assert 'id="next-step"' in page and "出发" in page
    rid = re.search(r'name="request_id" value="([0-9a-f]+)"', page).group(1)
    for _ in range(2):  # the tablet resends after a timeout: same request id
        resp = c.post(f"/tickets/{t.id}/step", data={"action": "depart", "request_id": rid})
        assert resp.status_code == 302
    db.expire_all()
    t = db.get(Ticket, t.id)
    assert t.state == "on_the_way" and [e.action for e in t.events].count("depart") == 1
    c.post(f"/tickets/{t.id}/step", data={"action": "arrive", "lat": "45.6501", "lon": "84.9502", "request_id": "a1"})
    db.expire_all()
    t = db.get(Ticket, t.id)
    assert t.state == "arrived" and (t.arrival_lat, t.arrival_lon) == (45.6501, 84.9502)


def test_start_without_checklist_is_refused_with_the_missing_steps(client_as, db, opened):
    c, t = client_as("crew"), opened["ticket"]
    post(c, f"/tickets/{t.id}/step", action="arrive")
    resp = c.post(f"/tickets/{t.id}/step", data={"action": "start_repair", "request_id": "s1"},
                  headers={"Referer": f"/tickets/{t.id}"}, follow_redirects=True)
    assert resp.status_code == 200 and "反光背心" in resp.get_data(as_text=True)
    db.expire_all()
    assert db.get(Ticket, t.id).state == "arrived"


def test_full_tablet_flow_with_part_and_photo_strips_exif(app, client_as, db, opened, shared_data):
    c, t = client_as("crew"), opened["ticket"]
    post(c, f"/tickets/{t.id}/step", action="arrive")
    c.post(f"/tickets/{t.id}/checklist", data={"items": CHECKLIST, "request_id": "c1"})
    post(c, f"/tickets/{t.id}/step", action="start_repair")
    post(c, f"/tickets/{t.id}/part", part_type_id=str(opened["pt"].id), location_id=str(opened["loc"].id), quantity="1")
    jpeg = (shared_data / "plates" / "ccpdsample_blur_0.jpg").read_bytes()
    assert thumbnails.has_exif(jpeg)
    from io import BytesIO

    resp = c.post(f"/tickets/{t.id}/photo", data={"phase": "before", "request_id": "p1",
                                                  "photo": (BytesIO(jpeg), "IMG_0001.jpg")},
                  content_type="multipart/form-data")
    assert resp.status_code == 302
    post(c, f"/tickets/{t.id}/resolve", resolution="part_swapped", notes="更换补光灯")
    db.expire_all()
    t = db.get(Ticket, t.id)
    assert t.state == "resolved" and spares.on_hand(db, opened["pt"].id) == 2
    photo = db.scalar(select(TicketPhoto))
    stored = (Path(app.config["UPLOAD_DIR"]) / photo.path).read_bytes()
    assert not thumbnails.has_exif(stored) and not photo.location_kept
    thumb = c.get(f"/tickets/{t.id}/photos/{photo.id}/thumb")
    assert thumb.status_code == 200 and thumb.data[:3] == b"\xff\xd8\xff" and len(thumb.data) < len(stored)


def test_not_a_photo_is_refused_without_a_trace(client_as, db, opened):
    c, t = client_as("crew"), opened["ticket"]
    post(c, f"/tickets/{t.id}/step", action="arrive")
    from io import BytesIO

    resp = c.post(f"/tickets/{t.id}/photo", data={"phase": "before", "request_id": "p2",
                                                  "photo": (BytesIO(b"MZ\x90\x00 not an image"), "x.jpg")},
                  content_type="multipart/form-data", headers={"Referer": f"/tickets/{t.id}"}, follow_redirects=True)
    assert "只接受 JPEG 或 PNG" in resp.get_data(as_text=True)
    assert db.scalars(select(TicketPhoto)).all() == []


def test_crew_cannot_open_supervisor_pages_nor_another_crews_ticket(client_as, db, users, opened):
    c = client_as("crew")
    assert c.get("/tickets/").status_code == 403
    assert c.post("/tickets/policies", data={"key": "x", "rules": "{}"}).status_code == 403
    from fleetops.services import accounts

    other, _ = accounts.create_user(db, "crew9", "crew", "crew9-pass-123", district="独山子区")
    t = db.get(Ticket, opened["ticket"].id)
    t.assignee_id = other.id
    db.commit()
    assert c.get(f"/tickets/{t.id}").status_code == 403


def test_supervisor_sees_overdue_first_and_the_audit_trail(client_as, db, opened):
    t = db.get(Ticket, opened["ticket"].id)
    from fleetops.services import tickets

    later = tickets.open_ticket(db, device_id=opened["cam2"].id, category="image_blur", source="quality",
                                opened_by="quality")
    t.arrive_by = t.notified_at - timedelta(minutes=1)  # pretend the crew is late
    db.commit()
    c = client_as("supervisor")
    html = c.get("/tickets/").get_data(as_text=True)
    assert html.index(f'/tickets/{t.id}"') < html.index(f'/tickets/{later.id}"')
    assert "已超时" in html
    detail = c.get(f"/tickets/{t.id}").get_data(as_text=True)
    assert 'id="audit"' in detail and "创建工单" in detail and "ticket_opened" not in detail and "监控系统" in detail


def test_only_an_admin_edits_policies_and_bad_values_are_explained(client_as, db):
    sup = client_as("supervisor")
    assert "卡口运维" in sup.get("/tickets/policies").get_data(as_text=True)
    assert sup.post("/tickets/policies", data={"key": "checkpoint_om", "repair_h": "5"}).status_code == 403
    admin = client_as("admin")
    resp = admin.post("/tickets/policies", data={"key": "checkpoint_om", "name": "卡口运维", "repair_h": "-1",
                                                "arrive_day_h": "2", "arrive_night_h": "3"})
    assert resp.status_code == 400 and "请输入大于 0 且不超过 720 的数字" in resp.get_data(as_text=True)


def test_spares_page_warns_below_minimum_and_records_a_receipt_once(client_as, db, opened):
    c = client_as("supervisor")
    pt, loc = opened["pt"], opened["loc"]
    spares.scrap(db, pt.id, loc.id, 1, actor="test", note="进水")
    db.commit()
    html = c.get("/spares/").get_data(as_text=True)
    assert 'id="below-minimum"' in html and "补光灯 (2/3)" in html
    for _ in range(2):
        c.post("/spares/move", data={"kind": "received", "part_type_id": pt.id, "location_id": loc.id,
                                     "quantity": "4", "request_id": "rcv-web-1"})
    assert spares.on_hand(db, pt.id) == 6
    assert 'id="below-minimum"' not in c.get("/spares/").get_data(as_text=True)


def test_penalty_page_prices_the_delay_and_shows_how_days_are_counted(client_as, db, opened):
    from fleetops.platform import parameters
    from fleetops.services import tickets
    from fleetops.models.base import utcnow

    t = db.get(Ticket, opened["ticket"].id)
    t.arrive_by = utcnow() - timedelta(seconds=30)  # the crew has not arrived and is already late
    tickets.check_deadlines(db)
    db.commit()
    c = client_as("supervisor")
    html = c.get("/tickets/penalties").get_data(as_text=True)
    assert 'id="contract-total-missing"' in html and "¥0" not in html  # never ¥0 silently
    parameters.set_value(db, "contract_total_yuan", 1000000, "test")
    db.commit()
    html = c.get("/tickets/penalties").get_data(as_text=True)
    assert 'id="contract-total-missing"' not in html
    assert 'id="days-late">1<' in html and "¥5000.00" in html  # 1 day × 0.5 % of ¥1 000 000
    assert "自然日" in html  # the day rule is shown on the page
    assert f'href="/tickets/{t.id}"' in html  # traceable to the ticket
    bad = c.get("/tickets/penalties?since=2026-13-01", follow_redirects=True)
    assert bad.status_code == 200 and "2026-06-21" in bad.get_data(as_text=True)  # a sentence, not a 500


def test_supervisor_opens_a_ticket_by_hand_once_and_unknown_codes_are_explained(client_as, db, users):
    make_fleet(db, users["crew"])
    db.commit()
    c = client_as("supervisor")
    form = {"device": "K105-CAM2", "category": "inspection", "source": "inspection", "policy": "checkpoint_om",
            "tier": "ordinary", "summary": "巡检发现立杆倾斜", "request_id": "new-1"}
    assert c.post("/tickets/new", data=form).status_code == 302
    assert c.post("/tickets/new", data=form).status_code == 302  # sent twice
    assert len(db.scalars(select(Ticket)).all()) == 1
    resp = c.post("/tickets/new", data={**form, "device": "NOPE-1", "request_id": "new-2"},
                  headers={"Referer": "/tickets/new"}, follow_redirects=True)
    assert "请填写已登记的设备编号或点位编号" in resp.get_data(as_text=True)


def test_the_tablet_speaks_english_when_asked(client_as, opened):
    c = client_as("crew")
    c.get("/lang/en")
    html = c.get(f"/tickets/{opened['ticket'].id}").get_data(as_text=True)
    assert "Set off" in html and "Device offline" in html
