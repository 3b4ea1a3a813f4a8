"""A1 in the UI and the API: the crew sees and acknowledges its district's alerts, admins set channels whose secrets
are never shown back, the delivery log shows every attempt, U7 counts are pushed through the API, the CLI delivers."""
from datetime import timedelta

from click.testing import CliRunner
from sqlalchemy import select

import fleetops.cli as cli
from fleetops.models.alerts import Alert, AlertChannel, PassCount
from fleetops.models.base import utcnow
from fleetops.platform import events, parameters
from fleetops.services import alerts
from tests.services.test_alerts_delivery import LATER, T0, Receiver, free_port, make_site


def _outage(db, district="天山区"):
    _s, (cam,) = make_site(db, district=district)
    events.emit(db, "outage_opened", outage_id=1, device_id=cam.id, started_at=T0, detected_at=T0)
    db.commit()
    return cam, db.scalar(select(Alert))


def test_crew_sees_its_districts_alert_in_chinese_and_acknowledges_it(db, users, client_as):
    users["crew"].district = "天山区"
    db.commit()
    cam, alert = _outage(db)
    c = client_as("crew")
    html = c.get("/alerts/").get_data(as_text=True)
    assert "设备离线" in html and cam.code in html and "确认" in html
    resp = c.post(f"/alerts/{alert.id}/ack", follow_redirects=True)
    assert "告警已确认" in resp.get_data(as_text=True)
    db.refresh(alert)
    assert alert.state == "acknowledged" and alert.acknowledged_by_id == users["crew"].id


def test_a_crew_of_another_district_neither_sees_nor_acknowledges(db, users, client_as):
    users["crew"].district = "沙依巴克区"
    db.commit()
    cam, alert = _outage(db, district="天山区")
    c = client_as("crew")
    assert cam.code not in c.get("/alerts/").get_data(as_text=True)
    assert c.get(f"/alerts/{alert.id}").status_code == 404
    c.post(f"/alerts/{alert.id}/ack")
    db.refresh(alert)
    assert alert.state == "open"


def test_admin_sets_a_dingtalk_channel_and_its_secrets_are_never_shown_back(db, users, client_as):
    c = client_as("admin")
    resp = c.post("/alerts/channels/new", data={
        "kind": "dingtalk", "name": "天山区运维群", "base_url": "http://127.0.0.1:9/robot/send",
        "access_token": "AT-secret-token-77", "secret": "SEC-signing-88", "enabled": "1"}, follow_redirects=True)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "天山区运维群" in html and "已设置" in html
    assert "AT-secret-token-77" not in html and "SEC-signing-88" not in html
    ch = db.scalar(select(AlertChannel))
    edit = c.get(f"/alerts/channels/{ch.id}/edit").get_data(as_text=True)
    assert "AT-secret-token-77" not in edit and "留空则保持不变" in edit
    c.post(f"/alerts/channels/{ch.id}/edit", data={"kind": "dingtalk", "name": "天山区运维群",
                                                    "base_url": "http://127.0.0.1:9/robot/send", "access_token": "",
                                                    "secret": "", "enabled": "1"})
    db.expire_all()
    assert db.get(AlertChannel, ch.id).secrets == {"access_token": "AT-secret-token-77", "secret": "SEC-signing-88"}
    c.post("/alerts/routes", data={"channel_id": ch.id, "district": "天山区", "min_severity": "warning", "role": "crew"})
    assert "天山区运维群" in c.get("/alerts/channels").get_data(as_text=True)


def test_a_bad_channel_form_is_a_message_not_a_500(db, users, client_as):
    c = client_as("admin")
    resp = c.post("/alerts/channels/new", data={"kind": "webhook", "name": "x", "url": "ftp://nope"},
                  follow_redirects=True)
    assert resp.status_code == 200 and "http" in resp.get_data(as_text=True)
    assert db.scalar(select(AlertChannel)) is None


def test_crew_and_supervisors_cannot_edit_channels(client_as):
    assert client_as("crew").get("/alerts/channels").status_code == 403
    assert client_as("supervisor").get("/alerts/channels/new").status_code == 403


def test_the_delivery_log_shows_each_attempt_with_its_result(db, users, client_as):
    port = free_port()
    ch = alerts.save_channel(db, users["admin"], name="值班 webhook", kind="webhook",
                             settings={"url": f"http://127.0.0.1:{port}/hook", "timeout_s": 1})
    alerts.save_route(db, users["admin"], channel_id=ch.id)
    _outage(db)
    alerts.deliver_due(db, now=LATER)
    html = client_as("supervisor").get("/alerts/deliveries").get_data(as_text=True)
    assert "值班 webhook" in html and "待发送" in html and "无法连接" in html


def test_api_lists_and_acknowledges_alerts(db, users, api_headers, app):
    _cam, alert = _outage(db)
    c = app.test_client()
    body = c.get("/api/v1/alerts", headers=api_headers("supervisor")).get_json()
    assert [a["id"] for a in body["alerts"]] == [alert.id] and body["alerts"][0]["kind"] == "device_down"
    resp = c.post(f"/api/v1/alerts/{alert.id}/acknowledge", headers=api_headers("crew"))
    assert resp.status_code == 200 and resp.get_json()["state"] == "acknowledged"
    again = c.post(f"/api/v1/alerts/{alert.id}/acknowledge", headers=api_headers("crew"))
    assert again.status_code == 422 and "error" in again.get_json()


def test_api_channel_list_never_contains_secrets(db, users, api_headers, app):
    alerts.save_channel(db, users["admin"], name="wecom", kind="wecom", settings={}, secrets={"key": "wk-secret-1"})
    db.commit()
    resp = app.test_client().get("/api/v1/alert-channels", headers=api_headers("admin"))
    assert resp.status_code == 200 and "wk-secret-1" not in resp.get_data(as_text=True)
    assert resp.get_json()["channels"][0]["secrets_set"] == {"key": True}


def test_pass_counts_are_pushed_through_the_api_all_or_nothing(db, users, api_headers, app):
    cam, _a = _outage(db)
    c = app.test_client()
    bad = c.post("/api/v1/pass-counts", headers=api_headers("supervisor"), json={"counts": [
        {"device": cam.code, "slot_start": "2026-11-20T09:00:00+08:00", "count": 40},
        {"device": "NO-SUCH", "slot_start": "2026-11-20T09:00:00+08:00", "count": 1}]})
    assert bad.status_code == 422 and len(bad.get_json()["details"]["errors"]) == 1
    assert db.scalars(select(PassCount)).all() == []
    ok = c.post("/api/v1/pass-counts", headers=api_headers("supervisor"), json={"interval_s": 3600, "counts": [
        {"device": cam.code, "slot_start": "2026-11-20T09:00:00+08:00", "count": 40}]})
    assert ok.status_code == 201 and ok.get_json() == {"stored": 1}
    assert db.scalar(select(PassCount)).count == 40
    assert c.post("/api/v1/pass-counts", headers=api_headers("crew"), json={"counts": []}).status_code == 403


def test_cli_deliver_once_sends_the_outbox(db, users, app, monkeypatch):
    hook = Receiver()
    try:
        ch = alerts.save_channel(db, users["admin"], name="hook", kind="webhook", settings={"url": hook.url})
        alerts.save_route(db, users["admin"], channel_id=ch.id)
        parameters.set_value(db, "alerts.group_hold_s", 0, users["admin"])
        _outage(db)
        monkeypatch.setattr(cli, "_app", app)
        out = CliRunner().invoke(cli.main, ["alerts", "deliver-once"])
        assert out.exit_code == 0 and "sent=1 failed=0" in out.output
        assert len(hook.requests) == 1
    finally:
        hook.close()


def test_cli_adds_a_channel_with_a_prompted_secret_and_a_route(db, users, app, monkeypatch):
    monkeypatch.setattr(cli, "_app", app)
    r = CliRunner()
    out = r.invoke(cli.main, ["alerts", "add-channel", "演示群", "--kind", "dingtalk",
                              "--set", "base_url=http://127.0.0.1:9/robot/send", "--secret", "access_token"],
                   input="at-from-prompt\n")
    assert out.exit_code == 0, out.output
    assert "at-from-prompt" not in out.output.replace("access_token:", "")
    ch = db.scalar(select(AlertChannel))
    assert ch.secrets == {"access_token": "at-from-prompt"} and ch.settings["base_url"].startswith("http://127.0.0.1")
    bad = r.invoke(cli.main, ["alerts", "add-channel", "x", "--kind", "webhook", "--set", "colour=blue"])
    assert bad.exit_code == 1 and "colour" in bad.output and "Traceback" not in bad.output


def test_a_message_that_gave_up_can_be_sent_again_from_the_log(db, users, client_as):
    hook = Receiver()
    try:
        ch = alerts.save_channel(db, users["admin"], name="hook", kind="webhook", settings={"url": hook.url})
        alerts.save_route(db, users["admin"], channel_id=ch.id)
        _outage(db)
        from fleetops.models.alerts import AlertDelivery

        d = db.scalar(select(AlertDelivery))
        d.state, d.attempts = "failed", 15
        db.commit()
        c = client_as("supervisor")
        assert "重新发送" in c.get("/alerts/deliveries").get_data(as_text=True)
        c.post(f"/alerts/deliveries/{d.id}/retry")
        assert alerts.deliver_due(db, now=utcnow() + timedelta(seconds=1))["sent"] == 1
        assert len(hook.requests) == 1
    finally:
        hook.close()
