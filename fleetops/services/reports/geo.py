"""Issue 13: the fleet map and the wall screen's reads — sites as GeoJSON with their status (one aggregate query,
no N+1), a site's panel, the tile-less layers (district hulls, roads), and the wall's figures.

Coordinates are WGS-84 as stored ([lon, lat] in GeoJSON, RFC 7946)."""
from datetime import datetime, timedelta, timezone

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from fleetops.domain import geo
from fleetops.domain.choices import CONTRACT_KINDS, IN_SERVICE, DeviceStatus
from fleetops.domain.tickets import OPEN_STATES
from fleetops.models import Device, Site
from fleetops.models.base import utcnow
from fleetops.models.monitoring import Outage, SiteIncident
from fleetops.models.tickets import Ticket
from fleetops.services.monitoring.queries import fleet_status
from fleetops.services.monitoring.uptime import target_pct

_IN_SERVICE = [s.value for s in IN_SERVICE]
_CONTRACT = [str(k) for k in CONTRACT_KINDS]
ON_SITE_STATES = ("arrived", "repairing")
HULL_PAD_DEG = 0.004  # ~400 m around a district's outermost sites, so one or two sites still make an area


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t is not None else None


def _site_rows(session: Session, district: str = ""):
    """One SELECT: every site with its device counts, open tickets (and crew on site) and open incident."""
    down = Device.status.in_(geo.DOWN_STATUSES)
    dev = (select(Device.site_id.label("site_id"), func.count(Device.id).label("total"),
                  func.sum(case((Device.status == DeviceStatus.UP.value, 1), else_=0)).label("up"),
                  func.sum(case((down, 1), else_=0)).label("down"),
                  func.min(case((down, Device.status_since), else_=None)).label("down_since"))
           .where(Device.lifecycle.in_(_IN_SERVICE), Device.ip_address.is_not(None))
           .group_by(Device.site_id).subquery())
    tick = (select(Ticket.site_id.label("site_id"), func.count(Ticket.id).label("open"),
                   func.sum(case((Ticket.state.in_(ON_SITE_STATES), 1), else_=0)).label("on_site"))
            .where(Ticket.state.in_(OPEN_STATES)).group_by(Ticket.site_id).subquery())
    inc = (select(SiteIncident.site_id.label("site_id"), func.min(SiteIncident.started_at).label("started"))
           .where(SiteIncident.ended_at.is_(None), SiteIncident.retracted_at.is_(None))
           .group_by(SiteIncident.site_id).subquery())
    q = (select(Site.id, Site.code, Site.name, Site.district, Site.road, Site.direction, Site.latitude,
                Site.longitude, Site.key_site, dev.c.total, dev.c.up, dev.c.down, dev.c.down_since,
                tick.c.open, tick.c.on_site, inc.c.started)
         .outerjoin(dev, dev.c.site_id == Site.id).outerjoin(tick, tick.c.site_id == Site.id)
         .outerjoin(inc, inc.c.site_id == Site.id).order_by(Site.code))
    if district:
        q = q.where(Site.district == district)
    return session.execute(q).all()


def _as_utc(t):
    """SQLite hands back a MIN() of timestamps as text (or a naive datetime); PostgreSQL an aware datetime."""
    if t is None:
        return None
    if isinstance(t, datetime):
        return t if t.tzinfo else t.replace(tzinfo=timezone.utc)
    parsed = datetime.fromisoformat(str(t))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _display(lon: float, lat: float) -> list[float]:
    """Where to draw a WGS-84 point on GCJ-02 tiles (an internal mirror of a Chinese map service)."""
    g_lat, g_lon = geo.wgs84_to_gcj02(lat, lon)
    return [round(g_lon, 7), round(g_lat, 7)]


def site_features(session: Session, district: str = "", display_gcj02: bool = False) -> list[dict]:
    """GeoJSON Features, one Point per site in WGS-84 [lon, lat]; `district` narrows to one (a crew's own).
    `display_gcj02` adds `properties.display` (GCJ-02 [lon, lat]) for a map whose tiles are GCJ-02; the geometry
    stays WGS-84."""
    out = []
    for r in _site_rows(session, district):
        total, up, down = int(r.total or 0), int(r.up or 0), int(r.down or 0)
        incident_since = _as_utc(r.started)
        status = geo.site_status(total, up, down, incident=incident_since is not None, crew_on_site=bool(r.on_site))
        down_since = _as_utc(r.down_since)
        if incident_since is not None and (down_since is None or incident_since < down_since):
            down_since = incident_since
        out.append({
            "type": "Feature", "id": r.code,
            "geometry": {"type": "Point", "coordinates": [r.longitude, r.latitude]},
            "properties": {
                "code": r.code, "name": r.name, "status": status, "devices_down": down,
                "open_tickets": int(r.open or 0), "devices_total": total, "devices_up": up,
                "district": r.district, "road": r.road, "direction": r.direction, "key_site": bool(r.key_site),
                "down_since": _iso(down_since) if down else _iso(incident_since),
                "crew_on_site": bool(r.on_site),
            },
        })
        if display_gcj02:
            out[-1]["properties"]["display"] = _display(r.longitude, r.latitude)
    return out


def sites_geojson(session: Session, district: str = "", display_gcj02: bool = False) -> dict:
    """GET /api/v1/sites.geojson: a FeatureCollection of the sites (RFC 7946: WGS-84, [lon, lat])."""
    return {"type": "FeatureCollection", "features": site_features(session, district, display_gcj02)}


def map_layers(session: Session, district: str = "", display_gcj02: bool = False) -> dict:
    """The tile-less map's background: each district's outline (the convex hull of its sites, padded) and each
    road's line (the sites on one road — the inventory's road column, else the name before the junction word —
    chained end to end through nearest neighbours)."""
    q = select(Site.district, Site.road, Site.name, Site.longitude, Site.latitude)
    if district:
        q = q.where(Site.district == district)
    by_district: dict[str, list] = {}
    by_road: dict[str, list] = {}
    for d, road, name, lon, lat in session.execute(q):
        if lon is None or lat is None:
            continue
        if display_gcj02:  # the background is drawn where the GCJ-02 tiles put the places
            lon, lat = _display(lon, lat)
        by_district.setdefault(d or "", []).append((lon, lat))
        key = geo.road_of(road, name)
        if key:
            by_road.setdefault(key, []).append((lon, lat))
    features = []
    for d, pts in sorted(by_district.items()):
        ring = geo.convex_hull(geo.buffered(pts, HULL_PAD_DEG))
        features.append({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[list(p) for p in ring]]},
                         "properties": {"kind": "district", "name": d, "sites": len(pts)}})
    for road, pts in sorted(by_road.items()):
        chain = geo.road_chain(pts)
        if len(chain) >= 2:
            features.append({"type": "Feature",
                             "geometry": {"type": "LineString", "coordinates": [list(p) for p in chain]},
                             "properties": {"kind": "road", "name": road, "sites": len(chain)}})
    return {"type": "FeatureCollection", "features": features}


def site_panel(session: Session, code: str, district: str = "") -> dict | None:
    """A site's panel on the map: the site, its devices with their status, its open tickets; None when there is
    no such site or it lies outside `district` (when given)."""
    site = session.scalar(select(Site).where(Site.code == code))
    if site is None or (district and site.district != district):
        return None
    devices = session.scalars(select(Device).where(Device.site_id == site.id).order_by(Device.code)).all()
    tickets = session.scalars(select(Ticket).where(Ticket.site_id == site.id, Ticket.state.in_(OPEN_STATES))
                              .order_by(Ticket.opened_at.desc())).all()
    codes = {d.id: d.code for d in devices}
    return {"site": site, "devices": devices, "tickets": tickets, "device_codes": codes}


# ---------------------------------------------------------------- the wall screen

def district_tiles(session: Session) -> list[dict]:
    """Per district, now: contract devices in service and online (the contractual real-time figure), and all
    devices down. One grouped query."""
    contract = Device.kind.in_(_CONTRACT)
    up = Device.status == DeviceStatus.UP.value
    q = (select(Site.district, func.count(Device.id),
                func.sum(case((up, 1), else_=0)),
                func.sum(case((contract, 1), else_=0)),
                func.sum(case((and_(contract, up), 1), else_=0)),
                func.sum(case((Device.status.in_(geo.DOWN_STATUSES), 1), else_=0)))
         .join(Site, Site.id == Device.site_id)
         .where(Device.lifecycle.in_(_IN_SERVICE), Device.ip_address.is_not(None))
         .group_by(Site.district).order_by(Site.district))
    target = target_pct(session)
    tiles = []
    for district, total, online, c_total, c_online, down in session.execute(q):
        total, online, c_total, c_online = int(total or 0), int(online or 0), int(c_total or 0), int(c_online or 0)
        # The contract devices' figure where the district has any, else all devices'.
        num, den = (c_online, c_total) if c_total else (online, total)
        rate = round(100.0 * num / den, 2) if den else None
        tiles.append({"district": district or "", "online": num, "in_service": den, "rate_pct": rate,
                      "devices_down": int(down or 0), "ok": rate is not None and rate >= target,
                      "contract": bool(c_total)})
    return tiles


def newest_outages(session: Session, limit: int = 10) -> list[dict]:
    q = (select(Outage.id, Outage.started_at, Device.code, Device.kind, Site.code, Site.name, Site.district)
         .join(Device, Device.id == Outage.device_id).join(Site, Site.id == Device.site_id)
         .where(Outage.ended_at.is_(None), Outage.retracted_at.is_(None))
         .order_by(Outage.started_at.desc()).limit(limit))
    return [{"id": i, "started_at": started, "device": dcode, "kind": kind, "site": scode, "site_name": sname,
             "district": district} for i, started, dcode, kind, scode, sname, district in session.execute(q)]


def overdue_tickets(session: Session, now: datetime, limit: int = 10) -> list[dict]:
    """Open tickets past their next deadline (arrival before check-in, repair after), most overdue first."""
    due = case((Ticket.arrived_at.is_(None), Ticket.arrive_by), else_=Ticket.repair_by)
    q = (select(Ticket.id, Ticket.category, Ticket.state, due.label("due"), Site.code, Site.name, Device.code)
         .join(Site, Site.id == Ticket.site_id).outerjoin(Device, Device.id == Ticket.device_id)
         .where(Ticket.state.in_(OPEN_STATES), due.is_not(None), due <= now)
         .order_by(due).limit(limit))
    return [{"id": i, "category": cat, "state": state, "due": _as_utc(d), "site": scode, "site_name": sname,
             "device": dcode} for i, cat, state, d, scode, sname, dcode in session.execute(q)]


def wall_data(session: Session, now: datetime | None = None, display_gcj02: bool = False) -> dict:
    """Everything the wall screen shows, for its JSON poll."""
    now = now or utcnow()
    return {"now": now, "target_pct": target_pct(session), "status": fleet_status(session),
            "districts": district_tiles(session), "outages": newest_outages(session),
            "overdue": overdue_tickets(session, now), "sites": sites_geojson(session, display_gcj02=display_gcj02)}


def duration_s(since: datetime | None, now: datetime) -> int | None:
    return None if since is None else max(0, int((now - since) / timedelta(seconds=1)))
