"""Coordinates and the map's plain geometry (issue 13): pure functions, standard library only.

Coordinates are STORED in WGS-84 (what GPS receivers, the police platform's exports and the tablet's
browser give). China's map services draw on GCJ-02 (the "Mars" datum, an obfuscated offset of up to
~700 m); Amap (高德) wants GCJ-02, Baidu takes `coord_type=wgs84`. `wgs84_to_gcj02` is applied only
where a Chinese map service needs it (the Amap link), never to what is stored.

The GCJ-02 transform is the well-known public algorithm (as in the eviltransform and coordtransform
projects); `tests/unit/test_geo.py` checks it against their published test vectors.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from urllib.parse import quote

from fleetops.domain.text import N_

_A = 6378245.0  # Krasovsky 1940 semi-major axis, as GCJ-02 uses
_EE = 0.00669342162296594323  # its first eccentricity squared


def out_of_china(lat: float, lon: float) -> bool:
    """GCJ-02 applies inside China's bounding box only; outside it the coordinates are left alone."""
    return not (72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _t_lat(x: float, y: float) -> float:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return ret


def _t_lon(x: float, y: float) -> float:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return ret


def _delta(lat: float, lon: float) -> tuple[float, float]:
    d_lat = _t_lat(lon - 105.0, lat - 35.0)
    d_lon = _t_lon(lon - 105.0, lat - 35.0)
    rad = lat / 180.0 * math.pi
    magic = 1 - _EE * math.sin(rad) ** 2
    sqrt_magic = math.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrt_magic) * math.pi)
    d_lon = (d_lon * 180.0) / (_A / sqrt_magic * math.cos(rad) * math.pi)
    return d_lat, d_lon


def wgs84_to_gcj02(lat: float, lon: float) -> tuple[float, float]:
    """(lat, lon) in WGS-84 → (lat, lon) in GCJ-02 (unchanged outside China)."""
    if out_of_china(lat, lon):
        return lat, lon
    d_lat, d_lon = _delta(lat, lon)
    return lat + d_lat, lon + d_lon


def gcj02_to_wgs84(lat: float, lon: float) -> tuple[float, float]:
    """The inverse, by fixed-point iteration to ~1e-9° (a coordinate read off a Chinese map → stored form)."""
    if out_of_china(lat, lon):
        return lat, lon
    w_lat, w_lon = lat, lon
    for _ in range(30):
        g_lat, g_lon = wgs84_to_gcj02(w_lat, w_lon)
        e_lat, e_lon = g_lat - lat, g_lon - lon
        w_lat, w_lon = w_lat - e_lat, w_lon - e_lon
        if abs(e_lat) < 1e-10 and abs(e_lon) < 1e-10:
            break
    return w_lat, w_lon


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine, mean Earth radius)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371008.8 * math.asin(min(1.0, math.sqrt(h)))


# ------------------------------------------------------------------ links the tablet opens (the server never calls them)

def amap_marker_url(lat: float, lon: float, name: str) -> str:
    """Amap's web URI (opens the Amap app on a tablet that has it): GCJ-02, `position=lon,lat`."""
    g_lat, g_lon = wgs84_to_gcj02(lat, lon)
    return (f"https://uri.amap.com/marker?position={g_lon:.6f},{g_lat:.6f}&name={quote(name)}"
            f"&src=fleetops&coordinate=gaode&callnative=1")


def baidu_marker_url(lat: float, lon: float, name: str) -> str:
    """Baidu Map's app scheme: it converts WGS-84 itself when told `coord_type=wgs84`; `location=lat,lon`."""
    return (f"baidumap://map/marker?location={lat:.6f},{lon:.6f}&coord_type=wgs84&title={quote(name)}"
            f"&content={quote(name)}&src=fleetops")


# ------------------------------------------------------------------ a site's status on the map

class SiteMapStatus:
    """What a marker's colour says. Values are stored nowhere; they travel in the GeoJSON `status`."""

    UP = "up"  # every monitored device online
    SOME_DOWN = "some_down"  # at least one device down, not all
    DARK = "dark"  # the whole site dark (all monitored devices down/unreachable, or an open site incident)
    UNKNOWN = "unknown"  # no monitored device, or some devices' state not known and none down
    MAINTENANCE = "maintenance"  # a crew is on site (ticket arrived / repairing)

    ALL = (UP, SOME_DOWN, DARK, UNKNOWN, MAINTENANCE)
    LABELS = {UP: N_("All devices up"), SOME_DOWN: N_("Some devices down"), DARK: N_("Site dark"),
              UNKNOWN: N_("Status unknown"), MAINTENANCE: N_("Crew on site")}


DOWN_STATUSES = ("down", "unreachable", "hung")


def site_status(total: int, up: int, down: int, *, incident: bool = False, crew_on_site: bool = False) -> str:
    """The map status of a site from counts of its monitored devices (down = down, unreachable or hung)."""
    if crew_on_site:
        return SiteMapStatus.MAINTENANCE
    if incident or (total and down >= total):
        return SiteMapStatus.DARK
    if down:
        return SiteMapStatus.SOME_DOWN
    if total and up >= total:
        return SiteMapStatus.UP
    return SiteMapStatus.UNKNOWN


# ------------------------------------------------------------------ tile-less map: outlines and roads

@dataclass(frozen=True)
class Point:
    lon: float
    lat: float


def convex_hull(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Andrew's monotone chain: the hull of (x, y) points, counter-clockwise, closed (first point repeated).
    Fewer than 3 distinct points give those points (closed) — the caller may buffer them."""
    pts = sorted(set(points))
    if len(pts) <= 2:
        return pts + pts[:1] if pts else []

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: list = []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    upper: list = []
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    hull = lower[:-1] + upper[:-1]
    return hull + hull[:1]


def buffered(points: list[tuple[float, float]], pad: float) -> list[tuple[float, float]]:
    """Each point widened to a small square of half-side `pad`, so a hull of one or two sites is an area."""
    out = []
    for x, y in points:
        out += [(x - pad, y - pad), (x + pad, y - pad), (x + pad, y + pad), (x - pad, y + pad)]
    return out


def road_chain(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Order the sites of one road into a line: start at an end of the road (the point farthest from the
    centroid along the widest axis), then repeatedly go to the nearest site not yet visited. On a plain
    background this draws the road through its checkpoints; it is a sketch, not a surveyed road."""
    pts = list(dict.fromkeys(points))
    if len(pts) < 2:
        return pts
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    axis = 0 if (max(xs) - min(xs)) >= (max(ys) - min(ys)) else 1
    current = min(pts, key=lambda p: (p[axis], p[1 - axis]))
    chain, rest = [current], [p for p in pts if p != current]
    while rest:
        nxt = min(rest, key=lambda p: (p[0] - current[0]) ** 2 + (p[1] - current[1]) ** 2)
        chain.append(nxt)
        rest.remove(nxt)
        current = nxt
    return chain


ROAD_SEPARATORS = ("与", "和", "交叉口", "路口", "米处", "号")


def road_of(road: str, name: str) -> str:
    """The road a site lies on: the inventory's `road` column, else the site name up to the first
    junction word (e.g. "迎宾大道与世纪大道路口" → "迎宾大道")."""
    road = (road or "").strip()
    if road:
        return road
    name = (name or "").strip()
    cut = len(name)
    for sep in ROAD_SEPARATORS:
        i = name.find(sep)
        if 0 < i < cut:
            cut = i
    head = name[:cut].rstrip("0123456789")
    return head if head and head != name else ""
