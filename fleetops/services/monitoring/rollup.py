"""Rolling closed local days up into uptime_days (issue 14; models/rollup.py), so reports over closed days read
two rows of running sums per device instead of every status interval.

A day is closed once the local day (the one TIMEZONE setting) has ended. Each device's rows are consecutive days;
the database triggers delete the days a late change touches, and the next run rolls them up again from where the
device's rows stop. The seconds come from the same SQL as the reports (uptime.day_seconds_statement), so the
rollup plus the live computation for the rest of a period equals the live computation over all of it.
"""
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.orm import Session

from fleetops.models import Device
from fleetops.models.monitoring import StatusInterval
from fleetops.models.rollup import UptimeDay
from fleetops.platform import clock

log = logging.getLogger(__name__)


@dataclass
class RollupRun:
    days: int = 0
    rows: int = 0


def _midnight(d: date, zone: ZoneInfo) -> int:
    return int(datetime(d.year, d.month, d.day, tzinfo=zone).timestamp())


def _lock(session: Session) -> None:
    """No interval, outage or service period may change between reading a day and storing it: on PostgreSQL the
    three tables are locked against writers (SHARE waits for the open writes to commit, whose triggers then have
    run); SQLite has one writer at a time, taken here before anything is read."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE status_intervals, outages, service_periods IN SHARE MODE"))
    else:
        session.execute(text("DELETE FROM uptime_days WHERE day_end_s < 0"))


def _other_zones_days(session: Session, zone: ZoneInfo) -> bool:
    """Were the rows made for another time zone? Each row's day ends at the local midnight it was rolled in; the
    oldest and the newest row are checked (a run rolls every device's days in one zone)."""
    for order in (UptimeDay.day_end_s.asc(), UptimeDay.day_end_s.desc()):
        row = session.execute(select(UptimeDay.day, UptimeDay.day_end_s).order_by(order).limit(1)).first()
        if row is not None and _midnight(row.day + timedelta(days=1), zone) != row.day_end_s:
            return True
    return False


def roll_up(session: Session, now: datetime | None = None, zone: ZoneInfo | None = None,
            max_days: int | None = None) -> RollupRun:
    """Roll up every closed day not rolled up yet, oldest first, one transaction (commit) per day; at most
    `max_days` days. Returns how many days and rows were written.

    After TIMEZONE changed, the rows (days of the old zone, which no report period lines up with: reports fell back
    to the live computation, still exact) are deleted first and the days rolled up again in the new zone."""
    from fleetops.services.monitoring.uptime import day_seconds_statement

    zone = zone or clock.local_zone()
    now = now or clock.utcnow()
    today = now.astimezone(zone).date()
    run = RollupRun()
    if _other_zones_days(session, zone):
        _lock(session)
        gone = session.execute(delete(UptimeDay)).rowcount
        session.commit()
        log.warning("uptime rollup: the time zone is now %s; %d rows of another zone's days deleted, rolled up "
                    "again from the oldest day", zone.key, gone)
    stmt = day_seconds_statement()
    while max_days is None or run.days < max_days:
        _lock(session)
        first = session.scalar(select(func.min(StatusInterval.start_s)))
        if first is None:
            break
        origin = datetime.fromtimestamp(first, zone).date()
        last = (select(UptimeDay.device_id, func.max(UptimeDay.day_end_s).label("e"))
                .group_by(UptimeDay.device_id).subquery("last"))
        newest = (select(UptimeDay.device_id, UptimeDay.day_end_s, UptimeDay.from_s, UptimeDay.cum_up_s,
                         UptimeDay.cum_down_s, UptimeDay.cum_excluded_s)
                  .join(last, (last.c.device_id == UptimeDay.device_id) & (last.c.e == UptimeDay.day_end_s)))
        ends = {r.device_id: r for r in session.execute(newest)}
        devices = session.scalars(select(Device.id)).all()
        origin_s = _midnight(origin, zone)
        nxt = {d: (ends[d].day_end_s if d in ends else origin_s) for d in devices}
        if not nxt:
            break
        day_start_s = min(nxt.values())
        day = datetime.fromtimestamp(day_start_s, zone).date()
        if day >= today:
            session.rollback()
            break
        day_end_s = _midnight(day + timedelta(days=1), zone)
        secs = {r.gid: r for r in session.execute(stmt, {"from_s": day_start_s, "to_s": day_end_s})}
        rows = []
        for d, start in nxt.items():
            if start != day_start_s:
                continue
            prev = ends.get(d)
            s = secs.get(d)
            up, down, exc = (int(s.up_s or 0), int(s.down_s or 0), int(s.excluded_s or 0)) if s else (0, 0, 0)
            rows.append({"device_id": d, "day_end_s": day_end_s, "day_start_s": day_start_s, "day": day,
                         "from_s": prev.from_s if prev else day_start_s, "up_s": up, "down_s": down,
                         "excluded_s": exc, "cum_up_s": up + (prev.cum_up_s if prev else 0),
                         "cum_down_s": down + (prev.cum_down_s if prev else 0),
                         "cum_excluded_s": exc + (prev.cum_excluded_s if prev else 0)})
        for i in range(0, len(rows), 5000):
            session.execute(insert(UptimeDay), rows[i:i + 5000])
        session.commit()
        run.days += 1
        run.rows += len(rows)
    return run
