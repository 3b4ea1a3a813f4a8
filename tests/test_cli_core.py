"""The core CLI: create-user prints a password once, create-token prints a working token, errors are sentences."""
from click.testing import CliRunner

import fleetops.cli as cli


def _runner(app, monkeypatch):
    monkeypatch.setattr(cli, "_app", app)
    return CliRunner()


def test_create_user_and_token(app, monkeypatch):
    r = _runner(app, monkeypatch)
    out = r.invoke(cli.main, ["create-user", "王师傅", "--role", "crew", "--district", "独山子区"])
    assert out.exit_code == 0, out.output
    assert "初始密码（仅显示一次）：" in out.output  # "password (shown once):", Chinese by default
    tok = r.invoke(cli.main, ["create-token", "王师傅"])
    assert tok.exit_code == 0
    token = tok.output.strip()
    assert token.startswith("fo_")
    resp = app.test_client().get("/api/v1/openapi.json", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200


def test_duplicate_user_is_a_clear_error_not_a_traceback(app, monkeypatch):
    r = _runner(app, monkeypatch)
    r.invoke(cli.main, ["create-user", "li", "--role", "crew", "--password", "longenough1"])
    out = r.invoke(cli.main, ["create-user", "li", "--role", "crew", "--password", "longenough1"])
    assert out.exit_code == 1
    assert "已存在" in out.output and "Traceback" not in out.output


def test_token_for_unknown_user_is_refused(app, monkeypatch):
    out = _runner(app, monkeypatch).invoke(cli.main, ["create-token", "nobody"])
    assert out.exit_code == 1 and "nobody" in out.output
