"""The numbers behind the reports (A2, T2/T3, T9, F5, Q1, U4), as plain values: no wording here."""
import statistics
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from fleetops.platform import clock, parameters
from fleetops.services.reports import queries

from fleetops.services import monitoring as uptime


def pct(v: float | None) -> float | None:
    return None if v is None else round(v, 2)


def hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 3600, 2)


def sla_figures(session: Session, start: datetime, end: datetime, tickets=None, now: datetime | None = None) -> dict:
    """T2/T3: on-time arrival and repair shares and mean time to repair, for tickets opened in [start, end).

    A deadline counts once it is decided: met, or passed (by the end of the period, or by `now` for a period
    still running) — done late or not done. Deadlines still ahead are counted apart (`*_pending`)."""
    if tickets is None:
        tickets = queries.tickets_opened(session, start, end)
    upto = min(end, now) if now is not None else end

    def share(pairs):
        decided = [(due, done) for due, done in pairs if due is not None and (
            (done is not None and (done <= due or due < upto)) or due < upto)]
        on_time = [1 for due, done in decided if done is not None and done <= due]
        pending = sum(1 for due, _done in pairs if due is not None) - len(decided)
        return len(on_time), len(decided), pending

    arr_ok, arr_n, arr_wait = share([(t.arrive_by, t.arrived_at) for t in tickets])
    rep_ok, rep_n, rep_wait = share([(t.repair_by, t.resolved_at) for t in tickets])
    repairs = [(t.resolved_at - (t.detected_at or t.opened_at)).total_seconds() for t in tickets
               if t.resolved_at is not None]
    return {"tickets": len(tickets), "arrival_on_time": arr_ok, "arrival_decided": arr_n,
            "arrival_pct": pct(100 * arr_ok / arr_n) if arr_n else None,
            "arrival_pending": arr_wait, "repair_pending": rep_wait,
            "repair_on_time": rep_ok, "repair_decided": rep_n,
            "repair_pct": pct(100 * rep_ok / rep_n) if rep_n else None,
            "mttr_h": hours(statistics.mean(repairs)) if repairs else None, "resolved": len(repairs)}


def penalty(session: Session, start: datetime, end: datetime, fleet_contractual: float | None,
            now: datetime | None = None) -> dict:
    """T9: days late priced per the contract; a month below the uptime target counts as one not-to-spec case.
    A period still running is priced up to `now`, never past it."""
    from fleetops.services import tickets

    below = fleet_contractual is not None and fleet_contractual < uptime.target_pct(session)
    return tickets.penalty_estimate(session, since=start, until=end, not_to_spec_cases=1 if below else 0,
                                   now=min(end, now) if now is not None else end)


def certificate_warn_days(session: Session) -> int:
    return int(parameters.get(session, "alerts.certificate_warn_days") or 30)


def metrology(session: Session, today: date) -> list[dict]:
    """F5: each in-service device's newest certificate and its state on `today`:
    "failed", "expired", "due" (within the warning days) or "valid"; soonest expiry first."""
    warn = certificate_warn_days(session)
    out, seen = [], set()
    for device, cert in queries.newest_certificates(session):
        if device.id in seen:
            continue
        seen.add(device.id)
        if cert.result == "fail":
            state = "failed"
        elif cert.valid_until < today:
            state = "expired"
        elif cert.valid_until <= today + timedelta(days=warn):
            state = "due"
        else:
            state = "valid"
        out.append({"code": device.code, "name": device.name, "kind": device.kind,
                    "certificate_no": cert.certificate_no, "valid_until": cert.valid_until, "state": state,
                    "warn_days": warn})
    return out


def stock(session: Session) -> list[dict]:
    """S1: every part type's stock on hand against its minimum."""
    return [{"code": code, "name": name, "on_hand": int(n), "minimum": minimum, "below": int(n) < minimum}
            for code, name, minimum, n in queries.stock_on_hand(session)]


def plate_accuracy(session: Session, month: str) -> list[dict]:
    """Q1: the quality area's audited plate accuracy per camera and period for a month."""
    from fleetops.services import quality

    return quality.accuracy_table(session, month)


def daily_online_rate(session: Session, start: datetime, end: datetime) -> list[tuple[str, float, int]]:
    """U4: (local date, mean sampled online rate %, samples) per day; contract devices when the sample has them."""
    tz = clock.local_zone()
    per_day: dict[str, list[float]] = {}
    for s in queries.online_rate_samples(session, start, end):
        total, online = (s.contract_in_service, s.contract_online) if s.contract_in_service else (s.in_service,
                                                                                                   s.online)
        if total:
            per_day.setdefault(s.at.astimezone(tz).date().isoformat(), []).append(100 * online / total)
    return [(d, round(statistics.mean(v), 2), len(v)) for d, v in sorted(per_day.items())]


def outage_seconds(o, upto: datetime) -> float:
    """An outage's length up to `upto` (the period's end, or now for a period still running): an open one counts
    until then, never past it."""
    return max(0.0, (min(o.ended_at or upto, upto) - o.started_at).total_seconds())


def uptime_rows(session: Session, start: datetime, end: datetime, by: str, locale: str = "zh"):
    """Monitoring's SQL uptime, grouped `by` device, site, kind, district or fleet, in the local zone."""
    return uptime.uptime_rows(session, start, end, by=by, local_tz=clock.zone_name(), locale=locale)
