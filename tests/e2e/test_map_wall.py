"""Issue 13 in a real headless Chromium (Debian's, through Playwright) at 1280×800, 800×1280 and 1920×1080:
the fleet map (markers, a marker's colour after a fault is injected, the tile-less background), the wall screen
(a fault turns a district tile red within two poll cycles, without a reload) and the ECharts charts (rendered,
ending on the tile's figure). Nothing is fetched from outside loopback (no CDN, no tile server).
Screenshots go to $FLEETOPS_ARTEFACTS or the pytest tmp dir."""
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from fleetops.models import Site
from fleetops.models.base import utcnow
from fleetops.services.accounts import display_tokens
from fleetops.services.monitoring import IngestConfig, ingest_results, sample_online_rate
from tests.conftest import PASSWORDS
from tests.tickets_fixtures import make_fleet
from tests.e2e.harness import ARGS, CHROMIUM, artefacts_folder, persistent_context, serving  # noqa: F401

playwright_api = pytest.importorskip("playwright.sync_api")
VIEWPORTS = {"tablet-landscape": (1280, 800), "tablet-portrait": (800, 1280), "desktop": (1920, 1080)}
UP_RGB, SOME_DOWN_RGB, UNKNOWN_RGB = "rgb(27, 127, 59)", "rgb(180, 83, 9)", "rgb(95, 107, 122)"  # static/css/map.css

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium package is not installed")]


def results(code, start, minutes, ok):
    return [{"device": code, "probe": "ping", "ok": ok, "at": (start + timedelta(minutes=i)).isoformat(),
             "detail": "" if ok else "timeout after 1.0 s"} for i in range(minutes)]


@pytest.fixture
def artefacts(tmp_path) -> Path:
    return artefacts_folder(tmp_path)


@pytest.fixture
def served(make_app, users, db):
    """The app (CSRF on; the wall polls only when the test says so) on a free loopback port in a thread."""
    app = make_app(WTF_CSRF_ENABLED=True, WALL_POLL_S=3600)
    with serving(app) as base:
        yield app, base


@pytest.fixture
def fleet_up(db, users):
    """Two sites on 迎宾大道 (a road line) and one on G217, every device answering for the last ten minutes."""
    f = make_fleet(db, users["crew"])
    db.add(Site(code="K-106", name="迎宾大道与友谊路路口", road="迎宾大道", direction="东向", district="白碱滩区",
                latitude=45.70, longitude=85.02))
    db.commit()
    now = utcnow().replace(microsecond=0)
    rows = []
    for code in ("K105-CAM1", "K105-CAM2", "K105-CAB", "K230-CAM1"):
        rows += results(code, now - timedelta(minutes=10), 10, True)
    ingest_results(db, rows, IngestConfig(), now=now)
    sample_online_rate(db, IngestConfig(), now=now)
    db.commit()
    return f, now


def inject_camera_fault(db, now):
    """K105-CAM1 stops answering (through the monitoring ingest, as the poller's results would arrive)."""
    ingest_results(db, results("K105-CAM1", now, 5, False), IngestConfig(), now=now + timedelta(minutes=5))
    db.commit()


@pytest.fixture(params=list(VIEWPORTS), ids=list(VIEWPORTS))
def browser(request, tmp_path):
    width, height = VIEWPORTS[request.param]
    outside = []
    with playwright_api.sync_playwright() as pw:
        ctx = persistent_context(pw, tmp_path / "chromium-profile", width, height)

        def guard(route):
            host = urlsplit(route.request.url).hostname or ""
            if route.request.url.startswith(("data:", "blob:")) or host == "127.0.0.1":
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        ctx.route("**/*", guard)
        errors = []
        ctx.on("page", lambda page: page.on("pageerror", lambda exc: errors.append(str(exc))))
        yield ctx, request.param, outside
        ctx.close()
    assert errors == [], errors  # no script error on any page


def log_in(page, base, role):
    page.goto(f"{base}/login")
    page.fill("input[name=username]", role)
    page.fill("input[name=password]", PASSWORDS[role])
    page.click("form button[type=submit]")
    page.wait_for_load_state()


def marker_colour(page, code):
    return page.eval_on_selector(f'.site-marker[title^="{code} "] span', "e => getComputedStyle(e).backgroundColor")


def test_map_markers_change_colour_after_a_fault_on_a_tile_less_map(served, browser, db, fleet_up, artefacts):
    app, base = served
    ctx, name, outside = browser
    _fleet, now = fleet_up
    page = ctx.new_page()
    log_in(page, base, "supervisor")
    page.goto(f"{base}/map/")
    page.wait_for_selector("#fleet-map[data-sites='3']")
    page.wait_for_selector("#fleet-map[data-layers]")
    # Tile-less: no tile images, district outline and the road through K-105 and K-106 drawn as vectors.
    assert page.locator("#fleet-map.tileless").count() == 1 and page.locator("img.leaflet-tile").count() == 0
    assert page.locator("path.district-outline").count() >= 1 and page.locator("path.road-line").count() >= 1
    # Zoomed out to the whole fleet, K-105 and K-106 (7 km apart) are one cluster of two, coloured by its worst
    # site (K-106 has no monitored device yet: unknown).
    page.wait_for_selector(".site-cluster.status-unknown >> text='2'")
    assert "没有点位有设备离线" in page.locator("#down-list").inner_text()
    page.screenshot(path=str(artefacts / f"map-clustered-{name}.png"))
    page.evaluate("window.fleetMap.focus('K-105')")  # zoom in until the marker stands alone
    page.wait_for_selector('.site-marker[title^="K-105 "]')
    assert marker_colour(page, "K-105") == UP_RGB
    page.screenshot(path=str(artefacts / f"map-before-{name}.png"))

    inject_camera_fault(db, now)
    page.evaluate("window.fleetMapRefresh()")  # the page's own 30 s refresh, driven by the test
    page.wait_for_selector('.site-marker.status-some_down[title^="K-105 "]')
    assert marker_colour(page, "K-105") == SOME_DOWN_RGB
    assert marker_colour(page, "K-106") == UNKNOWN_RGB  # no monitored device
    assert "K-105" in page.locator("#down-list").inner_text()

    # The side list opens the site's panel: devices, the outage's ticket, coordinates labelled, navigation.
    page.click('#down-list button[data-site="K-105"]')
    page.wait_for_selector("#site-panel[data-site='K-105']")
    panel = page.locator("#site-panel").inner_text()
    assert "K105-CAM1" in panel and "经度" in panel and "纬度" in panel and "WGS-84" in panel
    assert page.locator("#site-panel .panel-tickets a").count() == 1
    assert page.locator("#site-panel a[href^='https://uri.amap.com/marker']").count() == 1
    page.screenshot(path=str(artefacts / f"map-after-{name}.png"))
    assert outside == []


def test_wall_tile_turns_red_within_two_polls_without_a_reload(served, browser, db, users, fleet_up, artefacts):
    app, base = served
    ctx, name, outside = browser
    _fleet, now = fleet_up
    _row, token = display_tokens.create_display_token(db, "值班室大屏", actor=users["admin"])
    db.commit()
    page = ctx.new_page()
    page.goto(f"{base}/wall?token={token}")  # no login: the display token alone
    assert page.url.endswith("/wall")
    page.wait_for_selector("body[data-polls='1']")
    tile = page.locator('.wall-tile[data-district="白碱滩区"]')
    assert "ok" in tile.get_attribute("class") and "3 / 3" in tile.inner_text()
    page.wait_for_selector("#fleet-map[data-sites='3']")
    page.evaluate("window.__samePage = true")  # gone if the page reloads
    page.screenshot(path=str(artefacts / f"wall-before-{name}.png"))

    inject_camera_fault(db, now)
    polls = 0
    for _ in range(2):  # the wall's own poll, driven by the test: red within two cycles
        page.evaluate("window.wallPoll()")
        polls += 1
        if "bad" in tile.get_attribute("class"):
            break
    assert "bad" in tile.get_attribute("class"), f"still green after {polls} polls"
    assert "2 / 3" in tile.inner_text()
    assert page.evaluate("window.__samePage") is True
    assert "K105-CAM1" in page.locator("#wall-outages").inner_text()
    page.wait_for_selector(".site-cluster.status-some_down")  # K-105's cluster takes its worst site's colour
    page.screenshot(path=str(artefacts / f"wall-after-{name}.png"))
    assert outside == []


def test_dashboard_chart_renders_and_ends_on_the_tiles_figure(served, browser, db, fleet_up, artefacts):
    app, base = served
    ctx, name, outside = browser
    page = ctx.new_page()
    log_in(page, base, "supervisor")
    page.goto(f"{base}/reports/")
    page.wait_for_selector("[data-chart='chart-online-rate'][data-rendered='1'] svg")
    tile = page.locator("#stat-online-now").inner_text().replace("%", "").strip()
    assert page.get_attribute("[data-chart='chart-online-rate']", "data-last") == tile == "100.00"
    legend = page.locator("[data-chart='chart-online-rate'] svg").text_content()
    assert "目标" in legend
    page.screenshot(path=str(artefacts / f"dashboard-{name}.png"))
    page.goto(f"{base}/monitoring/")
    page.wait_for_selector("[data-chart='chart-online-rate'][data-rendered='1'] svg")
    assert outside == []
