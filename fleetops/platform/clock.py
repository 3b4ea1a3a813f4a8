"""Time as people read it: the one TIMEZONE setting (config `TIMEZONE`), never a zone written out in code.

Stored times are UTC (`models.base.UTCDateTime`); pages, reports, CLI output and "which day/month" questions
use `local_zone()`. Day and night are not clock hours: they come from the sun at the site (`domain/sla.py`).
"""
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from fleetops.config import DEFAULTS


def zone_name() -> str:
    try:
        from flask import current_app, has_app_context

        if has_app_context():
            return current_app.config.get("TIMEZONE") or DEFAULTS["TIMEZONE"]
    except ImportError:  # pragma: no cover
        pass
    return DEFAULTS["TIMEZONE"]


def local_zone() -> ZoneInfo:
    return ZoneInfo(zone_name())


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def local_now() -> datetime:
    return datetime.now(local_zone())


def local_today() -> date:
    """Today at the sites (TIMEZONE), not on the server's clock: from 16:00 UTC it is already tomorrow in Shanghai."""
    return local_now().date()


def to_local(value: datetime | None) -> datetime | None:
    return value.astimezone(local_zone()) if value is not None else None
