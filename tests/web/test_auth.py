"""Logins, roles, CSRF, tokens and the API's refusal without one."""
from fleetops.models import AuditLog


def test_login_page_is_chinese_by_default(app):
    html = app.test_client().get("/login").get_data(as_text=True)
    assert "登录" in html and 'lang="zh-CN"' in html


def test_english_is_switchable(app):
    c = app.test_client()
    c.get("/lang/en")
    html = c.get("/login").get_data(as_text=True)
    assert "Log in" in html and 'lang="en"' in html


def test_wrong_password_is_refused_with_a_message(app, users):
    resp = app.test_client().post("/login", data={"username": "crew", "password": "nope-nope"},
                                  follow_redirects=True)
    assert "用户名或密码错误" in resp.get_data(as_text=True)


def test_passwords_are_stored_hashed(users):
    assert users["crew"].password_hash.startswith(("scrypt:", "pbkdf2:"))
    assert "crew-pass-123" not in users["crew"].password_hash


def test_login_form_without_csrf_token_is_rejected(make_app, users):
    app = make_app(WTF_CSRF_ENABLED=True)
    resp = app.test_client().post("/login", data={"username": "crew", "password": "crew-pass-123"})
    assert resp.status_code == 400
    assert "表单已过期" in resp.get_data(as_text=True)


def test_api_needs_a_token(app, users, api_headers):
    c = app.test_client()
    assert c.get("/api/v1/openapi.json").status_code == 200
    assert c.get("/api/v1/sites").status_code in (401, 404)
    bad = c.get("/api/v1/sites", headers={"Authorization": "Bearer fo_wrong"})
    assert bad.status_code in (401, 404)


def test_creating_a_user_is_audited(db, users):
    rows = db.query(AuditLog).filter_by(action="user_created").all()
    assert {r.after["username"] for r in rows} == {"admin", "supervisor", "crew"}
    assert all("password" not in (r.after or {}) for r in rows)
