"""Uptime figures in SQL (U3, U4) — raw and contractual, per device/site/kind/district/fleet — and the periods.

The arithmetic is the one defined in domain/uptime.py, done by the database over status_intervals (epoch
seconds, so the same query runs on SQLite and PostgreSQL); only the per-group sums come back to Python.
Local days, months and contract years use the one TIMEZONE setting (platform/clock.py).
"""
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, case, func, literal, select
from sqlalchemy.orm import Session

from fleetops.domain.choices import CONTRACT_KINDS, DeviceKind
from fleetops.domain.errors import ValidationFailed
from fleetops.domain.text import Msg, N_
from fleetops.domain.uptime import EXCLUDED_CAUSES, UptimeArithmetic
from fleetops.models import Device, Site
from fleetops.models.monitoring import Outage, StatusInterval
from fleetops.models.service import ServicePeriod
from fleetops.platform import clock, parameters
from fleetops.services.monitoring.sqlfuncs import epoch_s, greatest, least

# Contract numbers this area reads (key → default, description msgid); registered by fleetops.wiring.
PARAMETERS = {
    "uptime_target_pct": (95.0, N_(
        "Contractual online rate target for checkpoint, security-checkpoint, e-police and fixed-speed devices (%)")),
    "late_import_after_h": (48, N_(
        "Results arriving this many hours after an outage ended record it as imported late: no ticket, no alert")),
    "mains_lost_below_v": (150, N_(
        "A cabinet power supply reporting its mains input below this voltage (V) has lost mains power: "
        "a site blackout then asks by itself to be excluded as the power utility's")),
}

GROUPS = ("device", "site", "kind", "district", "fleet")
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _zone(local_tz: str | None) -> ZoneInfo:
    return ZoneInfo(local_tz) if local_tz else clock.local_zone()


def _to_s(at: datetime) -> int:
    if at.tzinfo is None:
        raise ValidationFailed(Msg("Times must carry a UTC offset."))
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
             "raw_pct": rounded(self.raw_pct), "contractual_pct": rounded(self.contractual_pct)}
        if target_pct is not None:
            d["meets_target"] = None if self.contractual_pct is None else self.contractual_pct >= target_pct
        return d


def rounded(v):
    return None if v is None else round(v, 4)


def uptime_rows(session: Session, start: datetime, end: datetime, by: str = "device", kinds=None,
                local_tz: str | None = None, locale: str | None = None, codes=None) -> list[UptimeRow]:
    """Raw and contractual uptime for [start, end) grouped `by` device|site|kind|district|fleet.

    Devices count only inside their periods in service (models/service.py: from in_service_from, else
    installed_on at local midnight, until taken out or retired; again once brought back). `kinds` limits
    the devices (`codes` to some devices); the fleet figure defaults to the contract kinds (U3). Kind labels
    are in `locale` (default: the reader's language)."""
    if by not in GROUPS:
        raise ValidationFailed(Msg("--by must be one of %(groups)s", groups=", ".join(GROUPS)))
    if end <= start:
        raise ValidationFailed(Msg("The period's end must be after its start."))
    if kinds is None and by == "fleet":
        kinds = CONTRACT_KINDS
    from_s, to_s = _to_s(start), _to_s(end)

    # Each in-service period (models/service.py) clipped to the period asked for, computed once (a materialised
    # CTE); a device without any period keeps a row with an empty window, so it is listed with 0 s in service.
    sp = ServicePeriod
    lo = greatest(func.coalesce(epoch_s(sp.start_at), from_s), literal(from_s, BigInteger))
    hi = least(func.coalesce(epoch_s(sp.end_at), case((sp.id.is_(None), from_s), else_=to_s)),
               literal(to_s, BigInteger))
    key, label = _group_columns(by)
    filters = [Device.lifecycle != "planned"]
    if kinds:
        filters.append(Device.kind.in_([str(k) for k in kinds]))
    if codes is not None:
        filters.append(Device.code.in_(list(codes)))
    win = (select(Device.id.label("device_id"), key.label("key"), label.label("label"), lo.label("lo"),
                  hi.label("hi"))
           .select_from(Device).join(Site, Site.id == Device.site_id)
           .outerjoin(sp, sp.device_id == Device.id).where(*filters)
           .cte("win").prefix_with("MATERIALIZED"))

    q1 = (select(win.c.key, func.max(win.c.label).label("label"),
                 func.sum(case((win.c.hi > win.c.lo, win.c.hi - win.c.lo), else_=0)).label("in_service_s"),
                 func.count(win.c.device_id.distinct()).label("devices"))
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
          .where(si.end_s > from_s, si.start_s < to_s, win.c.hi > win.c.lo,
                 si.end_s > win.c.lo, si.start_s < win.c.hi)
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


def period_bounds(kind: str, day: str | None = None, local_tz: str | None = None,
                  contract_start: str | None = None) -> tuple[datetime, datetime]:
    """U4 periods in local time: 'day' (YYYY-MM-DD), 'month' (YYYY-MM), 'year' (contract year from
    contract_start YYYY-MM-DD, default Jan 1). Returned as UTC datetimes."""
    tz = _zone(local_tz)
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
    except (TypeError, ValueError, OverflowError):
        raise ValidationFailed(Msg("Not a valid date for a %(period)s: %(value)s", period=kind,
                                   value=repr(day))) from None
    raise ValidationFailed(Msg("Unknown period %(period)s", period=repr(kind)))
