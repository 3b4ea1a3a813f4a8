"""Maintenance windows through their three doors (U3, A1): `fleetops maintenance add/list --json`, the API
(/api/v1/maintenance-windows, token auth) and the web pages (list, form, detail, cancel). Bad input — end before
start, an unknown site, a bad cause — is a clear error naming the field (CLI exit 1, HTTP 422) and writes nothing."""
import io
import json

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

import fleetops.cli as cli
from fleetops.models import AuditLog
from fleetops.models.maintenance import MaintenanceWindow
from tests.tickets_fixtures import make_fleet

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def fleet(db, users):
    f = make_fleet(db, users["crew"])
    db.commit()
    return f


def _count(db):
    db.rollback()
    return db.scalar(select(func.count()).select_from(MaintenanceWindow))


def test_cli_add_and_list_json(app, db, fleet, monkeypatch, tmp_path):
    monkeypatch.setattr(cli, "_app", app)
    notice = tmp_path / "通知.pdf"
    notice.write_bytes(PDF)
    r = CliRunner()
    out = r.invoke(cli.main, ["maintenance", "add", "--site", "K-105", "--site", "K-230", "--from", "2099-03-01T09:00",
                              "--to", "2099-03-01T17:00", "--cause", "power_utility", "--ref", "克供电〔2099〕18号",
                              "--attachment", str(notice)])
    assert out.exit_code == 0, out.output
    assert "#1" in out.output
    listed = r.invoke(cli.main, ["maintenance", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    [w] = json.loads(listed.output)
    assert (w["cause"], w["reference"], w["state"], w["attachment"]) == (
        "power_utility", "克供电〔2099〕18号", "active", True)
    assert w["starts_at"] == "2099-03-01T09:00:00+08:00" and [i["code"] for i in w["scope"]] == ["K-105", "K-230"]
    assert db.scalar(select(AuditLog.action).where(AuditLog.entity_type == "maintenance_window")) == \
        "maintenance_window_created"


@pytest.mark.parametrize("args, word", [
    (["--site", "K-105", "--from", "2099-03-01T17:00", "--to", "2099-03-01T09:00", "--cause", "owner"], "结束时间"),
    (["--site", "NOPE", "--from", "2099-03-01T09:00", "--to", "2099-03-01T17:00", "--cause", "owner"], "NOPE"),
    (["--site", "K-105", "--from", "2099-03-01T09:00", "--to", "2099-03-01T17:00", "--cause", "weather"], "weather"),
])
def test_cli_bad_input_is_a_sentence_and_writes_nothing(app, db, fleet, monkeypatch, args, word):
    monkeypatch.setattr(cli, "_app", app)
    out = CliRunner().invoke(cli.main, ["maintenance", "add", *args])
    assert out.exit_code == 1 and word in out.output and "Traceback" not in out.output
    assert _count(db) == 0


def test_api_post_and_get(app, db, fleet, api_headers):
    c = app.test_client()
    body = {"sites": ["K-105"], "from": "2099-04-02T22:00:00+08:00", "to": "2099-04-03T04:00:00+08:00",
            "cause": "network_provider", "reference": "电信割接 0402", "recurrence": "daily", "count": 2}
    assert c.post("/api/v1/maintenance-windows", json=body).status_code == 401
    assert c.post("/api/v1/maintenance-windows", json=body, headers=api_headers("crew")).status_code == 403
    resp = c.post("/api/v1/maintenance-windows", json=body, headers=api_headers("supervisor"))
    assert resp.status_code == 201, resp.get_data(as_text=True)
    w = resp.get_json()
    assert w["state"] == "active" and w["last_end_at"] == "2099-04-04T04:00:00+08:00"
    got = c.get("/api/v1/maintenance-windows", headers=api_headers("crew")).get_json()
    assert [x["id"] for x in got["windows"]] == [w["id"]]
    doc = c.get("/api/v1/openapi.json").get_json()
    assert {"get", "post"} <= set(doc["paths"]["/maintenance-windows"])


@pytest.mark.parametrize("change, field", [
    ({"to": "2099-04-02T21:00:00+08:00"}, "to"),
    ({"sites": ["NOPE"]}, "sites"),
    ({"cause": "weather"}, "cause"),
    ({"recurrence": 7}, "recurrence"),
    ({"count": 1.5, "recurrence": "daily"}, "count"),
])
def test_api_bad_input_is_a_422_naming_the_field(app, db, fleet, api_headers, change, field):
    body = {"sites": ["K-105"], "from": "2099-04-02T22:00:00+08:00", "to": "2099-04-03T04:00:00+08:00",
            "cause": "network_provider", **change}
    resp = app.test_client().post("/api/v1/maintenance-windows", json=body, headers=api_headers("supervisor"))
    assert resp.status_code == 422, resp.get_data(as_text=True)
    assert resp.get_json()["details"]["field"] == field
    assert _count(db) == 0


def test_web_list_form_detail_cancel(app, db, fleet, client_as):
    sup = client_as("supervisor")
    assert sup.get("/maintenance/new").status_code == 200
    resp = sup.post("/maintenance/new", data={
        "title": "迎宾大道计划停电", "sites": "K-105", "from": "2099-05-06T08:00", "to": "2099-05-06T18:00",
        "cause": "power_utility", "reference": "供电 0506", "recurrence": "none",
        "attachment": (io.BytesIO(PDF), "notice.pdf")}, content_type="multipart/form-data")
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    page = sup.get(resp.headers["Location"]).get_data(as_text=True)
    assert "迎宾大道计划停电" in page and "供电公司计划停电" in page  # the cause in Chinese
    wid = int(resp.headers["Location"].rsplit("/", 1)[1])
    assert sup.get(f"/maintenance/{wid}/attachment").data == PDF
    listing = client_as("crew").get("/maintenance/").get_data(as_text=True)
    assert f"window-{wid}" in listing
    assert client_as("crew").post(f"/maintenance/{wid}/cancel").status_code == 403
    assert sup.post(f"/maintenance/{wid}/cancel", data={"reason": "改期"}).status_code == 302
    db.rollback()
    assert db.get(MaintenanceWindow, wid).state == "cancelled"
    bad = sup.post("/maintenance/new", data={"sites": "K-105", "from": "2099-05-06T18:00", "to": "2099-05-06T08:00",
                                             "cause": "power_utility"})
    assert bad.status_code == 302 and _count(db) == 1  # flashed, nothing written
    assert sup.post("/maintenance/new", data={"sites": "K-105", "from": "2099-05-06T08:00", "to": "2099-05-06T18:00",
                                              "cause": "power_utility", "attachment": (io.BytesIO(b"MZ" * 10),
                                                                                       "notice.pdf")},
                    content_type="multipart/form-data").status_code == 302
    assert _count(db) == 1  # not a PDF: refused
