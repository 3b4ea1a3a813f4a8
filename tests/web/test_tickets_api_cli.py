"""The tickets JSON API and `fleetops tickets --json`: the row fields the issue names, idempotent steps, stock errors."""
import json
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from fleetops.models.base import utcnow
from fleetops.models.tickets import Ticket
from fleetops.platform import events
from tests.tickets_fixtures import make_fleet, qualify, stock

ROW_FIELDS = {"id", "device", "site", "state", "opened_at", "notified_at", "arrive_by", "repair_by", "day_night",
              "distance_km", "breaches"}


@pytest.fixture
def opened(db, users):
    fleet = make_fleet(db, users["crew"])
    qualify(db, users["crew"])
    pt, loc = stock(db, on_hand=1)
    events.emit(db, "outage_opened", outage_id=77, device_id=fleet["cam"].id, started_at=utcnow(),
                detected_at=utcnow() - timedelta(minutes=2))
    db.commit()
    return {"t": db.scalar(select(Ticket)), "pt": pt, "loc": loc}


def test_api_rows_carry_the_named_fields_and_crew_see_their_own(app, api_headers, opened):
    c = app.test_client()
    items = c.get("/api/v1/tickets", headers=api_headers("crew")).get_json()["items"]
    assert len(items) == 1 and ROW_FIELDS <= set(items[0])
    assert items[0]["device"] == "K105-CAM1" and items[0]["state"] == "dispatched"
    one = c.get(f"/api/v1/tickets/{opened['t'].id}", headers=api_headers("supervisor")).get_json()
    assert [h["action"] for h in one["history"]] == ["opened", "dispatch"]


def test_api_steps_are_idempotent_and_errors_are_json(app, api_headers, opened):
    c, h, tid = app.test_client(), api_headers("crew"), opened["t"].id
    first = c.post(f"/api/v1/tickets/{tid}/arrive", json={"request_id": "api-arr-1", "lat": 45.65, "lon": 84.95},
                   headers=h)
    again = c.post(f"/api/v1/tickets/{tid}/arrive", json={"request_id": "api-arr-1", "lat": 45.65, "lon": 84.95},
                   headers=h)
    assert first.status_code == 200 and again.get_json()["duplicate"] is True
    bad = c.post(f"/api/v1/tickets/{tid}/start_repair", json={"request_id": "api-sr-1"}, headers=h)
    assert bad.status_code == 409 and "反光背心" in bad.get_json()["error"]
    assert c.post(f"/api/v1/tickets/{tid}/close", json={}, headers=h).status_code == 403
    c.post(f"/api/v1/tickets/{tid}/checklist", json={"items": ["vest", "warning_lights", "cone_10m", "cone_30m",
                                                                "cone_50m", "cone_100m", "cone_200m"]}, headers=h)
    assert c.post(f"/api/v1/tickets/{tid}/start_repair", json={}, headers=h).get_json()["state"] == "repairing"
    take = {"kind": "issued", "ticket_id": tid, "part_type_id": opened["pt"].id, "location_id": opened["loc"].id}
    assert c.post("/api/v1/spares/movements", json=take, headers=h).status_code == 201
    gone = c.post("/api/v1/spares/movements", json=take, headers=h)
    assert gone.status_code == 409 and "库存不足" in gone.get_json()["error"]
    stock_rows = c.get("/api/v1/spares/stock", headers=h).get_json()["items"]
    assert stock_rows[0]["total"] == 0 and stock_rows[0]["below_minimum"]
    assert "/tickets/{id}/arrive" in c.get("/api/v1/openapi.json").get_json()["paths"]


def test_cli_tickets_json_lists_the_row_fields(app, opened, monkeypatch):
    import fleetops.cli as cli

    monkeypatch.setattr(cli, "_app", app)
    result = CliRunner().invoke(cli.main, ["tickets", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert ROW_FIELDS <= set(rows[0]) and rows[0]["day_night"] in ("day", "night")
    bad = CliRunner().invoke(cli.main, ["tickets", "--state", "sleeping"])
    assert bad.exit_code == 2 and "unknown state" in bad.output and "Traceback" not in bad.output


def test_admin_records_a_qualification_and_the_cli_does_too(app, client_as, db, users, monkeypatch):
    from fleetops.models.tickets import CrewQualification
    import fleetops.cli as cli

    admin = client_as("admin")
    resp = admin.post("/tickets/qualifications", data={"user_id": users["crew"].id, "kind": "work_at_height",
                                                       "valid_until": "2027-03-31", "certificate_no": "T-0815"})
    assert resp.status_code == 302
    assert "高处作业证" in client_as("supervisor").get("/tickets/qualifications").get_data(as_text=True)
    assert client_as("supervisor").post("/tickets/qualifications", data={}).status_code == 403
    monkeypatch.setattr(cli, "_app", app)
    ok = CliRunner().invoke(cli.main, ["add-qualification", "crew", "electrician", "--until", "2026-12-31"])
    assert ok.exit_code == 0, ok.output
    bad = CliRunner().invoke(cli.main, ["add-qualification", "supervisor", "electrician", "--until", "2026-12-31"])
    assert bad.exit_code == 1 and "不是运维人员" in bad.output
    db.expire_all()
    assert sorted((q.kind, q.certificate_no) for q in db.query(CrewQualification)
                  if not q.certificate_no.startswith("T-work") and not q.certificate_no.startswith("T-elec")) == [
        ("electrician", ""), ("work_at_height", "T-0815")]  # the fixture's lifelong ones aside
