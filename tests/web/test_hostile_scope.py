"""Who sees what, and where a link may lead (issue 11): crew see only their district's outages, /lang redirects
only within the site, /metrics needs its token beyond loopback (test_reports_pages), LIKE wildcards are literal."""
from datetime import timedelta

import pytest

from fleetops.models import Device, Site
from fleetops.models.base import utcnow
from fleetops.models.monitoring import Outage, SiteIncident
from fleetops.services import inventory, tickets
from tests.tickets_fixtures import make_fleet


@pytest.fixture
def two_districts(db, users):
    f = make_fleet(db, users["crew"])  # the crew's district: 白碱滩区
    other = Site(code="W-9", name="W-9 外区卡口", district="独山子区", latitude=44.3, longitude=84.8)
    db.add(other)
    db.flush()
    far = Device(code="W9-CAM1", name="外区相机", kind="checkpoint_camera", site_id=other.id, ip_address="127.0.0.71")
    db.add(far)
    db.flush()
    now = utcnow()
    incident = SiteIncident(site_id=other.id, started_at=now - timedelta(minutes=9), detected_at=now)
    db.add(incident)
    db.flush()
    mine = Outage(device_id=f["cam"].id, started_at=now - timedelta(minutes=10), detected_at=now)
    theirs = Outage(device_id=far.id, started_at=now - timedelta(minutes=9), detected_at=now,
                    site_incident_id=incident.id)
    db.add_all([mine, theirs])
    db.commit()
    return {"mine": mine, "theirs": theirs}


def test_crew_see_only_their_districts_outages(app, api_headers, client_as, two_districts):
    mine, theirs = two_districts["mine"].id, two_districts["theirs"].id
    c = app.test_client()
    crew, sup = api_headers("crew"), api_headers("supervisor")
    assert [o["id"] for o in c.get("/api/v1/outages", headers=crew).get_json()["outages"]] == [mine]
    assert {o["id"] for o in c.get("/api/v1/outages", headers=sup).get_json()["outages"]} == {mine, theirs}
    status = c.get("/api/v1/status", headers=crew).get_json()
    assert [o["id"] for o in status["open_outages"]] == [mine] and status["site_incidents"] == []
    status = c.get("/api/v1/status", headers=sup).get_json()
    assert len(status["open_outages"]) == 2 and len(status["site_incidents"]) == 1
    page = client_as("crew")
    assert page.get(f"/monitoring/outages/{theirs}").status_code == 404
    assert page.get(f"/monitoring/outages/{mine}").status_code == 200
    listing = page.get("/monitoring/outages").get_data(as_text=True)
    assert "K105-CAM1" in listing and "W9-CAM1" not in listing
    assert client_as("supervisor").get(f"/monitoring/outages/{theirs}").status_code == 200


def test_crew_see_only_their_districts_device_timelines(client_as, two_districts):
    crew = client_as("crew")
    assert crew.get("/monitoring/devices/W9-CAM1").status_code == 404  # another district's, like an outage
    assert crew.get("/monitoring/devices/K105-CAM1").status_code == 200
    assert client_as("supervisor").get("/monitoring/devices/W9-CAM1").status_code == 200


@pytest.mark.parametrize("referrer, expected", [
    ("https://evil.example/phish", "/"), ("//evil.example/x", "/"), ("javascript:alert(1)", "/"),
    ("http://localhost/devices?kind=switch", "/devices?kind=switch"), ("/tickets/", "/tickets/"),
    ("/\\evil.example", "/"), ("ftp://localhost/x", "/"), (None, "/")])
def test_the_language_switch_redirects_only_within_the_site(app, referrer, expected):
    headers = {"Referer": referrer} if referrer else {}
    r = app.test_client().get("/lang/en", headers=headers)
    assert r.status_code == 302 and r.headers["Location"] == expected


def test_search_wildcards_are_literal(db, users):
    make_fleet(db, users["crew"])
    db.commit()
    for q in ("%", "_", "K105%", "127.0.0.%", "\\"):
        assert inventory.list_devices(db, q=q).total == 0, q
    assert inventory.list_devices(db, q="127.0.0.").total == 4  # an address prefix still finds its devices
    assert inventory.list_devices(db, q="K105").total == 3
    assert tickets.list_tickets(db, device_code="%") == [] and tickets.list_tickets(db, device_code="_") == []
