"""Bad input is a 4xx naming the field, never a 500 (issue 11): each case reproduced as the review sent it."""
import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from fleetops.models.base import utcnow
from fleetops.models.alerts import PassCount
from fleetops.models.tickets import Ticket
from fleetops.platform import events
from tests.tickets_fixtures import make_fleet


@pytest.fixture
def fleet(db, users):
    f = make_fleet(db, users["crew"])
    events.emit(db, "outage_opened", outage_id=77, device_id=f["cam"].id, started_at=utcnow(),
                detected_at=utcnow() - timedelta(minutes=2))
    db.commit()
    f["ticket"] = db.scalar(select(Ticket))
    return f


def _error(resp, *words):
    assert 400 <= resp.status_code < 500, (resp.status_code, resp.get_data(as_text=True)[:300])
    text = json.dumps(resp.get_json(), ensure_ascii=False) if resp.is_json else resp.get_data(as_text=True)
    for w in words:
        assert w in text, (w, text[:300])


TICKET_BODIES = [({"site": [None, None], "category": "offline"}, "site"),
                 ({"device": ["x"], "category": "offline"}, "device"),
                 ({"device": {"a": 1}, "category": "offline"}, "device"),
                 ({"device": "K105-CAM1", "category": ["offline"]}, "category"),
                 ({"device": "K105-CAM1", "category": "offline", "tier": 5}, "tier"),
                 ({"device": "K105-CAM1", "category": "offline", "policy": {}}, "policy"),
                 ({"device": "K105-CAM1", "category": "offline", "request_id": []}, "request_id"),
                 ({"device": "K105-CAM1", "category": "offline", "detected_at": "0001-01-01T00:00+14:00"},
                  "detected_at")]


def test_opening_a_ticket_with_a_field_of_the_wrong_shape_is_a_422_naming_it(app, api_headers, fleet, db):
    c, h = app.test_client(), api_headers("supervisor")
    before = db.scalar(select(func.count()).select_from(Ticket))
    for body, field in TICKET_BODIES:
        r = c.post("/api/v1/tickets", json=body, headers=h)
        _error(r, field)
        assert r.get_json()["details"]["field"] == field
    assert db.scalar(select(func.count()).select_from(Ticket)) == before


def test_pass_counts_with_a_bad_row_are_a_422_and_nothing_stored(app, api_headers, fleet, db):
    c, h = app.test_client(), api_headers("supervisor")
    good = {"device": "K105-CAM1", "slot_start": "2026-06-01T09:00+08:00", "count": 3}
    for row, field in [({"device": {}, "slot_start": "2026-06-01T10:00+08:00", "count": 3}, "device"),
                       ({"device": ["K105-CAM1"], "slot_start": "2026-06-01T10:00+08:00", "count": 3}, "device"),
                       ({"device": "K105-CAM1", "slot_start": "0001-01-01T00:00+14:00", "count": 3}, "slot_start"),
                       ({"device": "K105-CAM1", "slot_start": "2026-06-01T10:00+08:00", "count": 10**40}, "count")]:
        _error(c.post("/api/v1/pass-counts", json={"counts": [good, row]}, headers=h), field, "#2")
    assert db.scalar(select(func.count()).select_from(PassCount)) == 0


def test_ticket_steps_with_values_of_the_wrong_type_are_a_422_naming_the_field(app, api_headers, fleet):
    c, tid = app.test_client(), fleet["ticket"].id
    for items in (5, "vest", {"vest": True}, [1, 2], [None]):
        _error(c.post(f"/api/v1/tickets/{tid}/checklist", json={"items": items}, headers=api_headers("crew")),
               "items")
    for step, raw, field in [("arrive", '{"lat": 1e400}', "lat"), ("arrive", '{"lon": 181}', "lon"),
                             ("resolve", '{"resolution": []}', "resolution"), ("note", '{"notes": {"x": 1}}', "notes"),
                             ("dispatch", '{"assignee_id": "9999999999999999999999"}', "assignee_id"),
                             ("note", '{"notes": "x", "request_id": 5}', "request_id")]:
        r = c.post(f"/api/v1/tickets/{tid}/{step}", data=raw, content_type="application/json",
                   headers=api_headers("supervisor"))
        _error(r, field)


def test_api_times_at_the_edge_of_the_calendar_and_huge_numbers_are_a_422(app, api_headers, fleet):
    c, h = app.test_client(), api_headers("supervisor")
    for path, field in [("/api/v1/outages?from=0001-01-01T00:00%2B14:00", "from"),
                        ("/api/v1/outages?to=9999-12-31T23:59-14:00", "to"),
                        ("/api/v1/outages?from=0001-01-01", "from"),
                        ("/api/v1/outages?limit=99999999999999999999999", "limit"),
                        ("/api/v1/uptime?from=0001-01-01&to=0001-01-02", "from"),
                        ("/api/v1/online-rate?from=2026-01-01&to=9999-12-31T23:59-14:00", "to"),
                        ("/api/v1/tickets/penalty-estimate?until=" + "9" * 5000, "until"),
                        ("/api/v1/tickets/penalty-estimate?since=0001-01-01T00:00%2B14:00", "since")]:
        _error(c.get(path, headers=h), field)
    assert c.get("/api/v1/outages?from=2026-01-01T00:00%2B08:00", headers=h).status_code == 200  # sane ones pass


def test_pages_at_the_edge_of_the_calendar_or_with_huge_numbers_answer_with_a_message(client_as, fleet):
    c = client_as("supervisor")
    for path in ["/monitoring/uptime?period=custom&from=0001-01-01", "/monitoring/uptime?period=custom&to=9999-12-31",
                 "/monitoring/uptime?period=day&date=0001-01-01", "/monitoring/uptime?period=year&date=9999-12-31",
                 "/monitoring/uptime?period=month&date=2026-06&contract_start=0001-01-01",
                 "/monitoring/outages?from=0001-01-01", "/monitoring/outages?to=9999-12-31",
                 "/tickets/penalties?until=0001-01-01", "/tickets/penalties?until=9999-12-31",
                 "/tickets/penalties?since=0001-01-01"]:
        r = c.get(path, headers={"Referer": "/monitoring/"})
        assert r.status_code == 302, (path, r.status_code)  # back, with the message flashed
        page = c.get(r.headers["Location"]).get_data(as_text=True)
        assert "1970" in page or "1000000" in page or "1,000,000" in page, path
    assert c.get("/monitoring/uptime?period=month&date=2026-06").status_code == 200
    assert c.get("/monitoring/uptime?period=year&date=2026").status_code == 200


def test_an_image_path_with_a_nul_byte_is_a_404(client_as, fleet):
    c = client_as("supervisor")
    for path in ["/quality/image/quality/%00", "/quality/image/a%00b.jpg", "/quality/image/..%2f..%2fx"]:
        assert c.get(path).status_code == 404, path


def test_json_nested_a_hundred_thousand_deep_is_a_400_on_any_api(app, api_headers, fleet, db):
    deep = "[" * 100_000 + "]" * 100_000
    before = db.scalar(select(func.count()).select_from(Ticket))
    for path in ["/api/v1/tickets", "/api/v1/pass-counts", "/api/v1/probe-results", "/api/v1/pass-records",
                 f"/api/v1/tickets/{fleet['ticket'].id}/note"]:
        r = app.test_client().post(path, data=deep, content_type="application/json",
                                   headers=api_headers("supervisor"))
        _error(r, "JSON")
    assert db.scalar(select(func.count()).select_from(Ticket)) == before
