"""/api/v1 sites and devices: token roles, filters and paging, writes audited, secrets never in a response."""
import json

import pytest
from sqlalchemy import select

from fleetops.models import AuditLog, Device
from tests.inventory_helpers import load_small_fleet


@pytest.fixture
def fleet(db, users):
    return load_small_fleet(db, 80)


def test_device_list_filters_pages_and_hides_secrets(app, fleet, api_headers):
    c = app.test_client()
    resp = c.get("/api/v1/devices?kind=switch&per_page=5", headers=api_headers("crew"))
    body = resp.get_json()
    switches = sorted(d["code"] for d in fleet.devices if d["kind"] == "switch")
    assert resp.status_code == 200 and body["total"] == len(switches)
    assert [d["code"] for d in body["items"]] == switches[:5]
    everything = c.get("/api/v1/devices?per_page=200", headers=api_headers("crew")).get_data(as_text=True)
    secrets = [d[k] for d in fleet.devices for k in ("snmp_community", "snapshot_password") if d[k]]
    assert not any(s in everything for s in secrets)
    item = json.loads(everything)["items"][0]
    assert "snmp_community" not in item and "snapshot_password" not in item and "secrets_set" in item


def test_one_device_and_one_site(app, fleet, api_headers):
    c = app.test_client()
    cam = next(d for d in fleet.devices if d["snapshot_password"])
    body = c.get(f"/api/v1/devices/{cam['code']}", headers=api_headers("crew")).get_json()
    assert body["ip_address"] == cam["ip_address"] and body["site_code"] == cam["site_code"]
    assert set(body["secrets_set"]) == {"snmp_community", "snapshot_password"}
    site = c.get(f"/api/v1/sites/{cam['site_code']}", headers=api_headers("crew")).get_json()
    assert cam["code"] in site["devices"] and site["district"]
    assert c.get("/api/v1/devices/NOPE", headers=api_headers("crew")).status_code == 404


def test_crew_token_cannot_write(app, fleet, api_headers):
    c = app.test_client()
    code = fleet.devices[0]["code"]
    assert c.patch(f"/api/v1/devices/{code}", json={"vendor": "x"}, headers=api_headers("crew")).status_code == 403
    assert c.post("/api/v1/sites", json={"code": "X1"}, headers=api_headers("crew")).status_code == 403


def test_supervisor_creates_and_patches_with_audit_and_version_check(app, db, users, api_headers):
    c = app.test_client()
    h = api_headers("supervisor")
    resp = c.post("/api/v1/sites", json={"code": "C300", "name": "迎宾大道测速点", "latitude": 45.58,
                                         "longitude": 84.91, "key_site": True}, headers=h)
    assert resp.status_code == 201 and resp.get_json()["key_site"] is True
    resp = c.post("/api/v1/devices", json={"code": "C300-CAM1", "kind": "speed_camera", "site_code": "C300",
                                           "ip_address": "127.20.50.1", "snmp_version": "v2c",
                                           "snmp_community": "api-secret-xyz"}, headers=h)
    body = resp.get_json()
    assert resp.status_code == 201 and "api-secret-xyz" not in resp.get_data(as_text=True)
    resp = c.patch("/api/v1/devices/C300-CAM1", json={"vendor": "海康威视", "version": body["version"]}, headers=h)
    assert resp.status_code == 200 and resp.get_json()["vendor"] == "海康威视"
    stale = c.patch("/api/v1/devices/C300-CAM1", json={"vendor": "大华", "version": body["version"]}, headers=h)
    assert stale.status_code == 409 and "已被他人修改" in stale.get_json()["error"]
    entry = db.scalar(select(AuditLog).where(AuditLog.action == "device_updated"))
    assert entry.actor_name == "supervisor" and entry.after == {"vendor": "海康威视"}
    assert db.scalar(select(Device.snmp_community).where(Device.code == "C300-CAM1")) == "api-secret-xyz"


def test_bad_values_come_back_per_field(app, db, users, api_headers):
    c = app.test_client()
    resp = c.post("/api/v1/devices", json={"code": "Z-1", "kind": "ufo", "site_code": "NOPE", "ip_address": "1.2.3"},
                  headers=api_headers("admin"))
    body = resp.get_json()
    assert resp.status_code == 422 and set(body["details"]["errors"]) == {"kind", "site_code", "ip_address"}
    resp = c.post("/api/v1/devices", data="not json", headers=api_headers("admin"))
    assert resp.status_code == 422
    resp = c.post("/api/v1/sites", json={"code": "Q1", "colour": "red"}, headers=api_headers("admin"))
    assert resp.status_code == 422 and "colour" in resp.get_json()["error"]


def test_every_inventory_operation_is_in_the_openapi_document(app):
    doc = app.test_client().get("/api/v1/openapi.json").get_json()
    assert {"get", "post"} <= set(doc["paths"]["/devices"]) and {"get", "patch"} <= set(doc["paths"]["/devices/{code}"])
    assert {"get", "post"} <= set(doc["paths"]["/sites"]) and {"get", "patch"} <= set(doc["paths"]["/sites/{code}"])
    assert "Device" in doc["components"]["schemas"]


def test_a_device_created_without_a_lifecycle_is_installed_and_in_service(app, db, users, api_headers):
    c = app.test_client()
    h = api_headers("admin")
    assert c.post("/api/v1/sites", json={"code": "K400", "name": "卡口", "latitude": 45.6, "longitude": 84.9},
                  headers=h).status_code == 201
    body = c.post("/api/v1/devices", json={"code": "K400-SW", "kind": "switch", "site_code": "K400"}, headers=h).get_json()
    assert body["lifecycle"] == "installed" and body["liveness_probe"] == "ping" and body["snmp_port"] == 161
    assert db.scalar(select(Device.in_service_from).where(Device.code == "K400-SW")) is not None
