"""Issue 13's last gaps (A1, U4, T7): the site form's district chosen from the list or named as new (server-checked),
a successful channel test and the uptime report's zone in Chinese words, and a menu whose every link opens for the
role that sees it, with this round's entries in their groups."""
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import func, select

from fleetops.models import Site
from fleetops.services import alerts, inventory
from fleetops.services.inventory import demo
from tests.conftest import login
from tests.tickets_fixtures import make_fleet

SITE = {"code": "C301", "name": "迎宾大道测速点", "latitude": "45.58", "longitude": "84.91", "depot": ""}


# ---------------------------------------------------------------- the site form's district

def test_site_form_offers_the_known_districts_and_a_new_one(client_as, db):
    make_fleet(db)
    db.commit()
    html = client_as("supervisor").get("/sites/new").get_data(as_text=True)
    select_html = re.search(r'<select[^>]*name="district".*?</select>', html, re.S).group(0)
    assert '<option value="白碱滩区">白碱滩区</option>' in select_html
    assert f'value="{inventory.NEW_DISTRICT}"' in select_html and "新建辖区" in select_html
    assert re.search(r'<input[^>]*name="new_district"', html)
    assert 'data-reveal="new-district-field"' in html and "js/site_form.js" in html
    assert not re.search(r'<input[^>]*name="district"', html)


def test_site_form_takes_a_known_district(client_as, db):
    make_fleet(db)
    db.commit()
    resp = client_as("supervisor").post("/sites/new", data={**SITE, "district": "白碱滩区", "new_district": ""})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:1500]
    assert db.scalar(select(Site.district).where(Site.code == "C301")) == "白碱滩区"


def test_site_form_takes_a_new_district_trimmed(client_as, db):
    make_fleet(db)
    db.commit()
    resp = client_as("supervisor").post("/sites/new", data={**SITE, "district": inventory.NEW_DISTRICT,
                                                             "new_district": "  乌尔禾区  "})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:1500]
    assert db.scalar(select(Site.district).where(Site.code == "C301")) == "乌尔禾区"


@pytest.mark.parametrize("district, new_name, field, words", [
    ("不存在区", "", "district", "请从列表中选择辖区"),  # typed past the list (a forged form)
    ("__new__", "   ", "new_district", "请填写新辖区的名称"),
    ("__new__", "区" * 51, "new_district", "50"),
])
def test_site_form_refuses_a_district_not_from_the_list(client_as, db, district, new_name, field, words):
    make_fleet(db)
    db.commit()
    before = db.scalar(select(func.count(Site.id)))
    resp = client_as("supervisor").post("/sites/new", data={**SITE, "district": district, "new_district": new_name})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    field_html = re.search(rf'<label class="field[^"]*">(?:(?!</label>).)*name="{field}"(?:(?!</label>).)*</label>',
                           html, re.S).group(0)
    assert words in field_html, field_html
    db.expire_all()
    assert db.scalar(select(func.count(Site.id))) == before  # nothing written


def test_site_edit_keeps_the_sites_district_selected(client_as, db):
    fleet = make_fleet(db)
    db.commit()
    html = client_as("supervisor").get(f"/sites/{fleet['near'].code}/edit").get_data(as_text=True)
    assert '<option selected value="白碱滩区">' in html or '<option value="白碱滩区" selected>' in html, \
        re.search(r'<select[^>]*name="district".*?</select>', html, re.S).group(0)


def test_maintenance_window_districts_are_ticked_from_the_list(client_as, db):
    make_fleet(db)
    db.commit()
    c = client_as("supervisor")
    html = c.get("/maintenance/new").get_data(as_text=True)
    assert re.search(r'<input type="checkbox" name="districts" value="白碱滩区"', html)
    assert not re.search(r'<input type="text" name="districts"', html)
    resp = c.post("/maintenance/new", data={"title": "白碱滩区计划停电", "districts": "白碱滩区", "from": "2099-05-06T08:00",
                                            "to": "2099-05-06T18:00", "cause": "power_utility", "recurrence": "none"})
    assert resp.status_code == 302 and "/maintenance/" in resp.headers["Location"], resp.get_data(as_text=True)[:500]
    detail = c.get(resp.headers["Location"]).get_data(as_text=True)
    assert "白碱滩区" in detail


def test_probe_agent_districts_are_ticked_from_the_list(client_as, db):
    make_fleet(db)
    db.commit()
    c = client_as("admin")
    html = c.get("/admin/agents/").get_data(as_text=True)
    assert re.search(r'<input type="checkbox" name="districts" value="白碱滩区"', html)
    assert not re.search(r'<input[^>]*type="text"[^>]*name="districts"|<input[^>]*name="districts"[^>]*type="text"', html)
    bad = c.post("/admin/agents/", data={"name": "探针甲", "districts": "不存在区", "cidrs": ""})
    assert bad.status_code == 422 and "secret-once" not in bad.get_data(as_text=True)
    ok = c.post("/admin/agents/", data={"name": "探针乙", "districts": "白碱滩区", "cidrs": ""})
    assert ok.status_code == 200 and "secret-once" in ok.get_data(as_text=True)


# ---------------------------------------------------------------- words instead of English

class _Hook:
    """A real webhook peer on loopback that answers 200."""

    def __init__(self):
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def hook():
    h = _Hook()
    yield h
    h.server.shutdown()
    h.server.server_close()


def test_a_successful_channel_test_reads_as_a_sentence(client_as, db, users, hook):
    ch = alerts.save_channel(db, users["admin"], name="值班群", kind="webhook", settings={"url": hook.url})
    db.commit()
    html = client_as("admin").post(f"/alerts/channels/{ch.id}/test", headers={"Referer": "/alerts/channels"},
                                   follow_redirects=True).get_data(as_text=True)
    flash = re.search(r'class="flash flash-success"[^>]*>([^<]*)<', html).group(1)
    assert "对方已接收" in flash and "OK" not in flash and "HTTP" not in flash, flash


@pytest.mark.parametrize("zone, words", [("Asia/Shanghai", "（北京时间）"), ("Asia/Urumqi", "（本地时间，UTC+06:00）")])
def test_uptime_period_names_the_zone_in_words(make_app, users, zone, words):
    app = make_app(TIMEZONE=zone)
    html = login(app.test_client(), "supervisor").get("/monitoring/uptime").get_data(as_text=True)
    assert words in html and zone not in html


# ---------------------------------------------------------------- the menu per role

EXPECTED_GROUP = {  # this round's entries → their menu group
    "/map/": "monitoring", "/wall": "monitoring", "/wall/tokens": "admin", "/inspections/route": "ops",
    "/inspections/": "ops", "/maintenance/": "ops", "/fault-reports/": "ops", "/discovery/": "admin",
    "/traps/": "monitoring", "/admin/agents/": "admin",
}
ADMIN_ONLY = ("/wall/tokens", "/discovery/", "/admin/agents/", "/admin/users", "/alerts/channels")


def menu_of(html: str) -> dict[str, str]:
    """{link: group key} of the rendered menu ("" for a top-level link)."""
    nav = re.search(r'<nav class="mainnav" id="mainnav">(.*?)</nav>', html, re.S).group(1)
    out = {}
    for m in re.finditer(r'<details class="navgroup[^"]*" data-group="([^"]+)">(.*?)</details>', nav, re.S):
        for href in re.findall(r'href="([^"]+)"', m.group(2)):
            out[href] = m.group(1)
    for href in re.findall(r'<a href="([^"]+)" class="navlink', re.sub(r"<details.*?</details>", "", nav, flags=re.S)):
        out[href] = ""
    return out


def test_every_menu_link_opens_for_its_role_and_sits_in_its_group(app, db, users):
    demo.load_demo_fleet(db)
    db.commit()
    menus = {}
    for role in ("crew", "supervisor", "admin"):
        client = login(app.test_client(), role)
        menu = menu_of(client.get("/", follow_redirects=True).get_data(as_text=True))
        menus[role] = menu
        assert len(menu) >= 4, (role, menu)
        for href in menu:
            assert client.get(href).status_code == 200, (role, href)
    for role, menu in menus.items():
        for href, group in EXPECTED_GROUP.items():
            if href in menu:
                assert menu[href] == group, (role, href, menu[href])
    assert set(EXPECTED_GROUP) <= set(menus["admin"]), sorted(set(EXPECTED_GROUP) - set(menus["admin"]))
    assert {"/map/", "/inspections/route", "/maintenance/"} <= set(menus["crew"])
    for role in ("crew", "supervisor"):
        assert not set(ADMIN_ONLY) & set(menus[role]), (role, set(ADMIN_ONLY) & set(menus[role]))
    # A crew member's menu holds no management or report group at all.
    assert set(menus["crew"].values()) <= {"", "ops", "monitoring"}, menus["crew"]
