"""Sign-in throttling, session cookies (SameSite, Secure from the environment, a session version that logout and
a password change bump) and the security headers on every response."""
from fleetops import create_app
from fleetops.config import load_config
from fleetops.models import AuditLog
from fleetops.services import accounts
from tests.conftest import PASSWORDS, login


def _try(client, username, password="wrong-password", addr="127.0.0.1"):
    return client.post("/login", data={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": addr})


def test_wrong_passwords_pause_the_account_with_a_message_and_one_audit_line(make_app, users, db):
    app = make_app(LOGIN_LIMIT_PER_ACCOUNT="3 per 5 minutes")
    c = app.test_client()
    assert [_try(c, "crew").status_code for _ in range(3)] == [200, 200, 200]
    refused = _try(c, "crew", PASSWORDS["crew"])  # even the right password waits now
    assert refused.status_code == 429 and "登录已暂停" in refused.get_data(as_text=True)
    assert refused.headers.get("Retry-After")
    assert _try(c, "CREW ").status_code == 429  # the same account, however it is typed
    assert _try(app.test_client(), "crew", PASSWORDS["crew"], addr="127.0.0.9").status_code == 429
    assert _try(c, "supervisor", PASSWORDS["supervisor"]).status_code == 302  # other accounts are not locked out
    rows = db.query(AuditLog).filter_by(action="login_throttled").all()
    assert len(rows) == 1 and rows[0].after["username"] == "crew" and rows[0].after["scope"] == "account"


def test_wrong_passwords_from_one_address_pause_that_address(make_app, users, db):
    app = make_app(LOGIN_LIMIT_PER_ADDRESS="4 per 10 minutes")
    c = app.test_client()
    for name in ("a1", "a2", "a3", "a4"):
        assert _try(c, name, addr="127.0.0.5").status_code == 200
    assert _try(c, "admin", PASSWORDS["admin"], addr="127.0.0.5").status_code == 429
    assert _try(c, "admin", PASSWORDS["admin"], addr="127.0.0.6").status_code == 302
    assert db.query(AuditLog).filter_by(action="login_throttled").one().after["scope"] == "address"


def test_successful_sign_ins_do_not_count(make_app, users):
    app = make_app(LOGIN_LIMIT_PER_ACCOUNT="2 per 5 minutes")
    for _ in range(4):
        assert _try(app.test_client(), "crew", PASSWORDS["crew"]).status_code == 302


def test_session_cookie_is_samesite_lax_and_secure_comes_from_the_environment(app, users, tmp_path, schema):
    resp = app.test_client().post("/login", data={"username": "crew", "password": PASSWORDS["crew"]})
    cookie = resp.headers["Set-Cookie"]
    assert "SameSite=Lax" in cookie and "HttpOnly" in cookie and "Secure" not in cookie
    assert load_config(tmp_path, environ={"FLEETOPS_SESSION_COOKIE_SECURE": "1"})["SESSION_COOKIE_SECURE"] is True
    secure_app = create_app({"TESTING": True, "DATABASE_URL": schema, "INSTANCE_PATH": str(tmp_path),
                             "SECRET_KEY": "x", "WTF_CSRF_ENABLED": False, "SESSION_COOKIE_SECURE": True})
    resp = secure_app.test_client().post("/login", data={"username": "crew", "password": PASSWORDS["crew"]})
    assert "Secure" in resp.headers["Set-Cookie"]
    secure_app.extensions["fleetops.engine"].dispose()


def _replay(app, cookie):
    other = app.test_client()
    other.set_cookie("session", cookie)
    return other.get("/account")


def test_a_cookie_replayed_after_logout_no_longer_works(app, users):
    c = login(app.test_client(), "crew")
    cookie = c.get_cookie("session").value
    assert _replay(app, cookie).status_code == 200
    c.post("/logout")
    resp = _replay(app, cookie)
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_a_password_change_ends_older_sessions(app, users, db):
    c = login(app.test_client(), "crew")
    cookie = c.get_cookie("session").value
    accounts.set_password_of(db, "crew", "another-pass-456", actor="cli")
    db.commit()
    assert _replay(app, cookie).status_code == 302
    assert _try(app.test_client(), "crew", "another-pass-456").status_code == 302


def test_security_headers_on_every_response(app, client_as, api_headers):
    c = client_as("crew")
    for resp in (app.test_client().get("/login"), c.get("/nowhere"), c.get("/static/css/app.css"),
                 app.test_client().get("/api/v1/sites", headers=api_headers("crew"))):
        csp = resp.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Referrer-Policy"]


def test_no_template_has_inline_script_or_handlers():
    import re
    from fleetops.config import PROJECT_ROOT
    for path in (PROJECT_ROOT / "templates").rglob("*.html"):
        text = path.read_text("utf-8")
        # a JSON data island (type="application/json", filled with |tojson) is data, not script: CSP allows it
        assert not re.search(r"<script(?![^>]*\b(?:src=|type=\"application/json\"))[^>]*>", text), path
        assert not re.search(r"<[a-z][^>]*\son(?:click|submit|change|input|load|error|focus|blur|key\w+|mouse\w+)\s*=",
                             text), path
        assert "javascript:" not in text, path
