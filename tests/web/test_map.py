"""Issue 13 (U4, U5, A2): the fleet map's GeoJSON, the site panel, the tile-less layers, the wall screen and its
read-only display token, the navigation links, and honest charts (gaps, the tile's figure as the last point, and
the sampler that recorded 0 % beside a 98.91 % tile)."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from fleetops.domain import geo
from fleetops.models import AuditLog, Device
from fleetops.models.base import utcnow
from fleetops.models.monitoring import OnlineRateSample
from fleetops.services import accounts
from fleetops.services.accounts import display_tokens
from fleetops.services.monitoring import IngestConfig, ingest_results, sample_online_rate
from fleetops.services.monitoring.queries import fleet_status
from fleetops.services.reports.dashboard import dashboard, online_rate_chart
from tests.tickets_fixtures import make_fleet

UTC = timezone.utc


def rows(code, start, n, ok, step_s=60):
    return [{"device": code, "probe": "ping", "ok": ok, "at": (start + timedelta(seconds=i * step_s)).isoformat(),
             "detail": "" if ok else "timeout after 1.0 s"} for i in range(n)]


@pytest.fixture
def fleet(db, users):
    f = make_fleet(db, users["crew"])
    db.commit()
    return f


def all_up(db, now):
    data = []
    for code in ("K105-CAM1", "K105-CAM2", "K105-CAB", "K230-CAM1"):
        data += rows(code, now - timedelta(minutes=10), 10, True)
    ingest_results(db, data, IngestConfig(), now=now)
    db.commit()


def features_by_code(body):
    return {f["properties"]["code"]: f for f in body["features"]}


# ------------------------------------------------------------------ /api/v1/sites.geojson

def test_geojson_is_a_feature_collection_of_wgs84_points_with_exactly_the_documented_properties(
        app, db, fleet, api_headers):
    all_up(db, utcnow())
    resp = app.test_client().get("/api/v1/sites.geojson", headers=api_headers("supervisor"))
    assert resp.status_code == 200 and resp.mimetype == "application/geo+json"
    body = resp.get_json()
    assert body["type"] == "FeatureCollection" and len(body["features"]) == 2
    f = features_by_code(body)["K-105"]
    assert f["type"] == "Feature" and f["geometry"] == {"type": "Point", "coordinates": [84.95, 45.65]}  # [lon, lat]
    assert {"code", "name", "status", "devices_down", "open_tickets"} <= set(f["properties"])
    assert (f["properties"]["status"], f["properties"]["devices_down"], f["properties"]["open_tickets"]) == ("up", 0, 0)


def test_geojson_statuses_follow_an_injected_fault(app, db, fleet, api_headers):
    """K105-CAM1 stops answering: K-105 turns 'some_down' with one device down and its outage ticket; then the
    whole site goes dark (every device down: one site incident, U5)."""
    now = utcnow().replace(microsecond=0)
    all_up(db, now - timedelta(minutes=10))
    ingest_results(db, rows("K105-CAM1", now - timedelta(minutes=9), 5, False)
                   + rows("K105-CAM2", now - timedelta(minutes=9), 5, True)
                   + rows("K105-CAB", now - timedelta(minutes=9), 5, True), IngestConfig(), now=now)
    db.commit()
    c = app.test_client()
    p = features_by_code(c.get("/api/v1/sites.geojson", headers=api_headers("supervisor")).get_json())
    assert p["K-105"]["properties"]["status"] == "some_down"
    assert p["K-105"]["properties"]["devices_down"] == 1 and p["K-105"]["properties"]["open_tickets"] == 1
    assert p["K-105"]["properties"]["down_since"] is not None
    assert p["K-230"]["properties"]["status"] == "up"

    later = now + timedelta(minutes=6)
    ingest_results(db, rows("K105-CAM1", now - timedelta(minutes=4), 6, False)
                   + rows("K105-CAM2", now, 6, False) + rows("K105-CAB", now, 6, False), IngestConfig(), now=later)
    db.commit()
    p = features_by_code(c.get("/api/v1/sites.geojson", headers=api_headers("supervisor")).get_json())
    assert p["K-105"]["properties"]["status"] == "dark" and p["K-105"]["properties"]["devices_down"] == 3


def test_a_crew_on_site_shows_as_maintenance(app, db, fleet, users, api_headers):
    from fleetops.models.tickets import Ticket
    from tests.tickets_fixtures import qualify, walk_to_repairing

    now = utcnow().replace(microsecond=0)
    all_up(db, now - timedelta(minutes=10))
    ingest_results(db, rows("K105-CAM1", now - timedelta(minutes=9), 5, False), IngestConfig(), now=now)
    db.commit()
    qualify(db, users["crew"])
    t = db.scalar(select(Ticket))
    walk_to_repairing(db, t, users["crew"], now)
    db.commit()
    p = features_by_code(app.test_client().get("/api/v1/sites.geojson", headers=api_headers("crew")).get_json())
    assert p["K-105"]["properties"]["status"] == "maintenance"


def test_geojson_needs_a_token_or_a_session_and_a_crew_sees_its_district(app, db, fleet, users, client_as):
    assert app.test_client().get("/api/v1/sites.geojson").status_code == 401
    users["crew"].district = "独山子区"
    db.commit()
    body = client_as("crew").get("/api/v1/sites.geojson").get_json()  # the map page's fetch: the session
    assert body["features"] == []
    assert len(client_as("supervisor").get("/api/v1/sites.geojson").get_json()["features"]) == 2


def test_geojson_is_one_query_whatever_the_number_of_sites(app, db, fleet, api_headers):
    """No N+1: the sites, their device counts, tickets and incidents come from one SELECT."""
    from sqlalchemy import event

    from fleetops.models import Site
    from fleetops.services.reports import geo as geo_queries

    for i in range(30):
        s = Site(code=f"X-{i}", name=f"X {i}", district="克拉玛依区", latitude=45.5 + i / 100, longitude=84.8)
        db.add(s)
        db.flush()
        db.add(Device(code=f"X{i}-CAM", kind="checkpoint_camera", site_id=s.id, ip_address=f"127.0.9.{i + 1}"))
    db.commit()
    engine = app.extensions["fleetops.engine"]
    seen = []

    def count(*_a, **_k):
        seen.append(1)

    event.listen(engine, "before_cursor_execute", count)
    try:
        s = app.extensions["fleetops.sessionmaker"]()
        assert len(geo_queries.sites_geojson(s)["features"]) == 32
        s.close()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(seen) == 1


# ------------------------------------------------------------------ map page, panel, layers, links

def test_map_page_is_vendored_and_tile_less_without_a_tile_url(client_as, fleet):
    html = client_as("supervisor").get("/map/").get_data(as_text=True)
    assert "vendor/leaflet/leaflet.js" in html and "leaflet.markercluster.js" in html
    assert "https://" not in html and "cdn" not in html.lower()
    assert 'id="tileless-note"' in html and "WGS-84" in html


def test_a_configured_tile_server_is_used_and_the_note_goes(make_app, users, fleet):
    from tests.conftest import login

    app = make_app(MAP_TILE_URL="http://127.0.0.1:8999/tiles/{z}/{x}/{y}.png", MAP_TILE_ATTRIBUTION="PGIS")
    resp = login(app.test_client(), "supervisor").get("/map/")
    html = resp.get_data(as_text=True)
    assert "127.0.0.1:8999/tiles/{z}/{x}/{y}.png" in html and 'id="tileless-note"' not in html
    assert "img-src 'self' http://127.0.0.1:8999" in resp.headers["Content-Security-Policy"]


def test_on_gcj02_tiles_markers_are_drawn_at_gcj02_while_the_geometry_stays_wgs84(make_app, users, fleet):
    from tests.conftest import login

    app = make_app(MAP_TILE_URL="http://127.0.0.1:8999/{z}/{x}/{y}.png", MAP_TILE_DATUM="gcj02")
    c = login(app.test_client(), "supervisor")
    assert "/api/v1/sites.geojson?display=gcj02" in c.get("/map/").get_data(as_text=True)
    f = features_by_code(c.get("/api/v1/sites.geojson?display=gcj02").get_json())["K-105"]
    g_lat, g_lon = geo.wgs84_to_gcj02(45.65, 84.95)
    assert f["geometry"]["coordinates"] == [84.95, 45.65]
    assert f["properties"]["display"] == [pytest.approx(g_lon, abs=1e-6), pytest.approx(g_lat, abs=1e-6)]
    assert "display" not in features_by_code(c.get("/api/v1/sites.geojson").get_json())["K-105"]["properties"]


def test_layers_are_district_hulls_and_road_lines(client_as, db, fleet):
    from fleetops.models import Site

    db.add(Site(code="K-106", name="迎宾大道与友谊路路口", road="迎宾大道", district="白碱滩区", latitude=45.66,
                longitude=84.99))
    db.commit()
    fc = client_as("supervisor").get("/map/layers.json").get_json()
    kinds = {(f["properties"]["kind"], f["properties"]["name"]) for f in fc["features"]}
    assert ("district", "白碱滩区") in kinds and ("road", "迎宾大道") in kinds
    ring = next(f for f in fc["features"] if f["properties"]["kind"] == "district")["geometry"]["coordinates"][0]
    assert ring[0] == ring[-1] and len(ring) >= 4


def test_site_panel_lists_devices_and_open_tickets_with_navigation_links(client_as, db, fleet):
    now = utcnow().replace(microsecond=0)
    all_up(db, now - timedelta(minutes=10))
    ingest_results(db, rows("K105-CAM1", now - timedelta(minutes=9), 5, False), IngestConfig(), now=now)
    db.commit()
    d = client_as("supervisor").get("/map/sites/K-105.json").get_json()
    assert [x["code"] for x in d["devices"]] == ["K105-CAB", "K105-CAM1", "K105-CAM2"]
    assert len(d["tickets"]) == 1 and d["tickets"][0]["device"] == "K105-CAM1"
    assert d["site"]["links"]["amap"].startswith("https://uri.amap.com/marker?position=")
    assert "coord_type=wgs84" in d["site"]["links"]["baidu"]
    assert client_as("supervisor").get("/map/sites/NOPE.json").status_code == 404


def test_ticket_and_site_pages_offer_one_tap_navigation_and_labelled_coordinates(client_as, db, fleet):
    now = utcnow().replace(microsecond=0)
    all_up(db, now - timedelta(minutes=10))
    ingest_results(db, rows("K105-CAM1", now - timedelta(minutes=9), 5, False), IngestConfig(), now=now)
    db.commit()
    from fleetops.models.tickets import Ticket

    t = db.scalar(select(Ticket))
    g_lat, g_lon = geo.wgs84_to_gcj02(45.65, 84.95)
    for url in (f"/tickets/{t.id}", "/sites/K-105"):
        resp = client_as("crew").get(url)
        assert resp.status_code == 200, (url, resp.status_code)
        html = resp.get_data(as_text=True)
        assert f"position={g_lon:.6f},{g_lat:.6f}" in html, url  # Amap: GCJ-02, lon,lat
        assert "baidumap://map/marker?location=45.650000,84.950000&amp;coord_type=wgs84" in html, url
        assert "经度" in html and "纬度" in html and "WGS-84" in html, url


# ------------------------------------------------------------------ wall screen and display tokens

def test_display_token_grants_the_wall_only_and_revoked_is_403(app, db, fleet, users):
    row, token = display_tokens.create_display_token(db, "值班室大屏", actor=users["admin"])
    db.commit()
    c = app.test_client()
    resp = c.get(f"/wall?token={token}")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/wall")  # the token leaves the URL
    assert "HttpOnly" in resp.headers["Set-Cookie"]
    assert c.get("/wall").status_code == 200
    data = c.get("/wall/data.json").get_json()
    assert {"districts", "outages", "overdue", "sites", "fleet"} <= set(data)
    assert c.get("/map/layers.json").status_code == 200
    # Nothing else: not the map page, not the API, not the dashboard.
    assert c.get("/map/").status_code == 302
    assert c.get("/reports/").status_code == 302
    assert c.get("/api/v1/sites.geojson").status_code == 401
    assert c.get("/api/v1/sites.geojson", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    display_tokens.revoke_display_token(db, row.id, actor=users["admin"])
    db.commit()
    assert c.get("/wall/data.json").status_code == 403
    assert c.get("/wall").status_code == 403
    assert app.test_client().get(f"/wall?token={token}").status_code == 403
    actions = [a.action for a in db.scalars(select(AuditLog).where(AuditLog.entity_type == "display_token"))]
    assert actions == ["display_token_created", "display_token_used", "display_token_revoked"]


def test_only_an_admin_creates_and_revokes_display_tokens(client_as, db, fleet):
    assert client_as("supervisor").get("/wall/tokens").status_code == 403
    c = client_as("admin")
    html = c.post("/wall/tokens", data={"name": "指挥中心"}).get_data(as_text=True)
    assert "/wall?token=fw_" in html
    [row] = display_tokens.list_display_tokens(db)
    assert c.post(f"/wall/tokens/{row.id}/revoke").status_code == 302
    db.expire_all()
    assert display_tokens.list_display_tokens(db)[0].revoked_at is not None
    assert c.post("/wall/tokens", data={"name": ""}).status_code == 200  # the form says what is missing
    assert len(display_tokens.list_display_tokens(db)) == 1


def test_wall_tiles_turn_red_when_a_district_falls_below_target(client_as, db, fleet):
    c = client_as("supervisor")
    now = utcnow().replace(microsecond=0)
    all_up(db, now - timedelta(minutes=10))
    tile = c.get("/wall/data.json").get_json()["districts"][0]
    assert (tile["district"], tile["ok"], tile["online"], tile["in_service"]) == ("白碱滩区", True, 3, 3)
    ingest_results(db, rows("K105-CAM1", now - timedelta(minutes=9), 5, False), IngestConfig(), now=now)
    db.commit()
    d = c.get("/wall/data.json").get_json()
    assert d["districts"][0]["ok"] is False and d["districts"][0]["rate_pct"] == pytest.approx(66.67)
    assert [o["device"] for o in d["outages"]] == ["K105-CAM1"]
    assert client_as("crew").get("/wall/data.json").status_code == 403


# ------------------------------------------------------------------ honest charts

def test_chart_ends_on_the_tiles_figure_even_when_non_contract_devices_are_down(db, fleet):
    """The old chart plotted the all-devices rate of the samples while the tile showed the contract devices'
    rate now: a fill light down made the line end elsewhere than the tile. Now the last point IS the tile."""
    db.add(Device(code="K230-FL1", kind="fill_light", site_id=fleet["far"].id, ip_address="127.0.0.62"))
    db.commit()
    now = utcnow().replace(microsecond=0)
    all_up(db, now)
    ingest_results(db, rows("K230-FL1", now - timedelta(minutes=10), 4, True)
                   + rows("K230-FL1", now - timedelta(minutes=6), 5, False), IngestConfig(), now=now)
    db.commit()
    sample = sample_online_rate(db, IngestConfig(), now=now)
    assert sample.rate_pct == 80.0  # 4 of 5 devices: what the old chart drew
    db.commit()
    d = dashboard(db, now=now)
    contract = d["chart"]["series"][0]
    assert contract["key"] == "contract"
    assert contract["points"][-1][1] == d["status"]["contract_online_rate_pct"] == 100.0
    assert d["chart"]["y_min"] <= d["chart"]["target"] - 2 and d["chart"]["y_max"] == 100.0


def test_chart_draws_a_gap_where_there_were_no_samples(db, fleet):
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    for minutes in (300, 295, 290, 60, 55):  # samples stop for ~4 h, then resume
        db.add(OnlineRateSample(at=now - timedelta(minutes=minutes), in_service=4, online=4, contract_in_service=3,
                                contract_online=3 if minutes != 55 else 2))
    db.commit()
    chart = online_rate_chart(db, {"contract_online_rate_pct": 100.0}, now, sample_s=300)
    values = [v for _t, v in chart["series"][0]["points"]]
    assert values == [100.0, 100.0, 100.0, None, 100.0, pytest.approx(66.67), None, 100.0]
    assert chart["y_min"] == 64.0  # min of the data − 2, floored: the dip is visible, not squashed at 0–100


def test_a_late_poll_does_not_record_a_zero_sample_while_the_devices_are_up(db, fleet):
    """The dashboard showed four points ending at 0 % beside a 98.91 % tile: the sampler judged results stale
    against the wall clock, so a poll cycle running late (30 s polls, the cycle's results 90 s old when the
    sampler fired) turned every device unknown and stored 0 %. Staleness is now measured against the
    poller's newest result; the devices stay up and the sample matches the tile."""
    now = utcnow().replace(microsecond=0)
    data = []
    for code in ("K105-CAM1", "K105-CAM2", "K105-CAB", "K230-CAM1"):
        data += rows(code, now - timedelta(seconds=390), 11, True, step_s=30)  # last result at now − 90 s
    cfg = IngestConfig(poll_interval_s=30)
    ingest_results(db, data, cfg, now=now)
    db.commit()
    sample = sample_online_rate(db, cfg, now=now)
    db.commit()
    assert sample is not None and (sample.online, sample.in_service) == (4, 4)
    db.expire_all()
    assert {d.status for d in db.scalars(select(Device))} == {"up"}
    assert fleet_status(db)["contract_online_rate_pct"] == 100.0


def test_a_silent_poller_leaves_a_gap_not_a_zero(db, fleet):
    """After the poller stopped (or before the first poll after a restart) no sample is recorded: the chart shows
    a gap. The devices do turn unknown — the status page must not call them online from old results."""
    now = utcnow().replace(microsecond=0)
    all_up(db, now - timedelta(hours=3))
    assert sample_online_rate(db, IngestConfig(), now=now) is None
    db.commit()
    assert db.scalars(select(OnlineRateSample)).all() == []
    db.expire_all()
    assert {d.status for d in db.scalars(select(Device))} == {"unknown"}


def test_dashboard_and_status_pages_carry_the_chart_as_json_for_echarts(client_as, db, fleet):
    import json
    import re

    now = utcnow().replace(microsecond=0)
    all_up(db, now - timedelta(minutes=10))
    sample_online_rate(db, IngestConfig(), now=now - timedelta(minutes=1))
    db.commit()
    for url in ("/reports/", "/monitoring/"):
        html = client_as("supervisor").get(url).get_data(as_text=True)
        assert "vendor/echarts/echarts.min.js" in html and "js/charts.js" in html, url
        island = re.search(r'<script type="application/json" id="chart-online-rate">(.*?)</script>', html, re.S)
        assert island, url
        chart = json.loads(island.group(1))
        assert chart["target"] == 95.0 and chart["series"][0]["points"][-1][1] == 100.0
