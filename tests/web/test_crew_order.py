"""The crew's tablet in the order of the work (T7, S2, A3; issue 13 part 5): after check-in the safety checklist
comes first and 开始维修 after it, disabled with the reason until the checklist is saved; countdowns name their
deadline; the repair deadline says why it moved at check-in; an after-repair photo where the fault's kind needs
one (refused server side with a clear message); 使用备件 explains missing stock; parts used have headers and an undo
that writes a reversing, audited ledger row."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from fleetops.models import AuditLog
from fleetops.models.base import utcnow
from fleetops.models.tickets import StockMovement, Ticket
from fleetops.platform import events
from fleetops.services import spares, tickets
from tests.tickets_fixtures import after_photo_jpeg, make_fleet, qualify, stock

CHECKLIST = list(tickets.rules.CHECKLIST_KEYS)


@pytest.fixture
def on_site(db, users):
    """An outage ticket on K105-CAM1, the crew checked in on site (state arrived), fill lights in the warehouse."""
    fleet = make_fleet(db, users["crew"])
    qualify(db, users["crew"])
    pt, loc = stock(db, on_hand=3)
    events.emit(db, "outage_opened", outage_id=41, device_id=fleet["cam"].id,
                started_at=utcnow() - timedelta(minutes=4), detected_at=utcnow())
    t = db.scalar(select(Ticket))
    tickets.record_arrival(db, t.id, actor=users["crew"], lat=45.65, lon=84.95)
    db.commit()
    return {"ticket": t, "pt": pt, "loc": loc, **fleet}


def refused(client, url, data, words):
    """An HTML form refused: the error handler flashes the message and goes back (the API answers 4xx instead)."""
    resp = client.post(url, data=data, headers={"Referer": "/tickets/mine"}, follow_redirects=True)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "flash-error" in html and words in html, html[:2000]


def page_of(client, t) -> str:
    resp = client.get(f"/tickets/{t.id}")
    assert resp.status_code == 200
    return resp.get_data(as_text=True)


def test_checklist_comes_before_the_start_button_which_waits_with_its_reason(client_as, db, on_site):
    c, t = client_as("crew"), on_site["ticket"]
    html = page_of(c, t)
    assert html.index('id="checklist-form"') < html.index('id="next-step"')
    button = html[html.index('id="next-step"') - 80:html.index('id="next-step"') + 200]
    assert "disabled" in button and "开始维修" in button
    assert "请先勾选上方安全检查的每一项并保存" in html
    # A half-ticked checklist keeps the button waiting; the full one frees it.
    c.post(f"/tickets/{t.id}/checklist", data={"items": CHECKLIST[:3], "request_id": "ck-1"})
    assert 'id="next-step-why"' in page_of(c, t)
    c.post(f"/tickets/{t.id}/checklist", data={"items": CHECKLIST, "request_id": "ck-2"})
    html = page_of(c, t)
    assert 'id="next-step-why"' not in html
    button = html[html.index('<button type="submit" class="btn btn-primary btn-big" id="next-step"'):][:200]
    assert "disabled" not in button.split(">")[0]


def test_countdowns_name_their_deadline_and_the_repair_window_says_it_starts_on_arrival(client_as, db, users):
    fleet = make_fleet(db, users["crew"])
    events.emit(db, "outage_opened", outage_id=42, device_id=fleet["cam"].id,
                started_at=utcnow() - timedelta(minutes=4), detected_at=utcnow())
    db.commit()
    t = db.scalar(select(Ticket))
    c = client_as("crew")
    html = page_of(c, t)
    assert 'data-left="到场剩余"' in html and 'data-late="到场已超时"' in html
    assert "暂定：按到场时限推算；到场签到后改为从到场起 4 小时" in html
    assert 'data-left="到场剩余"' in c.get("/tickets/mine").get_data(as_text=True)
    tickets.record_arrival(db, t.id, actor=users["crew"], lat=45.65, lon=84.95)
    db.commit()
    html = page_of(c, t)
    assert 'data-left="修复剩余"' in html and "修复时限从到场时开始计算" in html


def test_an_after_repair_photo_is_required_where_the_fault_kind_needs_one(client_as, db, users, on_site, app):
    crew = users["crew"]
    lamp = tickets.open_ticket(db, device_id=on_site["cam2"].id, category="fill_light", source="supervisor",
                               opened_by="test")
    tickets.dispatch(db, lamp.id, assignee_id=crew.id, actor="test")
    tickets.record_arrival(db, lamp.id, actor=crew, lat=45.65, lon=84.95)
    tickets.tick_checklist(db, lamp.id, CHECKLIST, actor=crew)
    tickets.start_repair(db, lamp.id, actor=crew)
    db.commit()
    c = client_as("crew")
    html = page_of(c, lamp)
    assert 'id="after-photo-needed"' in html and "需要一张维修后照片" in html
    refused(c, f"/tickets/{lamp.id}/resolve", {"resolution": "repaired", "request_id": "rs-1"}, "需要一张维修后照片")
    db.expire_all()
    assert db.get(Ticket, lamp.id).state == "repairing"
    # A "before" photo is not enough; an "after" photo is.
    tickets.add_photo(db, lamp.id, "before", after_photo_jpeg(), upload_dir=app.config["UPLOAD_DIR"], actor=crew)
    db.commit()
    refused(c, f"/tickets/{lamp.id}/resolve", {"resolution": "repaired", "request_id": "rs-2"}, "需要一张维修后照片")
    tickets.add_photo(db, lamp.id, "after", after_photo_jpeg(), upload_dir=app.config["UPLOAD_DIR"], actor=crew)
    db.commit()
    assert c.post(f"/tickets/{lamp.id}/resolve", data={"resolution": "repaired", "request_id": "rs-3"}
                  ).status_code == 302
    db.expire_all()
    assert db.get(Ticket, lamp.id).state == "resolved"
    # An offline camera proves itself by coming back online: no photo needed.
    assert not tickets.rules.needs_after_photo("offline") and tickets.rules.needs_after_photo("fill_light")


def test_use_part_with_no_stock_says_why_and_where_it_is(client_as, db, users, on_site):
    c, t = client_as("crew"), on_site["ticket"]
    # The camera's own part type (checkpoint camera) has no stock at the warehouse; another crew's van has one.
    cam_part = spares.create_part_type(db, "CAM-01", "卡口相机", device_kind="checkpoint_camera", actor="test")
    van = spares.create_location(db, "VAN2", "二号车", kind="van", actor="test")
    spares.receive(db, cam_part.id, van.id, 1, actor="test")
    db.commit()
    html = page_of(c, t)
    assert "您的车载库和仓库都没有卡口相机库存。其他位置有货：二号车。" in html
    # Nothing in stock at all: no empty dropdown, the reason instead.
    spares.transfer(db, on_site["pt"].id, on_site["loc"].id, van.id, 3, actor="test")
    db.commit()
    for mv_pt, mv_loc in ((cam_part, van), (on_site["pt"], van)):
        spares.scrap(db, mv_pt.id, mv_loc.id, spares.on_hand(db, mv_pt.id, mv_loc.id), actor="test", note="test")
    db.commit()
    html = page_of(c, t)
    assert 'id="no-stock"' in html and 'id="part-type"' not in html
    assert "所有位置都没有卡口相机库存" in html


def test_parts_used_have_headers_and_an_undo_that_reverses_the_ledger(client_as, db, users, on_site):
    c, t, pt, loc = client_as("crew"), on_site["ticket"], on_site["pt"], on_site["loc"]
    assert c.post(f"/tickets/{t.id}/part", data={"part_type_id": pt.id, "location_id": loc.id, "quantity": 2,
                                                 "request_id": "p-1"}).status_code == 302
    assert spares.on_hand(db, pt.id) == 1
    html = page_of(c, t)
    table = html[html.index('id="parts-used"'):]
    assert "<th>备件类型</th>" in table.replace(" ", "") or "备件类型" in table[:600]
    issued = db.scalar(select(StockMovement).where(StockMovement.kind == "issued"))
    assert f'id="undo-part-{issued.id}"' in html
    resp = c.post(f"/tickets/{t.id}/part/{issued.id}/undo", data={"request_id": "u-1"})
    assert resp.status_code == 302
    db.expire_all()
    assert spares.on_hand(db, pt.id) == 3  # back in stock
    back = db.scalar(select(StockMovement).where(StockMovement.kind == "returned"))
    assert back.quantity == 2 and back.ticket_id == t.id and back.location_id == loc.id  # a reversing row
    assert db.get(StockMovement, issued.id).quantity == -2  # the ledger is never edited
    assert db.scalar(select(AuditLog).where(AuditLog.action == "stock_returned")) is not None
    assert "part_undone" in [e.action for e in db.get(Ticket, t.id).events]
    html = page_of(c, t)
    assert "已撤销" in html and f'id="undo-part-{issued.id}"' not in html
    # Twice is refused (a new request id, the same row), and so is someone else's ticket's row.
    refused(c, f"/tickets/{t.id}/part/{issued.id}/undo", {"request_id": "u-2"}, "该备件已撤销过")
    db.expire_all()
    assert spares.on_hand(db, pt.id) == 3
    refused(c, f"/tickets/{t.id}/part/999999/undo", {"request_id": "u-3"}, "请选择本工单已登记的备件")
