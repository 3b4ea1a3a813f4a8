"""Every page a person reaches, as each role, on the demo-sized fleet (issue 13: Chinese throughout, labels,
navigation; U4, T7, A3 pages among them).

Breadth with the Flask test client: from the menu, following the links on each page (one page per kind of URL:
`/devices/K101-CAM1` stands for every device page), every page answers below 400 and its visible text has no
half-English "中文 / English" pair, no requirement id (U3, T8 …) and every input, select and textarea has a label
(`<label for>`, an enclosing `<label>`, aria-label or aria-labelledby). Then a rendered sample in headless Chromium
at 1280×800, 800×1280 (menu button on the narrow screen) and 1920×1080 (the supervisor's desktop), screenshots kept as artefacts in the pytest tmp dir
(or $FLEETOPS_ARTEFACTS). Timing is measured in benchmarks, never asserted here."""
import os
import re
from collections import deque
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from sqlalchemy import select

from fleetops.models import Device
from fleetops.models.base import utcnow
from fleetops.models.tickets import Ticket
from fleetops.services.inventory import demo
from fleetops.services.monitoring import ingest_results
from tests.conftest import PASSWORDS, login
from tests.tickets_fixtures import stock
from tests.e2e.harness import ARGS, CHROMIUM, artefacts_folder, persistent_context, serving  # noqa: F401

pytestmark = pytest.mark.e2e

HALF_ENGLISH = re.compile(r"[\u4e00-\u9fff]\s*/\s*[A-Za-z]")
REQUIREMENT_ID = re.compile(r"\b[A-Z]\d\b(?!\s*纸)")  # "A4 纸" is paper, not a requirement
# An English sentence left untranslated on a Chinese page: three or more lower-case English words in a row.
ENGLISH_SENTENCE = re.compile(r"\b[A-Za-z][a-z]+(?:\s+[a-z]{2,}){2,}\b")
SKIP_PATH = re.compile(r"(/logout|/lang/|\.(pdf|xlsx|csv|jpg|png|json)$|/export|/photos/|/image/|/evidence|"
                       r"/crop\.jpg|/metrics|/static/|/api/)")
MAX_PAGES = 140
ROLES = ("crew", "supervisor", "admin")
# This round's pages (issue 13 map/wall, inspections, maintenance windows, fault reports, discovery, traps, agents),
# started from by hand so the crawl reaches each as every role that may open it, whatever the menu shows.
ROUND_PAGES = {
    "crew": ("/map/", "/inspections/route", "/maintenance/"),
    "supervisor": ("/map/", "/wall", "/inspections/", "/maintenance/", "/fault-reports/", "/traps/"),
    "admin": ("/map/", "/wall", "/inspections/", "/maintenance/", "/fault-reports/", "/traps/", "/discovery/",
              "/admin/agents/", "/wall/tokens"),
}


class Page(HTMLParser):
    """The visible text nodes, the links, and the form fields with whether each has a label."""

    VOID_SKIP = {"script", "style", "template"}
    VISIBLE_ATTRS = ("placeholder", "title", "alt", "aria-label")

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.texts, self.links, self.fields = [], [], []
        self.label_for, self.ids_labelled_by = set(), set()
        self._skip = 0
        self._label_depth = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in self.VOID_SKIP:
            self._skip += 1
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        if tag == "label":
            self._label_depth += 1
            if a.get("for"):
                self.label_for.add(a["for"])
        for attr in self.VISIBLE_ATTRS:
            if a.get(attr):
                self.texts.append(a[attr])
        if tag in ("input", "select", "textarea"):
            kind = (a.get("type") or "text").lower()
            if tag == "input" and kind in ("hidden", "submit", "button", "image", "reset"):
                if kind in ("submit", "button") and a.get("value"):
                    self.texts.append(a["value"])
                return
            labelled = bool(a.get("aria-label") or a.get("aria-labelledby") or self._label_depth)
            self.fields.append({"tag": tag, "name": a.get("name"), "id": a.get("id"), "labelled": labelled})

    def handle_endtag(self, tag):
        if tag in self.VOID_SKIP and self._skip:
            self._skip -= 1
        if tag == "label" and self._label_depth:
            self._label_depth -= 1

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.texts.append(data.strip())

    def unlabelled(self) -> list[dict]:
        return [f for f in self.fields if not f["labelled"] and not (f["id"] and f["id"] in self.label_for)]


def kind_of(path: str) -> str:
    """One page per kind: /tickets/12 and /tickets/13 are the same kind, /devices/K101-CAM1 and /devices/S2-… too."""
    parts = [p for p in path.split("/") if p]
    return "/" + "/".join("<x>" if re.search(r"\d", p) else p for p in parts)


def problems_of(path: str, html: str) -> list[str]:
    page = Page()
    page.feed(html)
    out = []
    for text in page.texts:
        if HALF_ENGLISH.search(text):
            out.append(f"{path}: half-English text {text!r}")
        if REQUIREMENT_ID.search(text):
            out.append(f"{path}: requirement id in {text!r}")
        if ENGLISH_SENTENCE.search(text):
            out.append(f"{path}: English left in {text!r}")
    for f in page.unlabelled():
        out.append(f"{path}: {f['tag']} name={f['name']!r} id={f['id']!r} has no label")
    return out


def crawl(client, start: list[str]) -> tuple[dict, list[str]]:
    """Visit every kind of page reachable from `start` (bounded); returns ({path: status}, problems)."""
    seen_kinds, visited, problems = set(), {}, []
    queue = deque(start)
    while queue and len(visited) < MAX_PAGES:
        url = queue.popleft()
        parts = urlsplit(url)
        if parts.scheme not in ("", "http") or parts.netloc not in ("", "localhost") or SKIP_PATH.search(parts.path):
            continue
        kind = kind_of(parts.path)
        if kind in seen_kinds:
            continue
        seen_kinds.add(kind)
        resp = client.get(url)
        visited[url] = resp.status_code
        if resp.status_code >= 400:
            problems.append(f"{url}: HTTP {resp.status_code}")
            continue
        if resp.status_code in (301, 302, 303):
            queue.append(resp.headers["Location"])
            continue
        if not resp.content_type.startswith("text/html"):
            continue
        html = resp.get_data(as_text=True)
        problems += problems_of(url, html)
        page = Page()
        page.feed(html)
        for href in page.links:
            target = urljoin(url, href).split("#", 1)[0]
            split = urlsplit(target)
            if target and split.scheme in ("", "http") and split.netloc in ("", "localhost"):  # no map-app links
                queue.append(split._replace(scheme="", netloc="").geturl())
    return visited, problems


@pytest.fixture
def demo_fleet(app, db, users):
    """The demo fleet (600 devices), five cameras down for 40 minutes (outages, tickets, alerts), spare parts,
    and one ticket under way on site so the crew's forms show."""
    demo.load_demo_fleet(db)
    db.commit()
    crew = users["crew"]
    down = list(db.scalars(select(Device).where(Device.kind == "checkpoint_camera").order_by(Device.code).limit(5)))
    crew.district = down[0].site.district
    db.commit()
    now = utcnow().replace(microsecond=0)
    rows = []
    for d in down:
        rows += [{"device": d.code, "probe": "ping", "ok": i < 10, "at": (now - timedelta(minutes=50 - i)).isoformat(),
                  "metrics": {"rtt_ms": 2.0} if i < 10 else {}, "detail": ""}
                 for i in range(15)]
    ingest_results(db, rows)
    stock(db, on_hand=3)
    db.commit()
    from fleetops.services import tickets

    t = db.scalar(select(Ticket).order_by(Ticket.id))
    if t.assignee_id != crew.id:
        tickets.dispatch(db, t.id, assignee_id=crew.id, actor="test")
    tickets.record_arrival(db, t.id, actor=crew, lat=45.6, lon=84.9)
    db.commit()
    return {"ticket": t, "down": down}


def test_every_page_as_every_role_answers_in_chinese_with_labels(app, demo_fleet):
    report, all_problems = {}, []
    for role in ROLES:
        client = login(app.test_client(), role)
        # "/" lands on the role's home; the menu on it links every navigable page, the crawl follows the rest.
        visited, problems = crawl(client, ["/", f"/tickets/{demo_fleet['ticket'].id}", "/account",
                                           *ROUND_PAGES[role]])
        report[role] = visited
        all_problems += [f"[{role}] {p}" for p in problems]
    # The crawl reached the pages it must (a guard against a crawler that visits nothing).
    for role, pages in report.items():
        assert len(pages) >= (8 if role == "crew" else 20), (role, sorted(pages))
    for role, pages in ROUND_PAGES.items():
        for path in pages:
            assert report[role].get(path) == 200, (role, path, report[role].get(path))
    kinds = {kind_of(urlsplit(u).path) for u in report["supervisor"]}
    for must in ("/tickets/<x>", "/devices/<x>", "/sites/<x>", "/monitoring/devices/<x>", "/monitoring/outages/<x>",
                 "/alerts/<x>"):
        assert must in kinds, (must, sorted(kinds))
    assert not all_problems, f"{len(all_problems)} problems:\n" + "\n".join(all_problems[:120])


def test_problem_finder_catches_what_it_must():
    """The checks themselves: a half-English fault, a requirement id, an unlabelled field are all reported."""
    html = ('<p>离线 / offline</p><p>合同要求（U3）</p><input name="reason" placeholder="x">'
            '<label for="a">A</label><input id="a" name="a"><label>B <select name="b"></select></label>'
            '<input type="file" name="photo" aria-label="照片"><script>var x = "中 / x";</script>'
            '<p>OK published to topic</p><p>用 A4 纸打印</p><p>SNMP v2c</p>')
    found = problems_of("/x", html)
    assert any("half-English" in p for p in found)
    assert [p for p in found if "requirement id" in p] == ["/x: requirement id in '合同要求（U3）'"]
    assert [p for p in found if "English left" in p] == ["/x: English left in 'OK published to topic'"]
    assert [p for p in found if "no label" in p] == ["/x: input name='reason' id=None has no label"]


# ---------------------------------------------------------------- a rendered sample in Chromium



@pytest.fixture
def served(make_app, users, db, tmp_path):
    app = make_app(WTF_CSRF_ENABLED=True)
    with serving(app) as base:
        yield app, base


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium package is not installed")
def test_rendered_sample_lands_each_role_home_and_the_menu_folds_on_a_portrait_tablet(served, demo_fleet,
                                                                                        tmp_path):
    playwright_api = pytest.importorskip("playwright.sync_api")
    _app, base = served
    shots = Path(os.environ.get("FLEETOPS_ARTEFACTS") or tmp_path) / "crawl"
    shots.mkdir(parents=True, exist_ok=True)
    homes = {"crew": "/tickets/mine", "supervisor": "/reports/", "admin": "/reports/"}
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        for width, height in ((1280, 800), (800, 1280), (1920, 1080)):
            for role in ROLES:
                ctx = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN",
                                          has_touch=True)
                page = ctx.new_page()
                page.goto(f"{base}/login")
                page.fill("input[name=username]", role)
                page.fill("input[name=password]", PASSWORDS[role])
                page.click("form button[type=submit]")
                page.wait_for_load_state()
                assert urlsplit(page.url).path == homes[role], (role, page.url)
                toggle, menu = page.locator("#nav-toggle"), page.locator("#mainnav")
                if width <= 900:
                    assert toggle.is_visible() and not menu.is_visible()
                    box = toggle.bounding_box()
                    assert box["height"] >= 44 and box["width"] >= 44  # a gloved finger
                    toggle.tap()
                    assert menu.is_visible()
                    page.screenshot(path=str(shots / f"{role}-menu-{width}x{height}.png"))
                    toggle.tap()
                    assert not menu.is_visible()
                else:
                    assert not toggle.is_visible() and menu.is_visible()
                    assert menu.bounding_box()["height"] <= 60  # one row of groups, not six rows of links
                page.screenshot(path=str(shots / f"{role}-home-{width}x{height}.png"), full_page=True)
                page.goto(f"{base}/tickets/{demo_fleet['ticket'].id}")
                page.wait_for_load_state()
                page.screenshot(path=str(shots / f"{role}-ticket-{width}x{height}.png"), full_page=True)
                ctx.close()
        browser.close()
    assert len(list(shots.glob("*.png"))) == 3 * 3 * 2 + 3


def test_device_inventory_and_monitoring_pages_link_both_ways(app, demo_fleet):
    client = login(app.test_client(), "supervisor")
    code = demo_fleet["down"][0].code
    inv = client.get(f"/devices/{code}").get_data(as_text=True)
    mon = client.get(f"/monitoring/devices/{code}").get_data(as_text=True)
    assert f'href="/monitoring/devices/{code}" id="to-monitoring"' in inv
    assert f'href="/devices/{code}" id="to-inventory"' in mon


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium package is not installed")
def test_site_form_reveals_the_new_district_input_only_when_chosen(served, demo_fleet, tmp_path):
    """Issue 13 part 6: the district is chosen from the list; "新建辖区…" reveals the name input (site_form.js)."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    _app, base = served
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        ctx = browser.new_context(viewport={"width": 800, "height": 1280}, locale="zh-CN", has_touch=True)
        page = ctx.new_page()
        page.goto(f"{base}/login")
        page.fill("input[name=username]", "supervisor")
        page.fill("input[name=password]", PASSWORDS["supervisor"])
        page.click("form button[type=submit]")
        page.wait_for_load_state()
        page.goto(f"{base}/sites/new")
        new_name = page.locator("input[name=new_district]")
        assert page.locator("select[name=district] option").count() > 3  # the demo's districts, "—" and "new"
        assert not new_name.is_visible()
        page.select_option("select[name=district]", "__new__")
        assert new_name.is_visible() and new_name.evaluate("e => e.required")
        page.select_option("select[name=district]", index=1)
        assert not new_name.is_visible()
        ctx.close()
        browser.close()
