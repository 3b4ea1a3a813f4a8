"""Report periods in the configured TIMEZONE: a month "YYYY-MM", an ISO week "YYYY-Www", and the defaults the
download page offers (last month, last week)."""
import re
from datetime import date, datetime, timedelta, timezone

from fleetops.domain.errors import ValidationFailed
from fleetops.domain.text import Msg
from fleetops.platform import clock

from fleetops.services import monitoring as uptime

CONTEXT = "report"


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """[start, end) of a calendar month in local time, as UTC datetimes."""
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month or ""):
        raise ValidationFailed(Msg("The month must look like YYYY-MM (2026-10), not %(month)s.", context=CONTEXT,
                                   month=repr(month)))
    return uptime.period_bounds("month", month, clock.zone_name())


def week_bounds(week: str) -> tuple[datetime, datetime]:
    """[start, end) of an ISO week (Monday 00:00 local time), as UTC datetimes."""
    m = re.fullmatch(r"(\d{4})-W(\d{2})", week or "")
    if not m:
        raise ValidationFailed(Msg("The week must look like YYYY-Www (2026-W44), not %(week)s.", context=CONTEXT,
                                   week=repr(week)))
    try:
        monday = date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
    except ValueError:
        raise ValidationFailed(Msg("There is no week %(week)s.", context=CONTEXT, week=week)) from None
    start = datetime(monday.year, monday.month, monday.day, tzinfo=clock.local_zone())
    return start.astimezone(timezone.utc), (start + timedelta(days=7)).astimezone(timezone.utc)


def month_of(at: datetime) -> str:
    """The local month "YYYY-MM" an instant falls in."""
    return clock.to_local(at).strftime("%Y-%m")


def last_month() -> str:
    """The month before this one, the download page's default."""
    first = clock.local_today().replace(day=1)
    return (first - timedelta(days=1)).strftime("%Y-%m")


def default_month(session) -> str:
    """The report's and the month picker's default: last month, or this month when last month has no data
    (a fleet taken over this month)."""
    from fleetops.services.reports import queries

    previous = last_month()
    if queries.has_figures(session, *month_bounds(previous)):
        return previous
    return clock.local_now().strftime("%Y-%m")


def last_week() -> str:
    """Last week "YYYY-Www", the download page's default."""
    y, w, _d = (clock.local_today() - timedelta(days=7)).isocalendar()
    return f"{y}-W{w:02d}"
