"""Inventory pages: lists with filters and paging, details, edits by role, secrets never rendered, import and export."""
import io
import re
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from fleetops.models import AuditLog, Device, Site
from tests.conftest import login
from tests.inventory_helpers import csv_bytes, device_row, load_small_fleet


@pytest.fixture
def fleet(db, users):
    return load_small_fleet(db, 80)


def secrets_of(fleet):
    return [d[k] for d in fleet.devices for k in ("snmp_community", "snapshot_password") if d[k]]


def first(fleet, kind):
    return next(d for d in fleet.devices if d["kind"] == kind)


def test_crew_sees_the_device_list_in_chinese_with_filters(client_as, fleet):
    c = client_as("crew")
    html = c.get("/devices").get_data(as_text=True)
    assert "设备" in html and "辖区" in html and "克拉玛依区" in html
    html = c.get("/devices?kind=switch&per_page=500").get_data(as_text=True)
    switches = [d["code"] for d in fleet.devices if d["kind"] == "switch"]
    assert all(code in html for code in switches)
    assert first(fleet, "fill_light")["code"] not in html


def test_device_list_pages(client_as, fleet):
    c = client_as("crew")
    codes = sorted(d["code"] for d in fleet.devices)
    p1 = c.get("/devices?per_page=10").get_data(as_text=True)
    p2 = c.get("/devices?per_page=10&page=2").get_data(as_text=True)
    assert f">{codes[0]}<" in p1 and f">{codes[10]}<" not in p1
    assert f">{codes[10]}<" in p2 and "page=3" in p2


def test_a_bad_filter_value_is_a_message_not_a_500(client_as, fleet):
    for url in ("/devices?key_site=perhaps", "/sites?key_site=perhaps"):
        resp = client_as("crew").get(url)
        assert resp.status_code == 200 and "应为“是”或“否”" in resp.get_data(as_text=True)


def test_device_and_site_pages_show_the_facts_but_never_a_secret(client_as, fleet):
    c = client_as("admin")
    cam = next(d for d in fleet.devices if d["snapshot_password"])
    html = c.get(f"/devices/{cam['code']}").get_data(as_text=True)
    assert cam["ip_address"] in html and cam["site_code"] in html and "SNMP 团体名" in html
    site_html = c.get(f"/sites/{cam['site_code']}").get_data(as_text=True)
    edit_html = c.get(f"/devices/{cam['code']}/edit").get_data(as_text=True)
    for page in (html, site_html, edit_html, c.get("/devices?per_page=200").get_data(as_text=True)):
        assert not any(s in page for s in secrets_of(fleet))
    assert "留空则保持不变" in edit_html


def test_crew_gets_403_on_every_inventory_edit(client_as, fleet, db):
    c = client_as("crew")
    cam = first(fleet, "switch")
    assert c.get(f"/devices/{cam['code']}/edit").status_code == 403
    assert c.post(f"/devices/{cam['code']}/edit", data={"vendor": "x"}).status_code == 403
    assert c.post(f"/devices/{cam['code']}/retire").status_code == 403
    assert c.get("/devices/new").status_code == 403
    assert c.get(f"/sites/{cam['site_code']}/edit").status_code == 403
    assert c.post("/inventory/import", data={}).status_code == 403
    assert c.get("/inventory/export").status_code == 403
    assert "编辑" not in c.get(f"/devices/{cam['code']}").get_data(as_text=True)
    assert db.scalar(select(Device.vendor).where(Device.code == cam["code"])) == cam["vendor"]


def edit_data(db, code, **changes):
    dev = db.scalar(select(Device).where(Device.code == code))
    data = {"name": dev.name, "kind": dev.kind, "site_code": dev.site.code,
            "cabinet_code": dev.cabinet.code if dev.cabinet else "", "parent_code": dev.parent.code if dev.parent else "",
            "vendor": dev.vendor, "model": dev.model, "serial": dev.serial, "ip_address": dev.ip_address or "",
            "lifecycle": dev.lifecycle, "installed_on": str(dev.installed_on or ""), "liveness_probe": dev.liveness_probe,
            "snmp_version": dev.snmp_version, "snmp_port": str(dev.snmp_port), "snmp_v3_auth_protocol": "",
            "snmp_v3_priv_protocol": "", "snapshot_url": dev.snapshot_url, "snapshot_username": dev.snapshot_username,
            "version": str(dev.version)}
    data.update(changes)
    return data


def test_supervisor_edit_is_saved_and_audited_and_keeps_secrets(client_as, fleet, db):
    c = client_as("supervisor")
    cam = next(d for d in fleet.devices if d["snmp_community"])
    resp = c.post(f"/devices/{cam['code']}/edit", data=edit_data(db, cam["code"], vendor="大华股份"))
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    db.expire_all()
    dev = db.scalar(select(Device).where(Device.code == cam["code"]))
    assert dev.vendor == "大华股份" and dev.snmp_community == cam["snmp_community"]
    entry = db.scalar(select(AuditLog).where(AuditLog.action == "device_updated"))
    assert entry.actor_name == "supervisor" and entry.after == {"vendor": "大华股份"}


def test_an_edit_from_a_stale_form_is_refused_with_a_message(client_as, fleet, db):
    c = client_as("supervisor")
    code = first(fleet, "switch")["code"]
    stale = edit_data(db, code, vendor="A 厂")
    assert c.post(f"/devices/{code}/edit", data=edit_data(db, code, vendor="B 厂")).status_code == 302
    resp = c.post(f"/devices/{code}/edit", data=stale, headers={"Referer": f"/devices/{code}/edit"},
                  follow_redirects=True)
    assert "已被他人修改" in resp.get_data(as_text=True)
    db.expire_all()
    assert db.scalar(select(Device.vendor).where(Device.code == code)) == "B 厂"


def test_a_bad_ip_on_the_form_is_shown_next_to_the_field(client_as, fleet, db):
    code = first(fleet, "switch")["code"]
    resp = client_as("supervisor").post(f"/devices/{code}/edit", data=edit_data(db, code, ip_address="10.1.1"))
    assert resp.status_code == 422 and "格式错误" in resp.get_data(as_text=True)


def test_supervisor_creates_a_site_and_a_device(client_as, db, users):
    c = client_as("supervisor")
    resp = c.post("/sites/new", data={"code": "C201", "name": "迎宾大道测速点", "district": "__new__", "new_district": "克拉玛依区",
                                      "latitude": "45.58", "longitude": "84.91", "key_site": "y", "depot": ""})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    resp = c.post("/devices/new", data={"code": "C201-CAM1", "kind": "speed_camera", "site_code": "C201",
                                        "lifecycle": "installed", "liveness_probe": "ping", "snmp_version": "",
                                        "snmp_port": "161", "snmp_v3_auth_protocol": "", "snmp_v3_priv_protocol": "",
                                        "ip_address": "127.20.9.9"})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    site = db.scalar(select(Site).where(Site.code == "C201"))
    assert site.key_site and site.devices[0].code == "C201-CAM1"


def test_csrf_is_required_on_inventory_forms(make_app, users, fleet, db):
    app = make_app(WTF_CSRF_ENABLED=True)
    c = app.test_client()
    page = c.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    c.post("/login", data={"username": "supervisor", "password": "super-pass-123", "csrf_token": token})
    code = first(fleet, "switch")["code"]
    resp = c.post(f"/devices/{code}/retire", data={})
    assert resp.status_code == 400
    assert db.scalar(select(Device.lifecycle).where(Device.code == code)) != "retired"


def test_import_page_previews_every_error_and_writes_nothing(client_as, db, users):
    rows = [device_row("K105-CAM1", ip="10.0.0.1"), device_row("K105-CAM2", "飞碟", ip="10.0.0.2"),
            device_row("K105-CAM3", ip="bad-ip")]
    resp = client_as("supervisor").post("/inventory/import", data={"file": (io.BytesIO(csv_bytes(rows)), "清单.csv")},
                                        content_type="multipart/form-data")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "未知设备类型" in html and "格式错误" in html and "Import now" not in html and "立即导入" not in html
    assert db.scalar(select(Device.id)) is None


def test_import_page_dry_run_then_confirm(client_as, db, users):
    c = client_as("supervisor")
    data = csv_bytes([device_row("K105-CAM1", ip="10.0.0.1"), device_row("K105-SW", "交换机", ip="10.0.0.2")],
                     encoding="gbk")
    resp = c.post("/inventory/import", data={"file": (io.BytesIO(data), "gbk.csv")}, content_type="multipart/form-data")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "立即导入" in html and "gb18030" in html
    assert db.scalar(select(Device.id)) is None
    token = html.split('name="token" value="')[1].split('"')[0]
    resp = c.post("/inventory/import/confirm", data={"token": token, "filename": "gbk.csv"})
    assert resp.status_code == 302
    assert sorted(db.scalars(select(Device.code))) == ["K105-CAM1", "K105-SW"]
    assert c.post("/inventory/import/confirm", data={"token": "../../etc/passwd"}).status_code == 302


def test_export_download_has_no_secrets(client_as, fleet):
    resp = client_as("supervisor").get("/inventory/export?format=csv")
    text = resp.get_data().decode("utf-8-sig")
    assert resp.status_code == 200 and "attachment" in resp.headers["Content-Disposition"]
    assert first(fleet, "switch")["code"] in text
    assert not any(s in text for s in secrets_of(fleet))


def test_device_panels_from_other_areas_are_rendered(client_as, fleet, app):
    from fleetops.web import inventory as web_inventory

    from jinja2 import ChoiceLoader, DictLoader

    app.jinja_env.loader = ChoiceLoader([DictLoader({"test/_panel.html": "<p>PANEL {{ panel.word }}</p>"}),
                                         app.jinja_env.loader])
    panel = web_inventory.DevicePanel("test/_panel.html", context=lambda s, d: {"word": d.code})
    web_inventory.DEVICE_PANELS.append(panel)
    try:
        code = first(fleet, "switch")["code"]
        assert f"PANEL {code}" in client_as("crew").get(f"/devices/{code}").get_data(as_text=True)
    finally:
        web_inventory.DEVICE_PANELS.remove(panel)


def test_speed_camera_page_flags_an_expired_certificate(client_as, db, users):
    from fleetops.models import MetrologyCertificate
    from fleetops.services.inventory.demo import load_demo_fleet

    load_demo_fleet(db, seed=7)
    db.commit()
    expired = next(c for c in db.scalars(select(MetrologyCertificate)) if c.valid_until < date.today())
    html = client_as("crew").get(f"/devices/{expired.device.code}").get_data(as_text=True)
    assert expired.certificate_no in html and "已过期" in html


def test_a_certificate_expires_by_the_sites_calendar_not_the_servers(make_app, users):
    """F5: "expired" is judged on the local day at the sites (TIMEZONE), not on the server's clock (UTC here)."""
    from fleetops.models import MetrologyCertificate
    from fleetops.services.inventory.demo import load_demo_fleet

    utc_today = datetime.now(timezone.utc).date()
    # 14 h ahead of UTC or 12 h behind: at any hour one of the two is on another calendar day than UTC
    zone = next(z for z in ("Etc/GMT-14", "Etc/GMT+12") if datetime.now(ZoneInfo(z)).date() != utc_today)
    app = make_app(TIMEZONE=zone)
    s = app.extensions["fleetops.sessionmaker"]()
    load_demo_fleet(s, seed=7)
    cert = next(c for c in s.scalars(select(MetrologyCertificate)))
    local_today = datetime.now(ZoneInfo(zone)).date()
    # ends on the earlier of the two days: expired at the sites when they are ahead, still valid when behind
    cert.valid_until, cert.certificate_no = min(utc_today, local_today), "EDGE-DAY-1"
    s.commit()
    html = login(app.test_client(), "crew").get(f"/devices/{cert.device.code}").get_data(as_text=True)
    row = re.search(r"<tr><td>EDGE-DAY-1</td>.*?</tr>", html).group(0)
    assert ("已过期" in row) == (cert.valid_until < local_today), (zone, row)
    s.close()
