"""P1–P3 pages: the crew's route and checklist form, the supervisors' plan forms (bad input: a 422 naming the field,
nothing written; good input: saved and audited), presets, roles, and the device page's last inspections."""
import io

import cv2
import numpy as np
import pytest
from sqlalchemy import func, select

from fleetops.models import AuditLog
from fleetops.models.inspections import InspectionOrder, InspectionPlan
from fleetops.models.tickets import Ticket
from fleetops.platform.clock import utcnow
from fleetops.services import accounts, inspections
from tests.tickets_fixtures import make_fleet


def jpeg() -> bytes:
    return cv2.imencode(".jpg", np.full((90, 120, 3), 120, np.uint8))[1].tobytes()


@pytest.fixture
def setup(db, users):
    fleet = make_fleet(db, users["crew"])
    inspections.create_plan(db, {"name": "镜头清洁", "device_kinds": ["checkpoint_camera"], "period": "monthly",
                                 "items": [{"key": "lens", "label": "镜头清洁", "needs_photo": True},
                                           {"key": "volt", "label": "供电电压", "needs_value": True, "unit": "V",
                                            "min": 198, "max": 242}]}, actor="t")
    inspections.generate_due(db, now=utcnow())
    db.commit()
    return fleet


def order_of(db, code):
    return db.scalar(select(InspectionOrder).join(InspectionOrder.device).where(InspectionOrder.device.has(code=code)))


def test_crew_route_lists_the_day_and_the_checklist_saves(client_as, db, setup):
    crew = client_as("crew")
    page = crew.get("/inspections/route").get_data(as_text=True)
    assert "我的巡检路线" in page and "K105-CAM1" in page and "K105-CAM2" in page and "K-105 北门卡口" in page
    order = order_of(db, "K105-CAM1")
    form = crew.get(f"/inspections/orders/{order.id}").get_data(as_text=True)
    assert "镜头清洁" in form and "正常" in form and "异常" in form and "允许 198–242 V" in form
    resp = crew.post(f"/inspections/orders/{order.id}", data={
        "item_lens": "ok", "item_volt": "ok", "value_volt": "221", "request_id": "r-1",
        "photo_lens": (io.BytesIO(jpeg()), "lens.jpg")}, content_type="multipart/form-data")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/inspections/route")
    db.expire_all()
    assert order_of(db, "K105-CAM1").state == "done"
    route = crew.get("/inspections/route").get_data(as_text=True)
    assert 'data-device="K105-CAM1"' not in route and 'data-device="K105-CAM2"' in route
    # A resent form (same request id) changes nothing and is no error page.
    again = crew.post(f"/inspections/orders/{order.id}", data={"item_lens": "ok", "request_id": "r-1"},
                      content_type="multipart/form-data")
    assert again.status_code in (200, 302)


@pytest.mark.parametrize("data, field, words", [
    ({"item_volt": "ok", "value_volt": "221"}, "item_lens", "镜头清洁：请选择正常或异常"),
    ({"item_lens": "ok", "item_volt": "ok", "value_volt": "abc"}, "value_volt", "供电电压：请填写测量值（V）"),
    ({"item_lens": "ok", "item_volt": "ok", "value_volt": "220", "photo_lens": None}, "photo_lens", "镜头清洁：请拍照"),
])
def test_bad_checklist_answers_are_a_422_naming_the_item_and_nothing_is_written(client_as, db, setup, data, field,
                                                                                words):
    crew = client_as("crew")
    order = order_of(db, "K105-CAM2")
    data = dict(data)
    if "photo_lens" not in data:
        data["photo_lens"] = (io.BytesIO(jpeg()), "lens.jpg")
    elif data["photo_lens"] is None:
        del data["photo_lens"]
    resp = crew.post(f"/inspections/orders/{order.id}", data=data, content_type="multipart/form-data")
    body = resp.get_data(as_text=True)
    assert resp.status_code == 422 and f'data-field="{field}"' in body and words in body
    db.expire_all()
    order = order_of(db, "K105-CAM2")
    assert order.state == "open" and order.ticket.state == "dispatched" and not order.ticket.photos


def test_crew_cannot_open_other_districts_orders_nor_the_plans(client_as, db, setup):
    accounts.create_user(db, "crew-x", "crew", "crewx-pass-123", district="独山子区")
    db.commit()
    other = client_as("crew")
    assert other.get("/inspections/").status_code == 403
    outsider = other.application.test_client()
    assert outsider.post("/login", data={"username": "crew-x", "password": "crewx-pass-123"}).status_code == 302
    order = order_of(db, "K105-CAM1")
    assert outsider.get(f"/inspections/orders/{order.id}").status_code == 403
    assert 'data-device="K105-CAM1"' not in outsider.get("/inspections/route").get_data(as_text=True)


def plan_form(**overrides):
    form = {"name": "机柜季度检查", "device_kinds": ["cabinet"], "period": "quarterly", "active": "1",
            "item-0-label": "柜内温度", "item-0-needs_value": "1", "item-0-unit": "°C", "item-0-min": "-20",
            "item-0-max": "55", "item-1-label": "", "item-2-label": ""}
    form.update(overrides)
    return form


@pytest.mark.parametrize("overrides, field, words", [
    ({"name": ""}, "name", "必须填写计划名称"),
    ({"device_kinds": []}, "device_kinds", "请至少选择一种设备类型"),
    ({"period": "hourly"}, "period", "巡检周期只能是"),
    ({"item-0-unit": ""}, "items[0].unit", "第 1 项：请选择测量值的单位"),
    ({"item-0-min": "80"}, "items[0].max", "第 1 项：允许的最小值大于最大值"),
    ({"item-0-label": ""}, "items", "巡检计划至少需要一个检查项"),
    ({"site_code": "NOPE"}, "site_code", "没有编号为 NOPE 的点位"),
])
def test_bad_plan_forms_are_a_422_naming_the_field_and_nothing_is_written(client_as, db, setup, overrides, field,
                                                                          words):
    sup = client_as("supervisor")
    before = db.scalar(select(func.count()).select_from(InspectionPlan))
    resp = sup.post("/inspections/plans/new", data=plan_form(**overrides))
    body = resp.get_data(as_text=True)
    assert resp.status_code == 422 and f'data-field="{field}"' in body and words in body
    assert db.scalar(select(func.count()).select_from(InspectionPlan)) == before


def test_supervisor_adds_and_edits_a_plan_audited_and_loads_presets(client_as, db, setup):
    sup = client_as("supervisor")
    resp = sup.post("/inspections/plans/new", data=plan_form())
    assert resp.status_code == 302
    plan = db.scalar(select(InspectionPlan).where(InspectionPlan.name == "机柜季度检查"))
    assert plan.items == [{"key": "item1", "label": "柜内温度", "needs_photo": False, "needs_value": True,
                           "unit": "°C", "min": -20.0, "max": 55.0}]
    edit = sup.get(f"/inspections/plans/{plan.id}").get_data(as_text=True)
    assert "柜内温度" in edit
    resp = sup.post(f"/inspections/plans/{plan.id}", data=plan_form(**{
        "item-0-key": "item1", "item-0-max": "50", "item-1-label": "柜门锁", "version": str(plan.version)}))
    assert resp.status_code == 302
    db.expire_all()
    plan = db.get(InspectionPlan, plan.id)
    assert [i["label"] for i in plan.items] == ["柜内温度", "柜门锁"] and plan.items[0]["max"] == 50.0
    actions = [a.action for a in db.scalars(select(AuditLog).where(AuditLog.entity_type == "inspection_plan",
                                                                   AuditLog.entity_id == str(plan.id)))]
    assert actions == ["inspection_plan_created", "inspection_plan_changed"]

    assert sup.post("/inspections/presets/offsite_enforcement").status_code == 302
    page = sup.get("/inspections/").get_data(as_text=True)
    assert "执法设备巡检" in page and "补光灯、爆闪灯夜间检查" in page and "控制机柜检查" in page
    assert sup.post("/inspections/presets/nonsense").status_code in (302, 400, 422)
    assert db.scalar(select(func.count()).select_from(InspectionPlan).where(InspectionPlan.preset == "nonsense")) == 0


def test_device_page_shows_the_last_inspection_of_each_plan(client_as, db, setup, users, tmp_path):
    order = order_of(db, "K105-CAM1")
    inspections.complete_order(db, order.id, {"lens": {"ok": "ok"}, "volt": {"ok": "ok", "value": "230"}},
                               {"lens": jpeg()}, actor=users["crew"], upload_dir=str(tmp_path), now=utcnow())
    db.commit()
    page = client_as("supervisor").get("/devices/K105-CAM1").get_data(as_text=True)
    assert 'id="device-inspections"' in page and "镜头清洁" in page and "全部正常" in page
    other = client_as("supervisor").get("/devices/K105-CAB").get_data(as_text=True)
    assert 'id="device-inspections"' not in other
    assert db.scalar(select(func.count()).select_from(Ticket).where(Ticket.category == "routine_inspection")) == 2


def test_an_inspection_tickets_page_leads_to_its_checklist(client_as, db, setup):
    order = order_of(db, "K105-CAM1")
    crew = client_as("crew")
    page = crew.get(f"/tickets/{order.ticket_id}").get_data(as_text=True)
    assert 'id="inspection-checklist"' in page and "打开巡检检查项" in page
    resp = crew.get(f"/inspections/tickets/{order.ticket_id}")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/inspections/orders/{order.id}")
    fault = setup["cam"]
    from fleetops.services import tickets

    t = tickets.open_ticket(db, device_id=fault.id, category="offline", source="outage", opened_by="t")
    db.commit()
    assert 'id="inspection-checklist"' not in crew.get(f"/tickets/{t.id}").get_data(as_text=True)
    assert crew.get(f"/inspections/tickets/{t.id}").status_code == 404
