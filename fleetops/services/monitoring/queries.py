"""What the monitoring pages, the API and the CLI read: fleet status now, open outages and incidents, outage
lists, a device's timeline, the uptime table. Entry points call one of these and render the result."""
from datetime import datetime, timedelta
from functools import cache
from types import SimpleNamespace

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session, joinedload

from fleetops.domain.choices import CONTRACT_KINDS, IN_SERVICE
from fleetops.domain.uptime import EXCLUDED_CAUSES, pct
from fleetops.models import Device, Site
from fleetops.models.base import utcnow
from fleetops.models.monitoring import DeviceEvent, OnlineRateSample, Outage, ProbeResultRow, SiteIncident
from fleetops.services.monitoring.uptime import rounded, target_pct, uptime_page, uptime_rows

_WITH_DEVICE = joinedload(Outage.device).joinedload(Device.site)


def fleet_status(session: Session) -> dict:
    """U4 real-time: in-service devices with an address, how many are online, who is down, open site incidents.
    One grouped query by status and kind (the contract kinds are summed here): with the index
    ix_devices_monitored (lifecycle, status, kind WHERE ip_address IS NOT NULL) PostgreSQL answers it from the
    index alone instead of scanning the devices table (issue 14 part 4: 10 ms → 1 ms at 10,000 devices)."""
    in_service = [x.value for x in IN_SERVICE]
    contract_kinds = {str(k) for k in CONTRACT_KINDS}
    rows = session.execute(
        select(Device.status, Device.kind, func.count())
        .where(Device.lifecycle.in_(in_service), Device.ip_address.is_not(None))
        .group_by(Device.status, Device.kind)).all()
    counts, contract = {}, {}
    for status, kind, n in rows:
        counts[status] = counts.get(status, 0) + int(n)
        if kind in contract_kinds:
            contract[status] = contract.get(status, 0) + int(n)
    total = sum(counts.values())
    contract_total = sum(contract.values())
    return {
        "in_service": total, "online": counts.get("up", 0), "by_status": counts,
        "online_rate_pct": rounded(pct(counts.get("up", 0), total)),
        "contract_in_service": contract_total, "contract_online": contract.get("up", 0),
        "contract_online_rate_pct": rounded(pct(contract.get("up", 0), contract_total)),
    }


def online_rate_series(session: Session, start: datetime, end: datetime) -> list[dict]:
    """U4: the sampled real-time online rate (every ONLINE_RATE_SAMPLE_S) between start and end, for reports."""
    rows = session.scalars(select(OnlineRateSample).where(OnlineRateSample.at >= start, OnlineRateSample.at < end)
                           .order_by(OnlineRateSample.at))
    return [{"at": r.at.isoformat(), "in_service": r.in_service, "online": r.online,
             "online_rate_pct": rounded(r.rate_pct),
             "contract_online_rate_pct": rounded(pct(r.contract_online, r.contract_in_service))} for r in rows]


def open_outages(session: Session, limit: int = 500, district: str = "") -> list[Outage]:
    """Devices down now, newest first; `district` narrows to one district (a crew's own)."""
    q = select(Outage).options(_WITH_DEVICE).where(Outage.ended_at.is_(None), Outage.retracted_at.is_(None))
    if district:
        q = q.join(Device, Device.id == Outage.device_id).join(Site, Site.id == Device.site_id).where(
            Site.district == district)
    return list(session.scalars(q.order_by(Outage.started_at.desc()).limit(limit)))


def open_incidents(session: Session, district: str = "") -> list[SiteIncident]:
    q = (select(SiteIncident).options(joinedload(SiteIncident.site))
         .where(SiteIncident.ended_at.is_(None), SiteIncident.retracted_at.is_(None)))
    if district:
        q = q.join(Site, Site.id == SiteIncident.site_id).where(Site.district == district)
    return list(session.scalars(q.order_by(SiteIncident.started_at.desc())))


def outages_between(session: Session, start: datetime | None = None, end: datetime | None = None,
                    device_code: str | None = None, cause: str | None = None, open_only: bool = False,
                    limit: int = 200, offset: int = 0, district: str = "") -> tuple[list[Outage], int]:
    """Outages overlapping [start, end), newest first, with the total count for paging; `district` narrows to
    one district (a crew's own)."""
    q = select(Outage).join(Device, Device.id == Outage.device_id).where(Outage.retracted_at.is_(None))
    if district:
        q = q.join(Site, Site.id == Device.site_id).where(Site.district == district)
    if start is not None:
        q = q.where((Outage.ended_at.is_(None)) | (Outage.ended_at > start))
    if end is not None:
        q = q.where(Outage.started_at < end)
    if device_code:
        q = q.where(Device.code == device_code)
    if cause:
        q = q.where(Outage.cause == cause)
    if open_only:
        q = q.where(Outage.ended_at.is_(None))
    total = session.scalar(select(func.count()).select_from(q.subquery()))
    rows = session.scalars(q.options(_WITH_DEVICE).order_by(Outage.started_at.desc()).limit(limit)
                           .offset(offset)).all()
    return list(rows), int(total or 0)


def outage_dict(o: Outage) -> dict:
    return {"id": o.id, "device": o.device.code, "device_id": o.device_id, "site": o.device.site.code,
            "kind": o.device.kind, "started_at": o.started_at.isoformat(), "detected_at": o.detected_at.isoformat(),
            "ended_at": o.ended_at.isoformat() if o.ended_at else None,
            "duration_s": int(((o.ended_at or utcnow()) - o.started_at).total_seconds()),
            "cause": o.cause, "cause_reason": o.cause_reason, "excluded": o.cause in EXCLUDED_CAUSES,
            "cause_set_by": o.cause_set_by, "site_incident_id": o.site_incident_id}


def incident_dict(i: SiteIncident) -> dict:
    return {"id": i.id, "site": i.site.code, "site_name": i.site.name, "started_at": i.started_at.isoformat(),
            "detected_at": i.detected_at.isoformat(), "device_count": i.device_count}


# ------------------------------------------------------------------------------------------ one call per page

def _outage_page(session: Session, district: str, limit: int, offset: int) -> tuple[list[SimpleNamespace], int]:
    """One page of the open outages (in `district` when given), newest first, and how many there are in all — one
    statement: the page and its total (a window count) are taken from the partial index ix_outages_open, and only the
    page's rows are joined to their device and site. Each row is a plain object in the ORM's shape — o.id,
    o.started_at, o.cause, o.device.code/name/kind/status, o.device.site.code/name — with no ORM object (issue 14
    part 4: whole devices, with their secrets decrypted, and sites were most of the status page's reading; then the
    count, the page's ids and its rows were three statements, now one)."""
    params = {"limit": limit, "offset": offset, **({"district": district} if district else {})}
    rows = session.execute(_outage_page_statement(bool(district)), params).all()
    if rows:
        total = int(rows[0].total)
    else:  # past the last page (or none down): the total needs its own count
        q = select(func.count()).select_from(Outage).where(Outage.ended_at.is_(None), Outage.retracted_at.is_(None))
        if district:
            q = q.join(Device, Device.id == Outage.device_id).join(Site, Site.id == Device.site_id).where(
                Site.district == district)
        total = int(session.scalar(q) or 0) if offset else 0
    return [SimpleNamespace(id=r.id, started_at=r.started_at, cause=r.cause, device=SimpleNamespace(
        code=r.code, name=r.name, kind=r.kind, status=r.status,
        site=None if r.site_code is None else SimpleNamespace(code=r.site_code, name=r.site_name))) for r in rows], total


# The status page's statements are built once, their district, limit and offset bound per call: building a statement
# of subqueries and joins and deriving its cache key cost more CPU than running it (issue 14 part 4: ~1 ms each).

@cache
def _outage_page_statement(in_district: bool):
    page = (select(Outage.id, Outage.started_at, Outage.cause, Outage.device_id, func.count().over().label("total"))
            .where(Outage.ended_at.is_(None), Outage.retracted_at.is_(None)))
    if in_district:
        page = page.join(Device, Device.id == Outage.device_id).join(Site, Site.id == Device.site_id).where(
            Site.district == bindparam("district"))
    page = (page.order_by(Outage.started_at.desc(), Outage.id.desc()).limit(bindparam("limit"))
            .offset(bindparam("offset")).subquery())
    return (select(page.c.id, page.c.started_at, page.c.cause, page.c.total, Device.code, Device.name, Device.kind,
                   Device.status, Site.code.label("site_code"), Site.name.label("site_name"))
            .join(Device, Device.id == page.c.device_id).outerjoin(Site, Site.id == Device.site_id)
            .order_by(page.c.started_at.desc(), page.c.id.desc()))


@cache
def _incidents_statement(in_district: bool):
    q = (select(SiteIncident.id, SiteIncident.started_at, SiteIncident.device_count, Site.code, Site.name)
         .join(Site, Site.id == SiteIncident.site_id)
         .where(SiteIncident.ended_at.is_(None), SiteIncident.retracted_at.is_(None)))
    if in_district:
        q = q.where(Site.district == bindparam("district"))
    return q.order_by(SiteIncident.started_at.desc())


@cache
def _hung_statement():
    return (select(DeviceEvent.at, Device.code).join(Device, Device.id == DeviceEvent.device_id)
            .where(DeviceEvent.kind == "hung", DeviceEvent.ended_at.is_(None))
            .order_by(DeviceEvent.at.desc()).limit(100))


def _incident_rows(session: Session, district: str = "") -> list[SimpleNamespace]:
    """open_incidents as plain rows for the status page — i.id, i.started_at, i.device_count, i.site.code/name."""
    rows = session.execute(_incidents_statement(bool(district)), {"district": district} if district else {})
    return [SimpleNamespace(id=i, started_at=at, device_count=n, site=SimpleNamespace(code=code, name=name))
            for i, at, n, code, name in rows]


def status_page(session: Session, district: str = "", limit: int = 50, offset: int = 0) -> dict:
    """The fleet status page: figures, one page of the devices down (in `district` when given; newest first, with
    their total), open incidents and the devices hung now. (The chart reads its samples itself: reports.dashboard.
    online_rate_chart.) Four statements, no ORM object."""
    hung = session.execute(_hung_statement()).all()
    outages, total = _outage_page(session, district, limit, offset)
    return {"figures": fleet_status(session), "outages": outages, "outages_total": total,
            "incidents": _incident_rows(session, district),
            "hung": [SimpleNamespace(at=at, device=SimpleNamespace(code=code)) for at, code in hung]}


def status_report(session: Session, district: str = "") -> dict:
    """GET /api/v1/status: the figures with the open outages and site incidents (in `district` when given)."""
    status = fleet_status(session)
    status["open_outages"] = [outage_dict(o) for o in open_outages(session, 200, district=district)]
    status["site_incidents"] = [incident_dict(i) for i in open_incidents(session, district)]
    return status


def device_timeline(session: Session, code: str, now: datetime | None = None, district: str = "") -> dict | None:
    """A device's page: the device, its last outages, events and raw results, and its last 30 days' figures;
    None when no device has that code or it lies outside `district` (when given: a crew's own)."""
    dev = session.scalar(select(Device).where(Device.code == code))
    if dev is None:
        return None
    if district and (dev.site is None or dev.site.district != district):
        return None
    outages = list(session.scalars(select(Outage).where(Outage.device_id == dev.id, Outage.retracted_at.is_(None))
                                   .order_by(Outage.started_at.desc()).limit(100)))
    events = list(session.scalars(select(DeviceEvent).where(DeviceEvent.device_id == dev.id)
                                  .order_by(DeviceEvent.at.desc()).limit(100)))
    results = list(session.scalars(select(ProbeResultRow).where(ProbeResultRow.device_id == dev.id)
                                   .order_by(ProbeResultRow.at.desc()).limit(120)))
    end = now or utcnow()
    rows = uptime_rows(session, end - timedelta(days=30), end, by="device", codes=[dev.code])
    figures = next((r for r in rows if r.key == dev.code), None)
    return {"device": dev, "outages": outages, "events": events, "results": results, "figures": figures}


def outage_page(session: Session, outage_id: int, district: str = "") -> dict | None:
    """An outage with its site incident; None when it does not exist, was retracted or lies outside `district`
    (when given: a crew's own)."""
    o = session.get(Outage, outage_id)
    if o is None or o.retracted_at is not None:
        return None
    if district and (o.device.site is None or o.device.site.district != district):
        return None
    incident = session.get(SiteIncident, o.site_incident_id) if o.site_incident_id else None
    return {"outage": o, "incident": incident}


def uptime_table(session: Session, start: datetime, end: datetime, by: str, local_tz: str | None = None,
                 locale: str | None = None, limit: int | None = None, offset: int = 0) -> dict:
    """The uptime page and its exports: rows grouped `by` (one page of them, worst first, when `limit` is given,
    with the fleet line (contract kinds) from the same statement; all of them by key for the exports, which show
    no fleet line) and the target."""
    if limit is None:
        rows = uptime_rows(session, start, end, by=by, local_tz=local_tz, locale=locale)
        return {"rows": rows, "total": len(rows), "target": target_pct(session), "fleet": None}
    page = uptime_page(session, start, end, by=by, limit=limit, offset=offset, locale=locale, local_tz=local_tz,
                       with_fleet=True)
    return {"rows": page.rows, "total": page.total, "target": target_pct(session), "fleet": page.fleet}


def uptime_report(session: Session, start: datetime, end: datetime, by: str, local_tz: str | None = None
                  ) -> tuple[float, list[dict]]:
    """The API and CLI figure: (target %, rows as dicts with meets_target)."""
    target = target_pct(session)
    return target, [r.as_dict(target) for r in uptime_rows(session, start, end, by=by, local_tz=local_tz)]
