"""U4 and A2 at a glance: the supervisors' dashboard figures, as plain values for the page and the API."""
from datetime import datetime, timedelta, timezone

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from fleetops.models.tickets import Ticket

from fleetops.models.base import utcnow
from fleetops.platform import clock
from fleetops.services.reports import figures, queries
from fleetops.services.reports.figures import pct
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


def deadline_bucket_counts(session: Session, now: datetime) -> dict[str, int]:
    """deadline_buckets counted by the database (one grouped query, no ticket loaded): open tickets by their next
    deadline — the arrival deadline until arrival, then the repair deadline."""
    due = case((Ticket.arrived_at.is_(None), Ticket.arrive_by), else_=Ticket.repair_by)
    bucket = case((due.is_(None), "no_deadline"), (due <= now, "overdue"),
                  (due <= now + timedelta(hours=1), "within_1h"), else_="later")
    counts = dict(session.execute(select(bucket, func.count(Ticket.id))
                                  .where(Ticket.state.in_(sorted(queries.OPEN_STATES))).group_by(bucket)).all())
    return {k: int(counts.get(k, 0)) for k in ("overdue", "within_1h", "later", "no_deadline")}


GAP_FACTOR = 2.5  # two samples further apart than this many sampling intervals have a gap between them


def _rate(num: int, den: int) -> float | None:
    return round(100.0 * num / den, 2) if den else None


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
    points = {key: [] for key in series}
    prev = None
    for at, online, in_service, contract_online, contract_in_service in samples:  # one pass for every series
        if prev is not None and at - prev > gap:
            hole = (prev + step).isoformat()
            for key in series:
                points[key].append([hole, None])
        iso = at.isoformat()
        for key in series:
            points[key].append([iso, _rate(contract_online, contract_in_service) if key == "contract"
                                else _rate(online, in_service)])
        prev = at
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
    by_deadline = deadline_bucket_counts(session, now)
    month_start = day_start.replace(day=1).astimezone(timezone.utc)
    down = [r._asdict() for r in queries.devices_down(session, 20)]
    target = uptime.target_pct(session)
    judged, correct = queries.plate_audit_totals(session, month_of(now))  # the sums of the accuracy table
    counts = queries.dashboard_counts(session, month_start)
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
        "open_incidents": len(uptime.open_incidents(session)),
    }
