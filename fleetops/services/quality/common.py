"""Small helpers the quality modules share: day or night at a camera, its thresholds, its local month."""
from __future__ import annotations

import calendar
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from fleetops.domain import quality as rules
from fleetops.domain import sla
from fleetops.models import Device
from fleetops.platform import clock, parameters
from probes.vision import imaging


def site_zone(device: Device) -> str:
    """The device's site zone, else the one configured TIMEZONE."""
    return device.site.timezone or clock.zone_name()


def period_at(device: Device, at: datetime) -> str:
    """T2/Q1: day or night by the sun at the device's site."""
    site = device.site
    return sla.day_or_night(site.latitude, site.longitude, at, site_zone(device))


def thresholds(session: Session, device: Device, period: str) -> dict:
    """The camera kind's thresholds by day or night (contract data), plus `_night` when faces are judged."""
    t = rules.thresholds_for(parameters.get(session, "quality_thresholds") or {}, device.kind, period)
    t["_night"] = period == rules.NIGHT and bool(t.get("check_faces_at_night"))
    return t


def imaging_thresholds(t: dict) -> imaging.Thresholds:
    """The plate and face numbers the scorer needs, from a thresholds table (defined once, in the domain)."""
    return imaging.Thresholds.from_mapping({**rules.DEFAULT_THRESHOLDS, **t})


def local(device: Device, at: datetime) -> datetime:
    return at.astimezone(ZoneInfo(site_zone(device)))


def month_of(device: Device, at: datetime) -> str:
    return local(device, at).strftime("%Y-%m")


def month_fraction(device: Device, at: datetime) -> float:
    here = local(device, at)
    days = calendar.monthrange(here.year, here.month)[1]
    start = here.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return (here - start).total_seconds() / (days * 86400)


def current_month(tz_name: str | None = None) -> str:
    """This month (YYYY-MM) in `tz_name`, else the configured TIMEZONE."""
    return clock.utcnow().astimezone(ZoneInfo(tz_name or clock.zone_name())).strftime("%Y-%m")
