"""The crew's whole flow in a real headless Chromium at 1280×800: outage → ticket → arrive → checklist → part →
photo → resolve → device back → verified and closed → the supervisor reads the history (T1, T3, T6, T7, A3)."""
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from fleetops.models.base import utcnow
from fleetops.models.tickets import Ticket
from fleetops.platform.jobs import JobContext
from fleetops.services import spares, tickets
from tests.conftest import PASSWORDS
from tests.tickets_fixtures import make_fleet, qualify, stock
from tests.e2e.harness import ARGS, CHROMIUM, artefacts_folder, persistent_context, serving  # noqa: F401

playwright_api = pytest.importorskip("playwright.sync_api")
SCREENSHOTS = Path("/tmp/fleetops-e2e")

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium package is not installed")]


def results(code, start, minutes, ok):
    """One ping result per minute for `minutes` minutes from `start` (the monitoring ingest format)."""
    return [{"device": code, "probe": "ping", "ok": ok, "at": (start + timedelta(minutes=i)).isoformat(),
             "metrics": {"rtt_ms": 3.1} if ok else {}, "detail": "" if ok else "timeout after 1.0 s"}
            for i in range(minutes)]


def ingest(db, rows):
    from fleetops.services.monitoring import ingest_results

    summary = ingest_results(db, rows)
    db.commit()
    return summary


@pytest.fixture
def served(make_app, users, db, tmp_path):
    """The app with CSRF on, served on a free loopback port in a thread."""
    app = make_app(WTF_CSRF_ENABLED=True)
    with serving(app) as base:
        yield app, base


@pytest.fixture
def browser_context(tmp_path):
    with playwright_api.sync_playwright() as pw:
        ctx = persistent_context(pw, tmp_path / "chromium-profile", 1280, 800,
            geolocation={"latitude": 45.6503, "longitude": 84.9497}, permissions=["geolocation"])
        yield ctx
        ctx.close()


def tap(page, selector):
    """Tap a button whose form the page script sends with fetch, and wait for the page it lands on."""
    with page.expect_navigation():
        page.click(selector)


def log_in(page, base, role):
    page.goto(f"{base}/login")
    page.fill("input[name=username]", role)
    page.fill("input[name=password]", PASSWORDS[role])
    page.click("form button[type=submit]")
    page.wait_for_load_state()


def test_crew_repairs_an_outage_on_the_tablet_and_the_supervisor_sees_the_history(served, browser_context, db,
                                                                                   users, shared_data):
    app, base = served
    fleet = make_fleet(db, users["crew"])
    qualify(db, users["crew"])
    pt, loc = stock(db, on_hand=3)
    db.commit()
    now = utcnow().replace(microsecond=0)
    # Monitoring sees K105-CAM1 stop answering 40 minutes ago while its neighbours stay up.
    rows = results("K105-CAM1", now - timedelta(minutes=50), 10, True) + \
        results("K105-CAM1", now - timedelta(minutes=40), 5, False)
    for code in ("K105-CAM2", "K105-CAB"):
        rows += results(code, now - timedelta(minutes=50), 15, True)
    assert ingest(db, rows).outages_opened == 1
    t = db.scalar(select(Ticket))
    assert t is not None and t.source == "outage" and t.state == "dispatched"

    page = browser_context.new_page()
    SCREENSHOTS.mkdir(exist_ok=True)
    log_in(page, base, "crew")
    assert page.url.endswith("/tickets/mine")
    card = page.locator(f"a.ticket-card[data-ticket='{t.id}']")
    assert "K-105 北门卡口" in card.inner_text()
    page.screenshot(path=str(SCREENSHOTS / "my-tickets.png"))
    card.click()
    page.wait_for_load_state()

    # Big buttons ≥ 44 px for gloved fingers.
    box = page.locator("#next-step").bounding_box()
    assert box["height"] >= 44 and box["width"] >= 44
    assert page.locator("#next-step").inner_text().strip() == "出发"
    tap(page, "#next-step")
    assert page.locator("#next-step").inner_text().strip() == "到场签到"
    tap(page, "#next-step")  # check-in sends the browser's location
    for box_ in page.locator(".checklist input[type=checkbox]").all():
        box_.check()
    tap(page, "#save-checklist")
    assert "安全检查已保存" in page.locator(".flash").first.inner_text()
    assert page.locator("#next-step").inner_text().strip() == "开始维修"
    tap(page, "#next-step")
    assert page.locator("#resolve").is_visible()

    page.select_option("#part-type", str(pt.id))
    page.select_option("#part-location", str(loc.id))
    tap(page, "#use-part")
    assert "备件已登记" in page.locator(".flash").first.inner_text()
    page.set_input_files("#photo-input", str(shared_data / "plates" / "ccpdsample_blur_0.jpg"))
    tap(page, "#upload-photo")
    assert "照片已保存" in page.locator(".flash").first.inner_text()
    assert page.locator(".photos img").first.evaluate("img => img.naturalWidth") > 0  # the thumbnail loads

    # A note sent while the van has no signal is kept and goes through once on the second tap.
    page.fill("textarea[name=note]", "补光灯灯珠烧毁，已更换")
    browser_context.set_offline(True)
    page.click("form[data-draft$='-note'] button[type=submit]")
    page.wait_for_selector("#offline-banner.show")
    assert page.input_value("textarea[name=note]") == "补光灯灯珠烧毁，已更换"
    browser_context.set_offline(False)
    tap(page, "form[data-draft$='-note'] button[type=submit]")
    assert "备注已保存" in page.locator(".flash").first.inner_text()
    page.screenshot(path=str(SCREENSHOTS / "ticket-repairing.png"), full_page=False)

    page.check("input[name=resolution][value=part_swapped]")
    page.fill("#resolve-notes", "更换补光灯一套")
    tap(page, "#resolve")
    assert "等待验证" in page.content()

    db.expire_all()
    t = db.get(Ticket, t.id)
    assert t.state == "resolved" and (t.arrival_lat, t.arrival_lon) == (45.6503, 84.9497)
    assert [e.action for e in t.events].count("note_added") == 1
    assert spares.on_hand(db, pt.id) == 2 and len(t.photos) == 1

    # The device comes back: monitoring sees it answer for 12 minutes; the verify job closes the ticket.
    ingest(db, results("K105-CAM1", now - timedelta(minutes=11), 12, True))
    tickets.job_verify(JobContext.from_app(app))
    db.expire_all()
    assert db.get(Ticket, t.id).state == "closed"

    page.context.clear_cookies()
    log_in(page, base, "supervisor")
    page.goto(f"{base}/tickets/{t.id}")
    history = page.locator("#history").inner_text()
    for words in ("出发", "到场签到", "开始维修", "处理完成", "验证恢复", "关闭工单", "使用备件", "上传照片"):
        assert words in history, words
    assert "part_used" not in history and "photo_added" not in history  # never a raw code
    assert "工单：上传照片" in page.locator("#audit").inner_text()
    assert page.locator("#ticket-state").inner_text() == "已关闭"
