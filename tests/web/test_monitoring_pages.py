"""Monitoring pages and API (U3, U4, A3): status, timeline, outage causes with evidence, uptime table + export, JSON."""
import io
from datetime import datetime, timedelta, timezone

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from fleetops.models import AuditLog, Device, Site
from fleetops.models.monitoring import ExclusionRequest, Outage
from fleetops.platform import clock
from fleetops.services.monitoring import IngestConfig, ingest_results

UTC = timezone.utc
MIN = timedelta(minutes=1)


_BASE = datetime.now(UTC).replace(microsecond=0)  # one clock for the whole module: exact 60 s spacing


def recent(minutes_ago: int) -> datetime:
    return _BASE - minutes_ago * MIN


@pytest.fixture
def down_camera(db):
    site = Site(code="K105", name="K105 北门卡口", district="天山区", latitude=43.8, longitude=87.6)
    db.add(site)
    db.flush()
    cam = Device(code="K105-CAM1", kind="checkpoint_camera", site_id=site.id, lifecycle="online",
                 ip_address="127.0.0.9", snmp_version="v2c", snmp_community="s3cret-community")
    ok_cam = Device(code="K105-CAM2", kind="epolice_camera", site_id=site.id, lifecycle="online",
                    ip_address="127.0.0.10")
    db.add_all([cam, ok_cam])
    db.commit()
    lines = [{"device": "K105-CAM1", "probe": "ping", "ok": i < 2, "at": recent(10 - i).isoformat()}
             for i in range(6)]
    lines += [{"device": "K105-CAM2", "probe": "ping", "ok": True, "at": recent(10 - i).isoformat()}
              for i in range(6)]
    ingest_results(db, lines, IngestConfig())
    db.commit()
    return cam


def test_fleet_status_is_a_supervisor_home_page(client_as, down_camera):
    from fleetops.web import nav

    assert any(i.endpoint == "monitoring.status" and "supervisor" in i.home_for for i in nav._items)
    c = client_as("supervisor")
    resp = c.get("/monitoring/")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "设备状态" in html
    assert "K105-CAM1" in html and "50.0 %" in html  # one of two devices online
    assert 'http-equiv="refresh"' in html
    assert "s3cret-community" not in html


def test_crew_sees_the_status_but_not_the_uptime_table(client_as, down_camera):
    c = client_as("crew")
    assert c.get("/monitoring/").status_code == 200
    assert c.get("/monitoring/uptime").status_code == 403


def test_device_timeline_shows_its_outage_and_results(client_as, down_camera):
    html = client_as("crew").get("/monitoring/devices/K105-CAM1").get_data(as_text=True)
    assert "仍未恢复" in html and "失败" in html and "离线" in html
    # up 2 min; down from the first failure until the last result + 2 polls = 5 min → 2/7
    assert "近 30 天原始在线率</dt><dd>28.571 %" in html
    assert client_as("crew").get("/monitoring/devices/NOPE").status_code == 404


def test_supervisor_sets_an_excluding_cause_with_evidence_and_it_is_audited(client_as, down_camera, db, app):
    [o] = db.scalars(select(Outage)).all()
    c = client_as("supervisor")
    resp = c.post(f"/monitoring/outages/{o.id}", data={
        "cause": "power_utility", "reason": "国网停电通知第 118 号",
        "evidence": (io.BytesIO(b"%PDF-1.4 notice"), "停电通知.pdf")}, content_type="multipart/form-data",
        follow_redirects=True)
    assert resp.status_code == 200 and "停机原因已记录" in resp.get_data(as_text=True)
    db.expire_all()
    o = db.get(Outage, o.id)
    assert o.cause == "power_utility" and o.evidence_path.endswith(".pdf")
    assert c.get(f"/monitoring/outages/{o.id}/evidence").data == b"%PDF-1.4 notice"
    entry = db.scalars(select(AuditLog).where(AuditLog.action == "outage_cause_set")).one()
    assert entry.actor_name == "supervisor"
    # Through the exclusion queue, filed and approved in one step by the supervisor, audited as both.
    [req] = db.scalars(select(ExclusionRequest)).all()
    assert (req.outage_id, req.source, req.state, req.decided_by, req.cause) == (
        o.id, "supervisor", "approved", "supervisor", "power_utility")
    assert req.photo_path == o.evidence_path
    actions = [a.action for a in db.scalars(select(AuditLog).order_by(AuditLog.id))
               if a.action.startswith(("exclusion_", "outage_cause"))]
    assert actions == ["exclusion_requested", "outage_cause_set", "exclusion_approved"]
    # A cause that excludes nothing stays direct: no request.
    c.post(f"/monitoring/outages/{o.id}", data={"cause": "device_fault", "reason": ""})
    db.expire_all()
    assert db.get(Outage, o.id).cause == "device_fault" and len(db.scalars(select(ExclusionRequest)).all()) == 1


def test_excluding_cause_without_reason_is_refused_with_a_message(client_as, down_camera, db):
    [o] = db.scalars(select(Outage)).all()
    resp = client_as("supervisor").post(f"/monitoring/outages/{o.id}", data={"cause": "network_provider",
                                                                            "reason": ""},
                                        follow_redirects=True)
    assert "必须填写依据" in resp.get_data(as_text=True)
    db.expire_all()
    assert db.get(Outage, o.id).cause == "device_fault"


def test_crew_cannot_set_a_cause(client_as, down_camera, db):
    [o] = db.scalars(select(Outage)).all()
    resp = client_as("crew").post(f"/monitoring/outages/{o.id}", data={"cause": "power_utility", "reason": "x"})
    assert resp.status_code == 403
    db.expire_all()
    assert db.get(Outage, o.id).cause == "device_fault"
    assert db.scalars(select(AuditLog).where(AuditLog.action == "outage_cause_set")).all() == []


def test_wrong_evidence_type_is_refused(client_as, down_camera, db):
    [o] = db.scalars(select(Outage)).all()
    resp = client_as("supervisor").post(f"/monitoring/outages/{o.id}", data={
        "cause": "power_utility", "reason": "停电", "evidence": (io.BytesIO(b"MZ"), "x.exe")},
        content_type="multipart/form-data", follow_redirects=True)
    assert "证明材料须为" in resp.get_data(as_text=True)


def test_outage_list_filters_by_cause(client_as, down_camera):
    c = client_as("crew")
    assert "K105-CAM1" in c.get("/monitoring/outages").get_data(as_text=True)
    assert "K105-CAM1" not in c.get("/monitoring/outages?cause=power_utility").get_data(as_text=True)


def test_uptime_table_and_its_exports(client_as, down_camera):
    c = client_as("supervisor")
    # The form's dates are local days: from 16:00 to midnight UTC, UTC's date is the day before Beijing's.
    today = clock.local_now().date().isoformat()
    html = c.get(f"/monitoring/uptime?period=custom&from={today}&to={today}&by=device").get_data(as_text=True)
    assert "K105-CAM1" in html and "考核在线率" in html
    csv_resp = c.get(f"/monitoring/uptime?period=month&by=site&format=csv")
    assert csv_resp.mimetype == "text/csv"
    text = csv_resp.get_data(as_text=True)
    assert "K105" in text and "考核在线率" in text
    x = c.get("/monitoring/uptime?period=month&by=device&format=xlsx")
    ws = load_workbook(io.BytesIO(x.data)).active
    keys = [row[0] for row in ws.iter_rows(min_row=2, values_only=True) if row[0]]
    assert "K105-CAM1" in keys and "s3cret-community" not in str(list(ws.values))


def test_bad_dates_in_the_uptime_form_are_a_message_not_a_500(client_as, down_camera):
    resp = client_as("supervisor").get("/monitoring/uptime?period=custom&from=21/06/2026", follow_redirects=True)
    assert resp.status_code == 200 and "日期格式" in resp.get_data(as_text=True)


# ------------------------------------------------------------------------------------------------- API

def test_api_ingest_is_the_same_path_and_idempotent(app, db, api_headers, down_camera):
    batch = [{"device": "K105-CAM2", "probe": "ping", "ok": False, "at": recent(3 - i).isoformat()}
             for i in range(3)] + [{"device": "GHOST-1", "probe": "ping", "ok": True, "at": recent(1).isoformat()}]
    c = app.test_client()
    first = c.post("/api/v1/probe-results", json=batch, headers=api_headers("supervisor")).get_json()
    again = c.post("/api/v1/probe-results", json={"results": batch}, headers=api_headers("supervisor")).get_json()
    assert first["stored"] == 3 and first["unknown_devices"] == ["GHOST-1"] and first["outages_opened"] == 1
    assert again["stored"] == 0 and again["duplicates"] == 3 and again["outages_opened"] == 0


def test_api_ingest_needs_a_supervisor_or_admin_token(app, api_headers, down_camera):
    resp = app.test_client().post("/api/v1/probe-results", json=[], headers=api_headers("crew"))
    assert resp.status_code == 403
    bad = app.test_client().post("/api/v1/probe-results", json={"x": 1}, headers=api_headers("admin"))
    assert bad.status_code == 422 and "error" in bad.get_json()


def test_api_uptime_outages_and_status(app, api_headers, down_camera):
    c = app.test_client()
    h = api_headers("supervisor")
    start, end = (recent(60)).isoformat(), (recent(-1)).isoformat()
    up = c.get("/api/v1/uptime", query_string={"from": start, "to": end, "by": "device"}, headers=h).get_json()
    row = {r["key"]: r for r in up["rows"]}["K105-CAM1"]
    assert set(row) >= {"key", "up_s", "down_s", "unknown_s", "excluded_s", "raw_pct", "contractual_pct"}
    assert row["up_s"] == 120 and row["down_s"] > 0 and up["target_pct"] == 95.0
    outs = c.get("/api/v1/outages", query_string={"open": "1"}, headers=h).get_json()
    assert outs["total"] == 1 and outs["outages"][0]["device"] == "K105-CAM1"
    status = c.get("/api/v1/status", headers=h).get_json()
    assert status["in_service"] == 2 and status["online"] == 1 and status["online_rate_pct"] == 50.0
    assert "s3cret" not in str(status)
    missing = c.get("/api/v1/uptime", headers=h)
    assert missing.status_code == 422 and "from" in missing.get_json()["error"]


def test_a_site_power_cut_shows_as_one_incident_and_one_form_sets_every_cause(client_as, db):
    from fleetops.models.monitoring import SiteIncident

    site = Site(code="K300", name="K300 机场路", district="新市区", latitude=43.9, longitude=87.4)
    db.add(site)
    db.flush()
    devs = [Device(code=f"K300-{k}", kind=k, site_id=site.id, lifecycle="online", ip_address=f"127.0.3.{i}")
            for i, k in enumerate(("switch", "checkpoint_camera", "epolice_camera"), start=1)]
    db.add_all(devs)
    db.commit()
    ingest_results(db, [{"device": d.code, "probe": "ping", "ok": i < 1, "at": recent(5 - i).isoformat()}
                        for d in devs for i in range(5)], IngestConfig())
    db.commit()
    c = client_as("supervisor")
    html = c.get("/monitoring/").get_data(as_text=True)
    assert html.count('class="incident"') == 1 and "K300 机场路" in html
    assert "上级设备故障" in html  # the cameras are unreachable via the switch
    inc = db.scalars(select(SiteIncident)).one()
    resp = c.post(f"/monitoring/incidents/{inc.id}", data={"cause": "power_utility", "reason": "供电局 停电通知 7 号"},
                  follow_redirects=True)
    assert "3" in resp.get_data(as_text=True)
    db.expire_all()
    assert {o.cause for o in db.scalars(select(Outage))} == {"power_utility"}
    assert len(db.scalars(select(AuditLog).where(AuditLog.action == "outage_cause_set")).all()) == 3
    [req] = db.scalars(select(ExclusionRequest)).all()  # one request for the incident, approved at once
    assert (req.site_incident_id, req.source, req.state) == (inc.id, "supervisor", "approved")
    assert client_as("crew").post(f"/monitoring/incidents/{inc.id}", data={"cause": "device_fault"}).status_code == 403


def test_api_online_rate_series(app, db, api_headers, down_camera):
    from fleetops.services.monitoring import sample_online_rate

    sample_online_rate(db, IngestConfig(), now=recent(5))  # when the last results came in
    db.commit()
    c = app.test_client()
    got = c.get("/api/v1/online-rate", query_string={"from": recent(60).isoformat(), "to": recent(-5).isoformat()},
                headers=api_headers("supervisor")).get_json()
    [s] = got["samples"]
    assert (s["in_service"], s["online"], s["online_rate_pct"]) == (2, 1, 50.0)
    assert "/online-rate" in c.get("/api/v1/openapi.json").get_json()["paths"]


def test_a_crew_with_a_district_sees_the_devices_down_in_it(client_as, down_camera, db, users):
    users["crew"].district = "新市区"
    db.commit()
    html = client_as("crew").get("/monitoring/").get_data(as_text=True)
    assert "K105-CAM1" not in html and "新市区" in html  # K105 is in 天山区
    users["crew"].district = "天山区"
    db.commit()
    assert "K105-CAM1" in client_as("crew").get("/monitoring/").get_data(as_text=True)


def test_the_timeline_shows_a_probe_reason_in_the_readers_language(client_as, down_camera, db):
    from probes.base import ProbeResult

    ingest_results(db, [ProbeResult("K105-CAM1", "snmp", False, at=recent(1), detail="timeout after 2.0 s",
                                    reason="timeout", params={"timeout_s": 2.0})], IngestConfig())
    db.commit()
    c = client_as("crew")
    assert "2.0 秒内无应答" in c.get("/monitoring/devices/K105-CAM1").get_data(as_text=True)
    c.get("/lang/en")
    assert "No answer within 2.0 s" in c.get("/monitoring/devices/K105-CAM1").get_data(as_text=True)
