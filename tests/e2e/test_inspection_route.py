"""P1–P3 in a real headless Chromium on a 1280×800 tablet: the crew does the day's inspection route (sites nearest
first from the depot), ticks every item with big gloved targets, enters measured values, takes the photos the plan
asks for, marks one item not OK with a photo — and the fault ticket for that device appears in "My tickets" with
the photo on it."""
from pathlib import Path

import cv2
import numpy as np
import pytest
from sqlalchemy import select

from fleetops.models import Device, Site
from fleetops.models.inspections import InspectionOrder
from fleetops.models.tickets import Ticket
from fleetops.platform.clock import utcnow
from fleetops.services import inspections
from tests.conftest import PASSWORDS
from tests.tickets_fixtures import make_fleet
from tests.e2e.harness import ARGS, CHROMIUM, artefacts_folder, persistent_context, serving  # noqa: F401

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium package is not installed")]


@pytest.fixture
def served(make_app, users, db, tmp_path):
    """The app with CSRF on, served on a free loopback port in a thread."""
    app = make_app(WTF_CSRF_ENABLED=True, UPLOAD_DIR=str(tmp_path / "uploads"))
    with serving(app) as base:
        yield app, base


@pytest.fixture
def browser_context(tmp_path):
    with playwright_api.sync_playwright() as pw:
        ctx = persistent_context(pw, tmp_path / "chromium-profile", 1280, 800)
        yield ctx
        ctx.close()


@pytest.fixture
def artefacts(tmp_path) -> Path:
    return artefacts_folder(tmp_path)


def photo(tmp_path, name, shade) -> str:
    path = tmp_path / name
    cv2.imwrite(str(path), np.full((240, 320, 3), shade, np.uint8))
    return str(path)


def test_crew_does_the_days_inspection_route_and_a_finding_becomes_a_fault_ticket(served, browser_context, db,
                                                                                   users, tmp_path, artefacts):
    app, base = served
    fleet = make_fleet(db, users["crew"])
    # A second site 1 km from the depot: the route starts there, then K-105 (about 6 km out).
    near = Site(code="K-101", name="K-101 驻点路口", district="白碱滩区", latitude=45.609, longitude=84.9,
                depot_id=fleet["depot"].id)
    db.add(near)
    db.flush()
    db.add(Device(code="K101-CAM1", name="驻点路口相机", kind="checkpoint_camera", site_id=near.id))
    db.commit()
    inspections.create_plan(db, {"name": "镜头清洁", "device_kinds": ["checkpoint_camera"], "period": "monthly",
                                 "items": [{"key": "lens", "label": "镜头清洁", "needs_photo": True},
                                           {"key": "seal", "label": "密封完好"}]}, actor="t")
    inspections.create_plan(db, {"name": "机柜检查", "device_kinds": ["cabinet"], "period": "quarterly",
                                 "items": [{"key": "mains", "label": "市电输入电压", "needs_value": True, "unit": "V",
                                            "min": 198, "max": 242},
                                           {"key": "fans", "label": "风扇运转"}]}, actor="t")
    made = inspections.generate_due(db, now=utcnow())
    db.commit()
    assert made["created"] == 4

    page = browser_context.new_page()
    page.goto(f"{base}/login")
    page.fill("input[name=username]", "crew")
    page.fill("input[name=password]", PASSWORDS["crew"])
    page.click("form button[type=submit]")
    page.wait_for_load_state()
    page.click("nav details:has(a[href$='/inspections/route']) > summary")  # the menu group (运维) opens on tap
    page.click("nav a[href$='/inspections/route']")
    page.wait_for_load_state()
    assert [s.get_attribute("data-site") for s in page.locator(".route-stop").all()] == ["K-101", "K-105"]
    page.screenshot(path=str(artefacts / "inspection-route.png"))

    done = []
    while page.locator("a.order-card").count():
        card = page.locator("a.order-card").first
        device = card.get_attribute("data-device")
        box = card.bounding_box()
        assert box["height"] >= 56 and box["width"] >= 300  # gloves
        card.click()
        page.wait_for_load_state()
        for item in page.locator("fieldset.insp-item").all():
            key = item.get_attribute("data-item")
            verdict = "not_ok" if (device, key) == ("K105-CAM2", "seal") else "ok"
            label = item.locator(f"label:has(input[value={verdict}])")
            b = label.bounding_box()
            assert b["height"] >= 56 and b["width"] >= 120
            label.tap()
            if item.locator(f"input[name=value_{key}]").count():
                item.locator(f"input[name=value_{key}]").fill("221.5")
            if key == "lens" or verdict == "not_ok":
                item.locator(f"input[name=photo_{key}]").set_input_files(
                    photo(tmp_path, f"{device}-{key}.jpg", 40 if verdict == "not_ok" else 160))
        if device == "K105-CAM2":
            page.screenshot(path=str(artefacts / "inspection-finding.png"), full_page=True)
        submit = page.locator("#complete-inspection")
        assert submit.bounding_box()["height"] >= 72
        with page.expect_navigation():
            submit.click()
        assert page.url.endswith("/inspections/route"), page.content()[:2000]
        assert device in page.locator(".flash").first.inner_text()
        done.append(device)
    assert sorted(done) == ["K101-CAM1", "K105-CAB", "K105-CAM1", "K105-CAM2"]
    assert done[0] == "K101-CAM1"  # the nearest site first
    assert "没有待巡检的设备" in page.content()

    # The finding is a fault ticket for K105-CAM2, in the crew's "My tickets", with the photo as evidence.
    page.goto(f"{base}/tickets/mine")
    cam2 = fleet["cam2"]
    db.expire_all()
    fault = db.scalar(select(Ticket).where(Ticket.device_id == cam2.id, Ticket.category == "inspection"))
    assert fault is not None
    card = page.locator(f"a.ticket-card[data-ticket='{fault.id}']")
    assert "K105-CAM2" in card.inner_text() and "巡检发现" in card.inner_text()
    assert page.locator("a.ticket-card").count() == 1  # the inspection orders themselves are not faults
    card.click()
    page.wait_for_load_state()
    assert "密封完好" in page.content()
    assert page.locator(".photos img").first.evaluate("img => img.naturalWidth") > 0
    page.screenshot(path=str(artefacts / "inspection-fault-ticket.png"))
    orders = db.scalars(select(InspectionOrder)).all()
    assert all(o.state == "done" for o in orders)
    assert [o.result for o in orders if o.device_id == cam2.id] == ["not_ok"]
