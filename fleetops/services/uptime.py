"""Uptime figures in SQL (U3, U4) — raw and contractual, per device/site/kind/district/fleet — and outage causes.

The arithmetic is the one defined in domain/uptime.py, done by the database over status_intervals (epoch
seconds, so the same query runs on SQLite and PostgreSQL); only the per-group sums come back to Python.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, case, func, literal, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.sql.functions import FunctionElement

from fleetops.domain.choices import CONTRACT_KINDS, DeviceKind
from fleetops.domain.errors import NotFound, PermissionDenied, ValidationFailed
from fleetops.domain.uptime import EXCLUDED_CAUSES, OutageCause, UptimeArithmetic, pct
from fleetops.models import Device, Site
from fleetops.models.base import utcnow
from fleetops.models.monitoring import Outage, SiteIncident, StatusInterval
from fleetops.platform import audit, events, parameters

# Contract numbers this area reads (key → default, description); registered by fleetops.wiring.
PARAMETERS = {
    "uptime_target_pct": (95.0,
        "U3: contractual online rate target for checkpoint, security-checkpoint, e-police and "
                            "fixed-speed devices (%) / 合同在线率目标"),
}

GROUPS = ("device", "site", "kind", "district", "fleet")
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class epoch_s(FunctionElement):
    """Seconds since 1970 of a UTCDateTime or Date column — the one dialect-specific piece of the uptime SQL."""

    type = BigInteger()
    inherit_cache = True


@compiles(epoch_s, "sqlite")
def _epoch_sqlite(element, compiler, **kw):
    return "CAST(strftime('%%s', %s) AS INTEGER)" % compiler.process(element.clauses, **kw)


@compiles(epoch_s, "postgresql")
def _epoch_pg(element, compiler, **kw):
    return "CAST(FLOOR(EXTRACT(EPOCH FROM %s)) AS BIGINT)" % compiler.process(element.clauses, **kw)


class greatest(FunctionElement):
    """GREATEST(a, b) — spelled max(a, b) on SQLite, whose scalar max() takes several arguments."""

    type = BigInteger()
    inherit_cache = True


class least(FunctionElement):
    type = BigInteger()
    inherit_cache = True


@compiles(greatest, "sqlite")
def _greatest_sqlite(element, compiler, **kw):
    return "max(%s)" % compiler.process(element.clauses, **kw)


@compiles(greatest)
def _greatest_default(element, compiler, **kw):
    return "GREATEST(%s)" % compiler.process(element.clauses, **kw)


@compiles(least, "sqlite")
def _least_sqlite(element, compiler, **kw):
    return "min(%s)" % compiler.process(element.clauses, **kw)


@compiles(least)
def _least_default(element, compiler, **kw):
    return "LEAST(%s)" % compiler.process(element.clauses, **kw)


def _to_s(at: datetime) -> int:
    if at.tzinfo is None:
        raise ValidationFailed("时间必须带时区 / times must carry a UTC offset")
    return int((at - EPOCH).total_seconds() // 1)


@dataclass
class UptimeRow(UptimeArithmetic):
    key: str
    label: str
    in_service_s: int
    up_s: int
    down_s: int
    excluded_s: int
    devices: int

    def as_dict(self, target_pct: float | None = None) -> dict:
        d = {"key": self.key, "label": self.label, "devices": self.devices, "in_service_s": self.in_service_s,
             "up_s": self.up_s, "down_s": self.down_s, "unknown_s": self.unknown_s, "excluded_s": self.excluded_s,
             "raw_pct": _round(self.raw_pct), "contractual_pct": _round(self.contractual_pct)}
        if target_pct is not None:
            d["meets_target"] = None if self.contractual_pct is None else self.contractual_pct >= target_pct
        return d


def _round(v):
    return None if v is None else round(v, 4)


def uptime_rows(session: Session, start: datetime, end: datetime, by: str = "device", kinds=None,
                local_tz: str = "Asia/Shanghai", locale: str = "zh", codes=None) -> list[UptimeRow]:
    """Raw and contractual uptime for [start, end) grouped `by` device|site|kind|district|fleet.

    Devices count from in_service_from (else installed_on, local midnight) until retired_at. `kinds` limits
    the devices (`codes` to some devices); the fleet figure defaults to the contract kinds (U3)."""
    if by not in GROUPS:
        raise ValidationFailed(f"分组方式无效 / --by must be one of {', '.join(GROUPS)}")
    if end <= start:
        raise ValidationFailed("结束时间必须晚于开始时间 / the period's end must be after its start")
    if kinds is None and by == "fleet":
        kinds = CONTRACT_KINDS
    from_s, to_s = _to_s(start), _to_s(end)
    offset_s = int(ZoneInfo(local_tz).utcoffset(datetime(2026, 1, 1)).total_seconds())

    # Each device's in-service window clipped to the period, computed once per device (a materialised CTE).
    svc_start = func.coalesce(epoch_s(Device.in_service_from), epoch_s(Device.installed_on) - offset_s)
    lo = greatest(func.coalesce(svc_start, from_s), literal(from_s, BigInteger))
    hi = least(func.coalesce(epoch_s(Device.retired_at), to_s), literal(to_s, BigInteger))
    key, label = _group_columns(by)
    filters = [Device.lifecycle != "planned"]
    if kinds:
        filters.append(Device.kind.in_([str(k) for k in kinds]))
    if codes is not None:
        filters.append(Device.code.in_(list(codes)))
    win = (select(Device.id.label("device_id"), key.label("key"), label.label("label"), lo.label("lo"),
                  hi.label("hi"))
           .select_from(Device).join(Site, Site.id == Device.site_id).where(*filters)
           .cte("win").prefix_with("MATERIALIZED"))

    q1 = (select(win.c.key, func.max(win.c.label).label("label"),
                 func.sum(case((win.c.hi > win.c.lo, win.c.hi - win.c.lo), else_=0)).label("in_service_s"),
                 func.count().label("devices"))
          .group_by(win.c.key))
    rows = {r.key: UptimeRow(str(r.key), str(r.label or r.key), int(r.in_service_s or 0), 0, 0, 0, int(r.devices))
            for r in session.execute(q1)}

    si = StatusInterval
    clipped = greatest(least(si.end_s, win.c.hi) - greatest(si.start_s, win.c.lo), literal(0, BigInteger))
    excluded = case((Outage.cause.in_(sorted(EXCLUDED_CAUSES)), 1), else_=0)
    q2 = (select(win.c.key, si.state, excluded.label("excluded"), func.sum(clipped).label("secs"))
          .select_from(win)
          .join(si, si.device_id == win.c.device_id)
          .outerjoin(Outage, Outage.id == si.outage_id)
          .where(si.end_s > from_s, si.start_s < to_s)
          .group_by(win.c.key, si.state, excluded))
    for r in session.execute(q2):
        row = rows.get(r.key)
        if row is None:
            continue
        secs = int(r.secs or 0)
        if r.state == "up":
            row.up_s += secs
        elif r.state == "down":
            row.down_s += secs
            if r.excluded:
                row.excluded_s += secs
    out = sorted(rows.values(), key=lambda r: r.key)
    if by == "kind":
        for r in out:
            try:
                r.label = DeviceKind(r.key).label(locale)
            except ValueError:
                pass
    return out


def _group_columns(by: str):
    if by == "device":
        return Device.code, Device.name
    if by == "site":
        return Site.code, Site.name
    if by == "kind":
        return Device.kind, Device.kind
    if by == "district":
        return Site.district, Site.district
    return literal("fleet"), literal("fleet")


def target_pct(session: Session) -> float:
    return float(parameters.get(session, "uptime_target_pct"))


def period_bounds(kind: str, day: str | None = None, local_tz: str = "Asia/Shanghai",
                  contract_start: str | None = None) -> tuple[datetime, datetime]:
    """U4 periods in local time: 'day' (YYYY-MM-DD), 'month' (YYYY-MM), 'year' (contract year from
    contract_start YYYY-MM-DD, default Jan 1). Returned as UTC datetimes."""
    tz = ZoneInfo(local_tz)
    try:
        if kind == "day":
            d = datetime.strptime(day, "%Y-%m-%d")
            a = d.replace(tzinfo=tz)
            return a.astimezone(timezone.utc), (a + timedelta(days=1)).astimezone(timezone.utc)
        if kind == "month":
            d = datetime.strptime(day[:7], "%Y-%m")
            a = d.replace(tzinfo=tz)
            b = (a.replace(year=a.year + 1, month=1) if a.month == 12 else a.replace(month=a.month + 1))
            return a.astimezone(timezone.utc), b.astimezone(timezone.utc)
        if kind == "year":
            s = datetime.strptime(contract_start or f"{day[:4]}-01-01", "%Y-%m-%d").replace(tzinfo=tz)
            return s.astimezone(timezone.utc), s.replace(year=s.year + 1).astimezone(timezone.utc)
    except (TypeError, ValueError):
        raise ValidationFailed(f"日期格式错误 / not a valid date for a {kind}: {day!r}") from None
    raise ValidationFailed(f"未知的统计周期 / unknown period {kind!r}")


# ------------------------------------------------------------------------------------------ outage causes

def set_outage_cause(session: Session, outage_id: int, cause: str, reason: str, evidence_path: str = "",
                     actor=None) -> Outage:
    """U3/A3: a supervisor records why an outage happened; power-utility and network-provider causes need a
    reason and take the outage out of the contractual figure. Audited; emits outage_cause_set. Caller commits."""
    role = getattr(actor, "role", None)
    if role not in ("supervisor", "admin"):
        raise PermissionDenied("只有监管人员可以认定停机原因 / only a supervisor can set an outage's cause")
    outage = session.get(Outage, outage_id)
    if outage is None or outage.retracted_at is not None:
        raise NotFound(f"停机记录不存在 / outage {outage_id} not found")
    try:
        value = OutageCause.parse(cause).value
    except ValueError:
        raise ValidationFailed(f"未知的停机原因 / unknown cause {cause!r}") from None
    reason = (reason or "").strip()
    if value in EXCLUDED_CAUSES and not reason:
        raise ValidationFailed("排除考核的原因必须填写依据 / an excluded cause needs a recorded reason")
    before = {"cause": outage.cause, "cause_reason": outage.cause_reason, "evidence_path": outage.evidence_path}
    outage.cause, outage.cause_reason = value, reason
    if evidence_path:
        outage.evidence_path = evidence_path
    outage.cause_set_by = getattr(actor, "username", "") or str(actor)
    outage.cause_set_at = utcnow()
    after = {"cause": outage.cause, "cause_reason": outage.cause_reason, "evidence_path": outage.evidence_path}
    audit.record(session, actor, "outage_cause_set", "outage", outage.id,
                 summary=f"{outage.device.code}: {before['cause']} → {value}", before=before, after=after)
    events.emit(session, "outage_cause_set", outage_id=outage.id, cause=value, by=outage.cause_set_by)
    return outage


def set_site_incident_cause(session: Session, incident_id: int, cause: str, reason: str, evidence_path: str = "",
                            actor=None) -> list[Outage]:
    """U5: a site power cut or carrier cut — the same cause for every outage of the incident, each audited."""
    incident = session.get(SiteIncident, incident_id)
    if incident is None or incident.retracted_at is not None:
        raise NotFound(f"点位事件不存在 / site incident {incident_id} not found")
    members = session.scalars(select(Outage).where(Outage.site_incident_id == incident_id,
                                                   Outage.retracted_at.is_(None))).all()
    return [set_outage_cause(session, o.id, cause, reason, evidence_path, actor) for o in members]


# ------------------------------------------------------------------------------------------ status now

def fleet_status(session: Session) -> dict:
    """U4 real-time: in-service devices with an address, how many are online, who is down, open site incidents."""
    from fleetops.domain.choices import IN_SERVICE

    in_service = [x.value for x in IN_SERVICE]
    counts = dict(session.execute(
        select(Device.status, func.count(Device.id)).where(Device.lifecycle.in_(in_service),
                                                           Device.ip_address.is_not(None))
        .group_by(Device.status)).all())
    total = sum(counts.values())
    contract = dict(session.execute(
        select(Device.status, func.count(Device.id)).where(
            Device.lifecycle.in_(in_service), Device.ip_address.is_not(None),
            Device.kind.in_([str(k) for k in CONTRACT_KINDS])).group_by(Device.status)).all())
    contract_total = sum(contract.values())
    return {
        "in_service": total, "online": counts.get("up", 0), "by_status": counts,
        "online_rate_pct": _round(pct(counts.get("up", 0), total)),
        "contract_in_service": contract_total, "contract_online": contract.get("up", 0),
        "contract_online_rate_pct": _round(pct(contract.get("up", 0), contract_total)),
    }


_WITH_DEVICE = joinedload(Outage.device).joinedload(Device.site)


def online_rate_series(session: Session, start: datetime, end: datetime) -> list[dict]:
    """U4: the sampled real-time online rate (every ONLINE_RATE_SAMPLE_S) between start and end, for reports."""
    from fleetops.models.monitoring import OnlineRateSample

    rows = session.scalars(select(OnlineRateSample).where(OnlineRateSample.at >= start, OnlineRateSample.at < end)
                           .order_by(OnlineRateSample.at))
    return [{"at": r.at.isoformat(), "in_service": r.in_service, "online": r.online,
             "online_rate_pct": _round(r.rate_pct),
             "contract_online_rate_pct": _round(pct(r.contract_online, r.contract_in_service))} for r in rows]


def open_outages(session: Session, limit: int = 500, district: str = "") -> list[Outage]:
    """Devices down now, newest first; `district` narrows to one district (a crew's own)."""
    q = select(Outage).options(_WITH_DEVICE).where(Outage.ended_at.is_(None), Outage.retracted_at.is_(None))
    if district:
        q = q.join(Device, Device.id == Outage.device_id).join(Site, Site.id == Device.site_id).where(
            Site.district == district)
    return list(session.scalars(q.order_by(Outage.started_at.desc()).limit(limit)))


def open_incidents(session: Session) -> list[SiteIncident]:
    return list(session.scalars(select(SiteIncident).options(joinedload(SiteIncident.site))
                                .where(SiteIncident.ended_at.is_(None),
                                                           SiteIncident.retracted_at.is_(None))
                                .order_by(SiteIncident.started_at.desc())))


def outages_between(session: Session, start: datetime | None = None, end: datetime | None = None,
                    device_code: str | None = None, cause: str | None = None, open_only: bool = False,
                    limit: int = 200, offset: int = 0) -> tuple[list[Outage], int]:
    """Outages overlapping [start, end), newest first, with the total count for paging."""
    q = select(Outage).join(Device, Device.id == Outage.device_id).where(Outage.retracted_at.is_(None))
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
