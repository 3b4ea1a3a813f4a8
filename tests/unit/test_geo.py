"""Issue 13: coordinates (stored WGS-84, GCJ-02 only for Chinese map services), the map links, the site status
rule and the tile-less geometry (district hulls, road chains)."""
from urllib.parse import parse_qs, urlsplit

import pytest

from fleetops.domain import geo

# Published test vectors of the eviltransform project (github.com/googollee/eviltransform, python/test.py and
# go/transform_test.go, `TESTS`): wgsLat, wgsLng, gcjLat, gcjLng.
EVILTRANSFORM_VECTORS = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),  # shanghai
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),  # shenzhen
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),  # beijing
]


@pytest.mark.parametrize("wlat,wlon,glat,glon", EVILTRANSFORM_VECTORS)
def test_wgs84_to_gcj02_matches_the_published_vectors(wlat, wlon, glat, glon):
    lat, lon = geo.wgs84_to_gcj02(wlat, wlon)
    assert lat == pytest.approx(glat, abs=1e-9) and lon == pytest.approx(glon, abs=1e-9)


@pytest.mark.parametrize("wlat,wlon,glat,glon", EVILTRANSFORM_VECTORS)
def test_gcj02_back_to_wgs84_within_half_a_metre(wlat, wlon, glat, glon):
    """eviltransform's own bound for its exact inverse is 0.5 m; ours iterates to far below it."""
    lat, lon = geo.gcj02_to_wgs84(glat, glon)
    assert geo.distance_m(lat, lon, wlat, wlon) < 0.05


def test_outside_china_nothing_moves():
    assert geo.wgs84_to_gcj02(51.5, -0.12) == (51.5, -0.12)
    assert geo.gcj02_to_wgs84(51.5, -0.12) == (51.5, -0.12)


def test_the_offset_in_karamay_is_hundreds_of_metres_not_zero():
    """The demo fleet's city: a marker drawn on an Amap base map without conversion would sit this far off."""
    lat, lon = geo.wgs84_to_gcj02(45.5797, 84.8892)
    assert 100 < geo.distance_m(lat, lon, 45.5797, 84.8892) < 1000


def test_amap_link_is_gcj02_lon_lat_and_baidu_link_is_wgs84_lat_lon():
    amap = urlsplit(geo.amap_marker_url(45.65, 84.95, "K-105 北门卡口"))
    q = parse_qs(amap.query)
    g_lat, g_lon = geo.wgs84_to_gcj02(45.65, 84.95)
    assert amap.netloc == "uri.amap.com" and q["coordinate"] == ["gaode"] and q["name"] == ["K-105 北门卡口"]
    lon, lat = map(float, q["position"][0].split(","))
    assert (lat, lon) == (pytest.approx(g_lat, abs=1e-6), pytest.approx(g_lon, abs=1e-6))
    baidu = urlsplit(geo.baidu_marker_url(45.65, 84.95, "K-105 北门卡口"))
    q = parse_qs(baidu.query)
    assert baidu.scheme == "baidumap" and q["coord_type"] == ["wgs84"] and q["location"] == ["45.650000,84.950000"]


@pytest.mark.parametrize("args,kw,expected", [
    ((3, 3, 0), {}, "up"),
    ((3, 2, 1), {}, "some_down"),
    ((3, 0, 3), {}, "dark"),
    ((3, 3, 0), {"incident": True}, "dark"),
    ((3, 0, 3), {"crew_on_site": True}, "maintenance"),
    ((0, 0, 0), {}, "unknown"),
    ((3, 2, 0), {}, "unknown"),
])
def test_site_status_rule(args, kw, expected):
    assert geo.site_status(*args, **kw) == expected


def test_convex_hull_drops_inner_points_and_closes_the_ring():
    hull = geo.convex_hull([(0, 0), (2, 0), (2, 2), (0, 2), (1, 1), (1, 0.5)])
    assert hull[0] == hull[-1] and set(hull) == {(0, 0), (2, 0), (2, 2), (0, 2)}


def test_road_chain_runs_end_to_end_through_nearest_neighbours():
    assert geo.road_chain([(3, 0), (0, 0), (2, 0.1), (1, 0)]) == [(0, 0), (1, 0), (2, 0.1), (3, 0)]


def test_road_of_takes_the_inventory_column_then_the_name_before_the_junction_word():
    assert geo.road_of("G217", "whatever") == "G217"
    assert geo.road_of("", "迎宾大道与世纪大道路口卡口") == "迎宾大道"
    assert geo.road_of("", "世纪大道1200米处测速") == "世纪大道"
    assert geo.road_of("", "北门") == ""
