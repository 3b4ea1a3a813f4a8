"""Report a fault from the pole in a real headless Chromium (T1, T7): the supervisor prints a site's QR labels; the
QR read back from the rendered sheet is an absolute /r/<device> URL; a passer-by's phone (no login) opens it and
sends the fault form (CSRF on, a real photo) — a triage item appears; a logged-in crew tablet opening the same URL
lands on the device's page."""
from pathlib import Path

import cv2
import numpy as np
import pytest
from sqlalchemy import select

from fleetops.models.maintenance import FaultReport
from tests.conftest import PASSWORDS
from tests.tickets_fixtures import make_fleet
from tests.e2e.harness import ARGS, CHROMIUM, artefacts_folder, persistent_context, serving  # noqa: F401

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium package is not installed")]


@pytest.fixture
def artefacts(tmp_path) -> Path:
    return artefacts_folder(tmp_path)


@pytest.fixture
def served(make_app, users, db):
    """The app with CSRF on, on a free loopback port; the labels carry that address as PUBLIC_BASE_URL."""
    app = make_app(WTF_CSRF_ENABLED=True)
    with serving(app) as base:
        app.config["PUBLIC_BASE_URL"] = base
        yield app, base


@pytest.fixture
def browser(tmp_path):
    with playwright_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


def read_qr(img) -> str:
    """The text of the QR code in a screenshot, or "". The screenshot is read as rendered (no resizing: a 3x
    nearest-neighbour blow-up of the 4.4-pixel modules made OpenCV's classic detector miss about 1 URL in 100,
    the CI port's among them); the ArUco-based detector read all of 1,500 ports, the classic one is the fallback."""
    img = cv2.copyMakeBorder(img, 40, 40, 40, 40, cv2.BORDER_CONSTANT, value=(255, 255, 255))
    for detector in (cv2.QRCodeDetectorAruco(), cv2.QRCodeDetector()):
        text, _points, _ = detector.detectAndDecode(img)
        if text:
            return text
    return ""


def log_in(page, base, role):
    page.goto(f"{base}/login")
    page.fill("input[name=username]", role)
    page.fill("input[name=password]", PASSWORDS[role])
    page.click("form button[type=submit]")
    page.wait_for_load_state()


def test_a_qr_label_opens_the_public_form_for_a_passer_by_and_the_device_page_for_the_crew(
        served, browser, db, users, artefacts, tmp_path):
    app, base = served
    make_fleet(db, users["crew"])
    db.commit()

    # The supervisor prints the site's labels; the QR on the rendered sheet decodes to the device's URL.
    desk = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="zh-CN")
    page = desk.new_page()
    log_in(page, base, "supervisor")
    page.goto(f"{base}/labels/K-105")
    shot = artefacts / "labels-K-105.png"
    page.locator("#label-K105-CAM1 svg").screenshot(path=str(shot))
    page.screenshot(path=str(artefacts / "labels-sheet.png"), full_page=True)
    url = read_qr(cv2.imread(str(shot)))
    assert url == f"{base}/r/K105-CAM1"
    desk.close()

    # A passer-by's phone: no login, the one-page fault form, a real photo.
    photo = tmp_path / "pole.jpg"
    frame = np.full((240, 320, 3), 90, np.uint8)
    cv2.rectangle(frame, (100, 60), (220, 180), (20, 20, 200), -1)
    cv2.imwrite(str(photo), frame)
    phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", has_touch=True,
                                is_mobile=True)
    page = phone.new_page()
    page.goto(url)
    assert "报告故障" in page.locator("h1").inner_text()
    assert "K105-CAM1" in page.locator("#device-id").inner_text()
    page.check("input[name=problem][value=knocked]")
    page.fill("textarea[name=details]", "相机被货车刮歪，朝向天空")
    page.set_input_files("input[name=photo]", str(photo))
    page.fill("input[name=phone]", "13912345678")
    box = page.locator("#send-report").bounding_box()
    assert box["height"] >= 44
    with page.expect_navigation():
        page.click("#send-report")
    assert "已收到" in page.locator("h1").inner_text()
    page.screenshot(path=str(artefacts / "report-sent.png"), full_page=True)
    phone.close()
    db.rollback()
    [r] = db.scalars(select(FaultReport)).all()
    assert (r.problem, r.phone, r.state, bool(r.photo_path)) == ("knocked", "13912345678", "new", True)

    # The crew's tablet, logged in: the same URL opens the device's page.
    tablet = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN", has_touch=True)
    page = tablet.new_page()
    log_in(page, base, "crew")
    page.goto(url)
    page.wait_for_load_state()
    assert page.url == f"{base}/devices/K105-CAM1"
    assert "K105-CAM1" in page.content()
    tablet.close()
