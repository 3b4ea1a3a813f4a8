"""Admin pages: users, tokens (shown once, revocable), contract parameters (audited), audit log (supervisor+admin)."""
from sqlalchemy import select

from fleetops.models import ApiToken, AuditLog, User
from fleetops.platform import parameters


from fleetops.services import inventory


def test_crew_cannot_see_any_admin_page(client_as):
    c = client_as("crew")
    for url in ("/admin/users", "/admin/tokens", "/admin/parameters", "/admin/audit"):
        assert c.get(url).status_code == 403, url
    assert c.post("/admin/users", data={"username": "x", "role": "admin"}).status_code == 403
    assert "审计日志" not in c.get("/devices").get_data(as_text=True)


def test_supervisor_sees_the_audit_log_but_not_user_admin(client_as):
    c = client_as("supervisor")
    assert c.get("/admin/audit").status_code == 200
    assert c.get("/admin/users").status_code == 403
    assert c.get("/admin/parameters").status_code == 403


def test_admin_creates_a_user_with_a_generated_password_shown_once(client_as, db, users):
    inventory.save_site(db, None, {"name": "独山子卡口", "district": "独山子区", "latitude": "44.3", "longitude": "84.9"},
                        users["admin"], new_code="D001")  # the district is chosen from the inventory's list
    db.commit()
    c = client_as("admin")
    resp = c.post("/admin/users", data={"username": "zhang.wei", "display_name": "张伟", "role": "crew",
                                        "district": "独山子区", "password": ""})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "初始密码" in html
    user = db.scalar(select(User).where(User.username == "zhang.wei"))
    assert (user.role, user.district) == ("crew", "独山子区")
    password = html.split('class="secret-once">')[1].split("<")[0]
    assert len(password) >= 12 and password not in c.get("/admin/users").get_data(as_text=True)
    from fleetops.services import accounts
    assert accounts.authenticate(db, "zhang.wei", password) is not None


def test_a_duplicate_user_name_is_a_message(client_as):
    resp = client_as("admin").post("/admin/users", data={"username": "crew", "role": "crew", "password": ""},
                                   follow_redirects=True)
    assert "已存在" in resp.get_data(as_text=True)


def test_token_is_shown_once_works_and_can_be_revoked(client_as, app, db):
    c = client_as("admin")
    html = c.post("/admin/tokens", data={"username": "supervisor", "name": "平台对接"}).get_data(as_text=True)
    token = html.split('class="secret-once">')[1].split("<")[0]
    assert token.startswith("fo_")
    api = app.test_client()
    assert api.get("/api/v1/devices", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    listing = c.get("/admin/tokens").get_data(as_text=True)
    assert token not in listing and "平台对接" in listing
    row = db.scalar(select(ApiToken).where(ApiToken.name == "平台对接"))
    assert c.post(f"/admin/tokens/{row.id}/revoke").status_code == 302
    assert api.get("/api/v1/devices", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_parameter_edit_is_audited_and_bad_json_is_refused(client_as, db, monkeypatch):
    monkeypatch.setitem(parameters.DEFAULTS, "test_inventory.online_target_pct", (95, "U3: online-rate target"))
    c = client_as("admin")
    assert "test_inventory.online_target_pct" in c.get("/admin/parameters").get_data(as_text=True)
    resp = c.post("/admin/parameters", data={"key": "test_inventory.online_target_pct", "value": "[1,"},
                  follow_redirects=True)
    assert "online-rate target：请输入整数" in resp.get_data(as_text=True)  # the field named, by its type
    resp = c.post("/admin/parameters", data={"key": "test_inventory.online_target_pct", "value": '"high"'},
                  follow_redirects=True)
    assert "请输入整数" in resp.get_data(as_text=True)
    assert parameters.get(db, "test_inventory.online_target_pct") == 95
    c.post("/admin/parameters", data={"key": "test_inventory.online_target_pct", "value": "96"})
    db.expire_all()
    assert parameters.get(db, "test_inventory.online_target_pct") == 96
    entry = db.scalar(select(AuditLog).where(AuditLog.action == "parameter_changed"))
    assert entry.actor_name == "admin" and entry.before == {"value": 95} and entry.after == {"value": 96}


def test_audit_log_shows_who_what_before_after_and_filters(client_as, db, users):
    inventory.save_site(db, None, {"name": "友谊路口卡口", "latitude": "45.6", "longitude": "84.9"},
                        users["supervisor"], new_code="K200")
    db.commit()
    inventory.save_site(db, "K200", {"road": "友谊路"}, users["admin"])
    db.commit()
    c = client_as("supervisor")
    html = c.get("/admin/audit?entity_type=site&entity_id=K200").get_data(as_text=True)
    assert "修改点位" in html and "新增点位" in html and "友谊路" in html and "admin" in html  # actions as labels
    assert "site_updated" not in html and "新增用户" not in html
    only_admin = c.get("/admin/audit?entity_type=site&actor=admin").get_data(as_text=True)
    assert "修改点位" in only_admin and "新增点位" not in only_admin


def test_audit_log_pages(client_as, db, users):
    for i in range(60):
        inventory.save_site(db, None, {"name": f"测试点位{i}", "latitude": "45.6", "longitude": "84.9"},
                            users["admin"], new_code=f"T{i:03d}")
    db.commit()
    c = client_as("supervisor")
    p1 = c.get("/admin/audit?entity_type=site").get_data(as_text=True)
    p2 = c.get("/admin/audit?entity_type=site&page=2").get_data(as_text=True)
    assert ">T059<" in p1 and ">T000<" not in p1 and ">T000<" in p2 and "1 / 2" in p1 and "2 / 2" in p2


def test_audit_log_never_shows_a_secret(client_as, db, users):
    inventory.save_site(db, None, {"name": "点位", "latitude": "45.6", "longitude": "84.9"}, users["admin"], new_code="S1")
    inventory.save_device(db, None, {"kind": "switch", "site_code": "S1", "snmp_version": "v2c",
                                     "snmp_community": "very-secret-community"}, users["admin"], new_code="S1-SW")
    db.commit()
    inventory.save_device(db, "S1-SW", {"snmp_community": "another-secret"}, users["admin"])
    db.commit()
    html = client_as("admin").get("/admin/audit").get_data(as_text=True)
    assert "修改设备" in html and "snmp_community" in html
    assert "very-secret-community" not in html and "another-secret" not in html
