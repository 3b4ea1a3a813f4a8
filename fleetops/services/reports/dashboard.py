"""U4 and A2 at a glance: the supervisors' dashboard figures, as plain values for the page and the API."""
from datetime import datetime, timedelta, timezone
from functools import cache

from sqlalchemy import bindparam, case, select
from sqlalchemy.orm import Session

from fleetops.models.monitoring import SiteIncident
from fleetops.models.quality import AuditSample
from fleetops.models.tickets import Ticket

from fleetops.models.base import utcnow
from fleetops.platform import clock
from fleetops.services.reports import figures, queries
from fleetops.services.reports.figures import pct
from fleetops.services.reports.queries import count_of
from fleetops.services.reports.periods import month_of

from fleetops.services import monitoring as uptime


def deadline_buckets(open_tickets, now: datetime) -> dict[str, int]:
    """Open tickets by their next deadline (arrival, then repair): overdue, within 1 h, later, none."""
    buckets = {"overdue": 0, "within_1h": 0, "later": 0, "no_deadline": 0}
    for t in open_tickets:
        due = t.arrive_by if t.arrived_at is None else t.repair_by
        if due is None:
            buckets["no_deadline"] += 1
        elif due <= now:
            buckets["overdue"] += 1
        elif due - now <= timedelta(hours=1):
            buckets["within_1h"] += 1
        else:
            buckets["later"] += 1
    return buckets


def dashboard_tallies(session: Session, now: datetime, month_start: datetime, month: str) -> dict[str, int]:
    """Every count the dashboard shows, in one statement (issue 14 part 4: they were four statements, and the open
    site incidents were loaded as objects only to be counted): queries.dashboard_counts' four tallies; open tickets
    by their next deadline (the arrival deadline until arrival, then the repair deadline) — overdue, within_1h, later,
    no_deadline, as deadline_buckets sorts them; the month's judged and correct plate audits (plate_audit_totals);
    the open site incidents (open_incidents)."""
    row = session.execute(_tallies(), {"now": now, "soon": now + timedelta(hours=1), "month_start": month_start,
                                       "month": month}).one()
    return {k: int(v or 0) for k, v in row._asdict().items()}


@cache
def _tallies():
    """dashboard_tallies' statement, built once with its times and month bound per call (eleven subqueries: building
    the statement and deriving its cache key cost more CPU than running it)."""
    now, soon = bindparam("now"), bindparam("soon")
    due = case((Ticket.arrived_at.is_(None), Ticket.arrive_by), else_=Ticket.repair_by)
    is_open = Ticket.state.in_(sorted(queries.OPEN_STATES))
    of_month = AuditSample.month == bindparam("month")
    return select(
        *queries.dashboard_count_columns(bindparam("month_start")),
        count_of(Ticket, is_open, due <= now).label("overdue"),
        count_of(Ticket, is_open, due > now, due <= soon).label("within_1h"),
        count_of(Ticket, is_open, due > soon).label("later"),
        count_of(Ticket, is_open, due.is_(None)).label("no_deadline"),
        count_of(AuditSample, of_month, AuditSample.outcome.in_(("correct", "wrong"))).label("judged"),
        count_of(AuditSample, of_month, AuditSample.outcome == "correct").label("correct"),
        count_of(SiteIncident, SiteIncident.ended_at.is_(None), SiteIncident.retracted_at.is_(None))
        .label("incidents"))


GAP_FACTOR = 2.5  # two samples further apart than this many sampling intervals have a gap between them


# A series' (online, in service) positions in queries.online_rate_counts' rows.
_COLUMNS = {"all": (1, 2), "contract": (3, 4)}


def online_rate_chart(session: Session, status: dict, now: datetime | None = None, sample_s: int = 300,
                      hours: int = 24, series: tuple[str, ...] = ("contract",), target: float | None = None) -> dict:
    """Issue 13: the online-rate chart's data, the same figures as the tiles beside it.

    `status` is the `fleet_status` dict the page's tiles show; the last point of each series IS that figure at
    `now` (so the tile and the line end on the same number). Points are [ISO time, pct or None]: a None marks
    a gap (no samples for longer than GAP_FACTOR sampling intervals) so the line breaks there instead of
    bridging it. `series`: "contract" (the contract devices, the contractual real-time figure) and/or "all".
    `target`: the target %, when the caller has read it already. The samples are read as plain rows (issue 14
    part 4: 288 ORM objects were a fifth of the page's time)."""
    now = now or utcnow()
    start = now - timedelta(hours=hours)
    samples = queries.online_rate_counts(session, start, now)
    gap = timedelta(seconds=GAP_FACTOR * sample_s)
    step = timedelta(seconds=sample_s)
    live = {"contract": status.get("contract_online_rate_pct"), "all": status.get("online_rate_pct")}
    stamps, rows = [], []  # the x of every point and its sample (None: a hole, where the line breaks)
    prev = None
    for row in samples:
        at = row[0]
        if prev is not None and at - prev > gap:
            stamps.append((prev + step).isoformat())
            rows.append(None)
        stamps.append(at.isoformat())
        rows.append(row)
        prev = at
    points = {}
    for key in series:  # % online to 2 places, None when nothing was in service; one list per series
        num, den = _COLUMNS[key]
        points[key] = [[x, None if r is None or not r[den] else round(100.0 * r[num] / r[den], 2)]
                       for x, r in zip(stamps, rows)]
    tail = [[(prev + step).isoformat(), None]] if prev is not None and now - prev > gap else []
    out = [{"key": key, "points": points[key] + tail + [[now.isoformat(), live[key]]], "last": live[key]}
           for key in series]
    target = uptime.target_pct(session) if target is None else target
    values = [v for s_ in out for _t, v in s_["points"] if v is not None] + [target]
    y_min = max(0.0, float(int(min(values) - 2)))
    return {"start": start.isoformat(), "end": now.isoformat(), "target": target, "y_min": y_min, "y_max": 100.0,
            "timezone": clock.zone_name(),
            "series": out}


def dashboard(session: Session, now: datetime | None = None, sample_s: int = 300) -> dict:
    """Online rate now and today, who is down, tickets by deadline, breaches, stock, quality findings, open alerts,
    and the last 24 h of the sampled online rate for the chart."""
    now = now or utcnow()
    status = uptime.fleet_status(session)
    day_start = clock.to_local(now).replace(hour=0, minute=0, second=0, microsecond=0)
    today_rows = figures.uptime_rows(session, day_start.astimezone(timezone.utc), now, "fleet") \
        if now > day_start else []
    month_start = day_start.replace(day=1).astimezone(timezone.utc)
    down = [r._asdict() for r in queries.devices_down(session, 20)]
    target = uptime.target_pct(session)
    counts = dashboard_tallies(session, now, month_start, month_of(now))
    by_deadline = {k: counts[k] for k in ("overdue", "within_1h", "later", "no_deadline")}
    judged, correct = counts["judged"], counts["correct"]  # the sums of the accuracy table
    return {
        "now": now, "status": status,
        "today_pct": pct(today_rows[0].contractual_pct) if today_rows else None,
        "today_raw_pct": pct(today_rows[0].raw_pct) if today_rows else None,
        "target_pct": target,
        "devices_down": sum(n for k, n in status["by_status"].items() if k in queries.DOWN_STATUSES),
        "down_list": down, "open_tickets": sum(by_deadline.values()),
        "tickets_by_deadline": by_deadline,
        "breaches_this_month": counts["breaches"],
        "stock_below_minimum": [s for s in figures.stock(session) if s["below"]],
        "open_findings": counts["findings"],
        "plate_accuracy_pct": pct(100 * correct / judged) if judged else None, "plate_judged": judged,
        "open_alerts": counts["alerts"], "pending_deliveries": counts["deliveries"],
        # Issue 13: the chart's data, ending on the tile's figure (contract devices, online now).
        "chart": online_rate_chart(session, status, now, sample_s, target=target),
        "open_incidents": counts["incidents"],
    }
