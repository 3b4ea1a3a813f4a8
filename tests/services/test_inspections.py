"""P1–P3: inspection plans generate exactly one order per device per period through a simulated month (a clock moved
by hand, on both databases, also with two generators at once); a crew's completion flows into the monthly report;
a not-OK item opens — or adds to — the device's fault ticket with the photo; inspection orders never count as faults;
bad answers are refused by name with nothing written; overdue orders alert the supervisors once."""
import io
import threading
from datetime import datetime, timedelta, timezone

import cv2
import numpy as np
import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from fleetops.domain.errors import ValidationFailed
from fleetops.domain.text import render_stored
from fleetops.models import AuditLog, Depot, Device, Site
from fleetops.models.alerts import Alert
from fleetops.models.inspections import InspectionOrder
from fleetops.models.tickets import Ticket, TicketPhoto
from fleetops.services import inspections, reports, tickets
from fleetops.services.reports import queries as report_queries
from fleetops.services.tickets import penalties
from tests.tickets_fixtures import bj, make_fleet

UTC = timezone.utc


def jpeg(shade: int = 90) -> bytes:
    ok, buf = cv2.imencode(".jpg", np.full((120, 160, 3), shade, np.uint8))
    assert ok
    return buf.tobytes()


def monthly_plan(db, kinds=("checkpoint_camera", "speed_camera"), **extra):
    data = {"name": "镜头清洁", "device_kinds": list(kinds), "period": "monthly", "items": [
        {"key": "lens", "label": "镜头清洁", "needs_photo": True},
        {"key": "voltage", "label": "供电电压", "needs_value": True, "unit": "V", "min": 198, "max": 242},
        {"key": "seal", "label": "密封完好"},
    ], **extra}
    plan = inspections.create_plan(db, data, actor="test")
    db.commit()
    return plan


def all_ok(order, value="220"):
    answers = {i["key"]: {"ok": "ok", "value": value} for i in inspections.order_items(order)}
    photos = {i["key"]: jpeg() for i in inspections.order_items(order) if i.get("needs_photo")}
    return answers, photos


@pytest.fixture
def fleet(db, users):
    f = make_fleet(db, users["crew"])
    db.commit()
    return f


def test_monthly_plan_makes_one_order_per_device_per_period_through_a_simulated_month(db, fleet, users):
    """P3: the job runs every 6 hours from 1 June to 1 July 06:00 (Beijing); each month has exactly one order per
    device, the July orders appear at local midnight, not at UTC midnight."""
    plan = monthly_plan(db)
    at = bj(2026, 6, 1, 0, 0)
    while at <= bj(2026, 7, 1, 6, 0):
        inspections.generate_due(db, now=at)
        inspections.generate_due(db, now=at)  # a repeated run adds nothing
        db.commit()
        at += timedelta(hours=6)
    rows = db.execute(select(InspectionOrder.device_id, InspectionOrder.period_start)
                      .where(InspectionOrder.plan_id == plan.id)).all()
    devices = {fleet["cam"].id, fleet["cam2"].id, fleet["far_cam"].id}
    june, july = bj(2026, 6, 1).astimezone(UTC), bj(2026, 7, 1).astimezone(UTC)
    assert sorted(rows) == sorted([(d, june) for d in devices] + [(d, july) for d in devices])
    orders = db.scalars(select(InspectionOrder).where(InspectionOrder.period_start == june)).all()
    assert {o.due_at for o in orders} == {july}  # the deadline is the end of the period
    for o in orders:
        assert o.ticket.category == "routine_inspection" and o.ticket.source == "inspection_plan"
        assert o.ticket.state == "dispatched" and o.ticket.assignee_id == users["crew"].id
        assert o.ticket.arrive_by is None and o.ticket.repair_by is None  # no SLA clocks: not a fault
    # 30 June 23:59 Beijing is still June; the first July orders were made at 1 July 00:00 Beijing.
    first_july = db.scalar(select(func.min(InspectionOrder.created_at)).where(InspectionOrder.period_start == july))
    assert first_july == bj(2026, 7, 1, 0, 0)
    assert db.scalar(select(func.count()).select_from(Ticket)) == 6


def test_two_generators_at_once_make_each_order_once(app, db, fleet):
    """P3: two sessions (as two scheduler processes would) generating the same period at the same moment."""
    monthly_plan(db)
    maker = app.extensions["fleetops.sessionmaker"]
    at = bj(2026, 6, 3, 9, 0)
    barrier, errors = threading.Barrier(2), []

    def run():
        s = maker()
        try:
            barrier.wait(10)
            inspections.generate_due(s, now=at)
            s.commit()
        except Exception as err:  # noqa: BLE001 - reported below
            errors.append(repr(err))
            s.rollback()
        finally:
            s.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    if errors:  # a generator that lost a lock race may fail; its rerun must still add nothing twice
        inspections.generate_due(db, now=at)
        db.commit()
    assert db.scalar(select(func.count()).select_from(InspectionOrder)) == 3
    assert db.scalar(select(func.count()).select_from(Ticket)) == 3


def test_key_site_patrol_preset_covers_only_key_sites_daily(db, fleet):
    out = inspections.load_preset(db, "checkpoint_om", actor="test")
    assert "key_site_patrol" in out["created"] and inspections.load_preset(db, "checkpoint_om", actor="test")[
        "created"] == []
    db.commit()
    patrol = next(p for p in inspections.list_plans(db) if p.key == "key_site_patrol")
    for day in (1, 2, 3):
        inspections.generate_due(db, now=bj(2026, 6, day, 8, 0))
    db.commit()
    rows = db.scalars(select(InspectionOrder).where(InspectionOrder.plan_id == patrol.id)).all()
    assert len(rows) == 6 and {o.device.code for o in rows} == {"K105-CAM1", "K105-CAM2"}  # K-230 is no key site
    cabinet = db.scalars(select(InspectionOrder).join(Device).where(Device.kind == "cabinet")).all()
    assert len(cabinet) == 1  # the quarterly cabinet check, once for the quarter


def complete_all_ok(db, order, crew, at):
    answers, photos = all_ok(order)
    return inspections.complete_order(db, order.id, answers, photos, actor=crew, upload_dir=str(UPLOADS), now=at)


UPLOADS = None


@pytest.fixture(autouse=True)
def uploads(tmp_path):
    global UPLOADS
    UPLOADS = tmp_path / "uploads"
    yield UPLOADS


def test_completion_flows_into_the_monthly_report_and_the_device_page(db, fleet, users):
    """P3 proof: 2 of 3 June orders done (one on time, one late is still done) → 66.67 % for the district and
    the plan; the device page shows the last inspection of the plan with its result."""
    plan = monthly_plan(db)
    inspections.generate_due(db, now=bj(2026, 6, 2, 8, 0))
    db.commit()
    orders = {o.device.code: o for o in db.scalars(select(InspectionOrder))}
    crew = users["crew"]
    complete_all_ok(db, orders["K105-CAM1"], crew, bj(2026, 6, 10, 10, 0))
    complete_all_ok(db, orders["K105-CAM2"], crew, bj(2026, 6, 11, 10, 0))
    db.commit()
    o = db.get(InspectionOrder, orders["K105-CAM1"].id)
    assert o.state == "done" and o.result == "ok" and o.ticket.state == "closed"
    assert [r["value"] for r in o.results if r["key"] == "voltage"] == [220.0]
    assert db.scalar(select(func.count()).select_from(TicketPhoto).where(TicketPhoto.ticket_id == o.ticket_id)) == 1

    report = reports.monthly_report(db, "2026-06", now=bj(2026, 7, 2, 9, 0))
    district = report.section("inspections_district")
    assert district.rows == [["白碱滩区", 3, 2, 2, 0, 0, 1, 66.67]]
    by_plan = report.section("inspections_plan")
    assert by_plan.rows[0][0] == "镜头清洁" and by_plan.rows[0][2:] == [3, 2, 2, 0, 0, 1, 66.67]
    # The exports carry it: the XLSX has the sheet.
    wb = load_workbook(io.BytesIO(reports.to_xlsx(report)))
    sheet = next(wb[n] for n in wb.sheetnames if "辖区巡检" in n)
    assert [c.value for c in sheet[2]][-1] == 66.67
    assert reports.to_pdf(report)[:4] == b"%PDF"

    panel = inspections.last_of_device(db, db.get(Device, fleet["cam"].id))
    assert [(r["plan"].id, r["last"].result, r["last"].done_at) for r in panel] == [
        (plan.id, "ok", bj(2026, 6, 10, 10, 0))]


def test_not_ok_item_opens_a_fault_ticket_with_the_photo_and_a_second_finding_links_to_it(db, fleet, users):
    """P3: "not OK" → a fault ticket for the device (category inspection finding), the item's name in its
    description, the photo on it; a second not-OK finding on the same device adds to the open ticket."""
    monthly_plan(db)
    inspections.create_plan(db, {"name": "夜间补光检查", "device_kinds": ["checkpoint_camera"], "period": "weekly",
                                 "at_night": True, "items": [{"key": "fires", "label": "补光灯闪光"}]}, actor="t")
    inspections.generate_due(db, now=bj(2026, 6, 2, 8, 0))
    db.commit()
    cam = fleet["cam"]
    first = db.scalar(select(InspectionOrder).where(InspectionOrder.device_id == cam.id,
                                                    InspectionOrder.plan.has(period="monthly")))
    answers, photos = all_ok(first)
    answers["seal"]["ok"] = "not_ok"
    photos["seal"] = jpeg(30)
    inspections.complete_order(db, first.id, answers, photos, actor=users["crew"], upload_dir=str(UPLOADS),
                               now=bj(2026, 6, 2, 23, 40))
    db.commit()
    fault = db.scalar(select(Ticket).where(Ticket.device_id == cam.id, Ticket.category == "inspection"))
    assert fault is not None and fault.source == "inspection" and fault.state == "dispatched"
    assert "密封完好" in fault.summary and "镜头清洁" in fault.summary
    assert fault.evidence_path and (UPLOADS / fault.evidence_path).exists()
    assert [p.path for p in fault.photos] == [fault.evidence_path]
    order = db.get(InspectionOrder, first.id)
    assert order.result == "not_ok" and order.day_night == "night"
    assert [r["fault_ticket_id"] for r in order.results if r["key"] == "seal"] == [fault.id]

    # A value outside the allowed range is a finding too, and goes to the same open ticket.
    weekly = db.scalar(select(InspectionOrder).where(InspectionOrder.device_id == cam.id,
                                                     InspectionOrder.plan.has(period="weekly")))
    inspections.complete_order(db, weekly.id, {"fires": {"ok": "not_ok"}}, {"fires": jpeg(10)}, actor=users["crew"],
                               upload_dir=str(UPLOADS), now=bj(2026, 6, 3, 22, 0))
    db.commit()
    assert db.scalar(select(func.count()).select_from(Ticket).where(
        Ticket.device_id == cam.id, Ticket.category.not_in(["routine_inspection"]))) == 1
    db.refresh(fault)
    assert len(fault.photos) == 2 and "inspection_finding" in [e.action for e in fault.events]


def test_measured_value_out_of_range_is_a_finding(db, fleet, users):
    monthly_plan(db)
    inspections.generate_due(db, now=bj(2026, 6, 2, 8, 0))
    db.commit()
    order = db.scalar(select(InspectionOrder).where(InspectionOrder.device_id == fleet["cam2"].id))
    answers, photos = all_ok(order, value="251.5")
    photos["voltage"] = jpeg(40)
    inspections.complete_order(db, order.id, answers, photos, actor=users["crew"], upload_dir=str(UPLOADS),
                               now=bj(2026, 6, 2, 10, 0))
    db.commit()
    fault = db.scalar(select(Ticket).where(Ticket.device_id == fleet["cam2"].id, Ticket.category == "inspection"))
    assert fault is not None and "251.5" in fault.summary and "198–242" in fault.summary


def test_inspection_orders_never_count_as_faults(db, fleet, users):
    """P3: orders (open or done) stay out of the fault categories, ticket counts, penalties and the crew's fault
    list; a fault ticket opened the same month still counts."""
    monthly_plan(db)
    inspections.generate_due(db, now=bj(2026, 6, 2, 8, 0))
    db.commit()
    complete_all_ok(db, db.scalar(select(InspectionOrder).limit(1)), users["crew"], bj(2026, 6, 3, 9, 0))
    fault = tickets.open_ticket(db, device_id=fleet["cam"].id, category="offline", source="outage", opened_by="t",
                                detected_at=bj(2026, 6, 5, 9, 0), now=bj(2026, 6, 5, 9, 0))
    db.commit()
    start, end = bj(2026, 6, 1).astimezone(UTC), bj(2026, 7, 1).astimezone(UTC)
    assert [t.id for t in report_queries.tickets_opened(db, start, end)] == [fault.id]
    assert report_queries.count_open_tickets(db) == 1
    report = reports.monthly_report(db, "2026-06", now=bj(2026, 7, 2, 9, 0))
    cats = report.section("fault_categories").rows
    assert len(cats) == 1 and cats[0][1] == 1
    summary = dict((r[0], r[1]) for r in report.section("summary").rows)
    assert summary["工单数"] == 1
    ts = penalties._tickets(db, next(p for p in tickets.list_policies(db) if p.is_default), None, None)
    assert [t.id for t in ts] == [fault.id]
    assert [t.id for t in tickets.my_tickets(db, users["crew"])] == [fault.id]
    with pytest.raises(ValidationFailed):  # nobody opens planned work by hand
        tickets.open_ticket(db, device_id=fleet["cam"].id, category="routine_inspection", source="supervisor",
                            opened_by="t")


@pytest.mark.parametrize("change, field", [
    (lambda a, p: a.pop("seal"), "item_seal"),
    (lambda a, p: a["seal"].update(ok="maybe"), "item_seal"),
    (lambda a, p: a["voltage"].update(value=""), "value_voltage"),
    (lambda a, p: a["voltage"].update(value="二百二"), "value_voltage"),
    (lambda a, p: a["voltage"].update(value="1e400"), "value_voltage"),
    (lambda a, p: p.pop("lens"), "photo_lens"),
    (lambda a, p: a["seal"].update(ok="not_ok"), "photo_seal"),  # a finding needs its photo
])
def test_bad_answers_are_refused_by_name_and_nothing_is_written(db, fleet, users, change, field):
    monthly_plan(db)
    inspections.generate_due(db, now=bj(2026, 6, 2, 8, 0))
    db.commit()
    order = db.scalar(select(InspectionOrder).where(InspectionOrder.device_id == fleet["cam"].id))
    answers, photos = all_ok(order)
    change(answers, photos)
    audits = db.scalar(select(func.count()).select_from(AuditLog))
    with pytest.raises(ValidationFailed) as info:
        inspections.complete_order(db, order.id, answers, photos, actor=users["crew"], upload_dir=str(UPLOADS),
                                   now=bj(2026, 6, 2, 10, 0))
    assert info.value.details["field"] == field
    db.rollback()
    order = db.get(InspectionOrder, order.id)
    assert order.state == "open" and order.ticket.state == "dispatched"
    assert db.scalar(select(func.count()).select_from(TicketPhoto)) == 0
    assert db.scalar(select(func.count()).select_from(AuditLog)) == audits
    assert not UPLOADS.exists() or not any(UPLOADS.rglob("*.jpg"))


@pytest.mark.parametrize("data, field", [
    ({"name": ""}, "name"),
    ({"device_kinds": []}, "device_kinds"),
    ({"device_kinds": ["toaster"]}, "device_kinds"),
    ({"period": "hourly"}, "period"),
    ({"site_code": "NOPE"}, "site_code"),
    ({"items": []}, "items"),
    ({"items": [{"label": ""}]}, "items[0].label"),
    ({"items": [{"label": "电压", "needs_value": True, "unit": "furlong"}]}, "items[0].unit"),
    ({"items": [{"label": "电压", "needs_value": True, "unit": "V", "min": "250", "max": "200"}]}, "items[0].max"),
    ({"items": [{"label": "电压", "needs_value": True, "unit": "V", "min": "x"}]}, "items[0].min"),
    ({"items": [{"label": "外观", "min": 1}]}, "items[0].min"),
])
def test_plan_fields_are_checked_one_by_one(db, fleet, data, field):
    base = {"name": "计划", "device_kinds": ["cabinet"], "period": "quarterly", "items": [{"label": "柜门"}]}
    with pytest.raises(ValidationFailed) as info:
        inspections.create_plan(db, {**base, **data}, actor="t")
    assert info.value.details["field"] == field


def test_plan_edit_is_audited_and_keeps_preset_names(db, fleet, users):
    inspections.load_preset(db, "checkpoint_om", actor="t")
    db.commit()
    plan = next(p for p in inspections.list_plans(db) if p.key == "cabinet_quarterly")
    data = inspections.plan_dict(plan)
    data["name"] = "控制机柜检查"  # as the Chinese form showed it
    data["items"][0] = {**data["items"][0], "label": "市电输入电压", "max": 240}
    inspections.update_plan(db, plan.id, data, actor=users["supervisor"], version=plan.version)
    db.commit()
    plan = inspections.get_plan(db, plan.id)
    assert plan.name == "Cabinet check" and plan.items[0]["label"] == "Mains input voltage"
    assert plan.items[0]["max"] == 240
    row = db.scalar(select(AuditLog).where(AuditLog.action == "inspection_plan_changed"))
    assert row.actor_name == "supervisor" and row.before["items"][0]["max"] == 242


def test_overdue_orders_alert_the_supervisors_once(db, fleet, users):
    monthly_plan(db)
    inspections.generate_due(db, now=bj(2026, 6, 2, 8, 0))
    db.commit()
    complete_all_ok(db, db.scalar(select(InspectionOrder).where(InspectionOrder.device_id == fleet["cam"].id)),
                    users["crew"], bj(2026, 6, 5, 9, 0))
    assert inspections.check_overdue(db, now=bj(2026, 6, 30, 23, 0)) == 0  # the period is still running
    assert inspections.check_overdue(db, now=bj(2026, 7, 1, 0, 10)) == 1
    db.commit()
    assert inspections.check_overdue(db, now=bj(2026, 7, 1, 0, 20)) == 0
    alerts = db.scalars(select(Alert).where(Alert.kind == "inspection_overdue")).all()
    assert len(alerts) == 1 and alerts[0].audience == ["supervisor", "admin"] and alerts[0].district == "白碱滩区"
    assert "2" in render_stored(alerts[0].title, "zh") and "镜头清洁" in render_stored(alerts[0].title, "zh")


def test_the_route_visits_sites_nearest_first_from_the_depot(db, fleet, users):
    """P3: sites ordered by nearest neighbour (straight line) from the crew's depot, then from each site."""
    depot = fleet["depot"]  # 45.6, 84.9
    extra = [Site(code=c, name=c, district="白碱滩区", latitude=lat, longitude=lon, depot_id=depot.id)
             for c, lat, lon in (("S-FAR", 45.9, 84.9), ("S-MID", 45.75, 84.9), ("S-NEAR", 45.61, 84.9))]
    db.add_all(extra)
    db.flush()
    for s in extra:
        db.add(Device(code=f"{s.code}-CAB", name=s.code, kind="cabinet", site_id=s.id))
    db.commit()
    inspections.create_plan(db, {"name": "机柜", "device_kinds": ["cabinet"], "period": "quarterly",
                                 "items": [{"label": "柜门"}]}, actor="t")
    inspections.generate_due(db, now=bj(2026, 6, 2, 8, 0))
    db.commit()
    route = inspections.my_route(db, users["crew"], now=bj(2026, 6, 2, 9, 0))
    # K-105 (45.65, 84.95) is ~6 km out, S-MID ~17 km: after S-NEAR (1 km) comes K-105, then S-MID, then S-FAR.
    assert [s["site"].code for s in route["stops"]] == ["S-NEAR", "K-105", "S-MID", "S-FAR"]
    assert route["count"] == 4 and route["depot"].id == depot.id
    other = Depot(name="二号驻点", district="独山子区", latitude=44.3, longitude=84.8)
    db.add(other)
    db.commit()
    assert inspections.my_route(db, users["supervisor"], now=bj(2026, 6, 2, 9, 0))["count"] == 4


def test_a_batch_that_meets_orders_made_by_another_run_claims_only_the_rest(db, fleet):
    """The unique key decides: when another generator made some of the period's orders first, this run's batch
    insert fails and it claims the remaining ones one by one (no duplicate, no lost order)."""
    from fleetops.services.inspections.generate import _claim

    plan = monthly_plan(db)
    start, end = bj(2026, 6, 1), bj(2026, 7, 1)

    def order(device):
        return InspectionOrder(plan_id=plan.id, device_id=device.id, site_id=device.site_id, district="白碱滩区",
                               period_start=start, due_at=end, state="open", results=[], created_at=start)

    assert len(_claim(db, [order(fleet["cam"])])) == 1
    made = _claim(db, [order(fleet["cam"]), order(fleet["cam2"]), order(fleet["far_cam"])])
    assert sorted(o.device_id for o in made) == sorted([fleet["cam2"].id, fleet["far_cam"].id])
    db.commit()
    assert db.scalar(select(func.count()).select_from(InspectionOrder)) == 3


def test_a_device_taken_out_of_service_has_its_open_orders_cancelled(db, fleet):
    monthly_plan(db)
    inspections.generate_due(db, now=bj(2026, 6, 2, 8, 0))
    db.commit()
    far = db.get(Device, fleet["far_cam"].id)
    far.lifecycle = "retired"
    db.commit()
    out = inspections.generate_due(db, now=bj(2026, 6, 2, 8, 10))
    db.commit()
    assert out == {"created": 0, "existing": 3, "cancelled": 1}  # its order exists, and is cancelled
    order = db.scalar(select(InspectionOrder).where(InspectionOrder.device_id == far.id))
    assert order.state == "cancelled" and order.ticket.state == "cancelled"
    assert inspections.check_overdue(db, now=bj(2026, 7, 1, 1, 0)) == 1  # only the two cameras left at K-105
    alert = db.scalar(select(Alert).where(Alert.kind == "inspection_overdue"))
    assert "“镜头清洁” 2" in render_stored(alert.title, "zh")
