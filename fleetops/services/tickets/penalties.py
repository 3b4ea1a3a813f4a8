"""T9/P4: the penalty estimate as the contracts say — days late as the union of late periods (site local calendar
days), not to spec derived from the data, the party's share, the termination threshold and its alert, the
service-period extension. Every figure lists the tickets behind it."""
from __future__ import annotations

import logging
import math
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from fleetops.domain import sla
from fleetops.domain.text import N_
from fleetops.domain.tickets import NOT_COUNTED_CATEGORIES
from fleetops.domain.uptime import EXCLUDED_CAUSES
from fleetops.models.base import utcnow
from fleetops.models.monitoring import Outage
from fleetops.models.quality import QualityFinding
from fleetops.models.tickets import PenaltyThresholdMark, SlaPolicyRow, Ticket, TicketEvent
from fleetops.platform import events, parameters
from fleetops.services.tickets.deadlines import site_zone
from fleetops.services.tickets.policies import parse_policy, policy_row

log = logging.getLogger(__name__)

# Why a case is "not to spec" (derived from the data, never typed in by hand).
NOT_TO_SPEC_KINDS = {
    "verification_failed": N_("Repair failed verification (ticket reopened)"),
    "replacement_overdue": N_("Replacement ordered but not done in time"),
    "quality_not_cleared": N_("Image-quality finding not cleared in time"),
    "uptime_below_target": N_("Contractual online rate below the target"),
}
OBLIGATIONS = ("respond", "arrive", "repair", "swap")


def _money(value) -> Decimal | None:
    """A contract amount from the parameters; None when it is not set (0, empty or not a number)."""
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return None
    return d if d.is_finite() and d > 0 else None


def late_periods(t: Ticket, now: datetime) -> list[tuple[str, datetime, datetime]]:
    """(obligation, due, end) for each deadline of the ticket passed before it was met; a cancelled ticket's clocks
    stop at its cancellation, a running one's at `now`."""
    stop = t.cancelled_at or now
    done = {"respond": t.departed_at or t.arrived_at, "arrive": t.arrived_at,
            "repair": t.swap_started_at or t.resolved_at, "swap": t.resolved_at}
    due = {"respond": t.respond_by, "arrive": t.arrive_by, "repair": t.repair_by, "swap": t.swap_by}
    out = []
    for which in OBLIGATIONS:
        d = due[which]
        if d is None:
            continue
        end = min(done[which] or stop, stop)
        if end > d:
            out.append((which, d, end))
    return out


def _excluded_tickets(session: Session, ts: list[Ticket]) -> set[int]:
    """Tickets whose outage (or every outage of whose incident) an approved exclusion took out of the contract."""
    by_outage = {t.outage_id: t.id for t in ts if t.outage_id}
    by_incident = {t.incident_id: t.id for t in ts if t.incident_id}
    out: set[int] = set()
    if by_outage:
        for oid, cause in session.execute(select(Outage.id, Outage.cause).where(Outage.id.in_(list(by_outage)))):
            if cause in EXCLUDED_CAUSES:
                out.add(by_outage[oid])
    if by_incident:
        causes: dict[int, set] = {}
        for iid, cause in session.execute(select(Outage.site_incident_id, Outage.cause).where(
                Outage.site_incident_id.in_(list(by_incident)), Outage.retracted_at.is_(None))):
            causes.setdefault(iid, set()).add(cause)
        for iid, cs in causes.items():
            if cs and cs <= EXCLUDED_CAUSES:
                out.add(by_incident[iid])
    return out


def _tickets(session: Session, row: SlaPolicyRow, since, until) -> list[Ticket]:
    """Tickets under this policy whose clocks may have run late inside [since, until)."""
    q = select(Ticket).options(selectinload(Ticket.site), selectinload(Ticket.device))
    default = row.is_default
    q = q.where(or_(Ticket.policy_id == row.id, Ticket.policy_id.is_(None)) if default else Ticket.policy_id == row.id)
    q = q.where(Ticket.category.not_in(NOT_COUNTED_CATEGORIES))  # P3: inspection orders are not faults
    if until is not None:
        q = q.where(Ticket.opened_at < until)
    if since is not None:
        ended = func.coalesce(Ticket.resolved_at, Ticket.cancelled_at)
        q = q.where(or_(ended.is_(None), ended >= since))
    return list(session.scalars(q.order_by(Ticket.id)))


def _in(at: datetime | None, since, until) -> bool:
    return at is not None and (since is None or at >= since) and (until is None or at < until)


def derived_not_to_spec(session: Session, ts: list[Ticket], now: datetime, since=None, until=None) -> list[dict]:
    """Service not to spec, derived: repairs that failed verification (reopened), replacements ordered (T4) but not
    done by their deadline, image-quality findings not cleared by their ticket's repair deadline. One row per case,
    with its ticket."""
    by_id = {t.id: t for t in ts}
    cases = []
    if by_id:
        for ev in session.scalars(select(TicketEvent).where(TicketEvent.ticket_id.in_(list(by_id)),
                                                            TicketEvent.action == "reopen")):
            cases.append({"kind": "verification_failed", "at": ev.at, "ticket_ids": [ev.ticket_id]})
    for t in ts:
        if not t.requires_replacement:
            continue
        due = t.swap_by or t.repair_by
        if due is None:
            continue
        replaced_in_time = t.resolution == "device_replaced" and t.resolved_at is not None and t.resolved_at <= due
        if not replaced_in_time and (t.resolved_at or t.cancelled_at or now) > due:
            cases.append({"kind": "replacement_overdue", "at": due, "ticket_ids": [t.id]})
    if by_id:
        for f in session.scalars(select(QualityFinding).where(QualityFinding.ticket_id.in_(list(by_id)))):
            t = by_id[f.ticket_id]
            due = t.swap_by or t.repair_by
            if due is not None and (f.cleared_at or now) > due:
                cases.append({"kind": "quality_not_cleared", "at": due, "ticket_ids": [t.id]})
    cases = [c for c in cases if _in(c["at"], since, until)]
    return sorted(cases, key=lambda c: c["at"])


def _charged_units(cases: list[dict], rules: sla.PenaltyRules, tz: ZoneInfo) -> int:
    if rules.not_to_spec_pct is None:
        return 0
    if rules.not_to_spec_rule == "per_case":
        return len(cases)
    return len({(c["at"].astimezone(tz).year, c["at"].astimezone(tz).month) for c in cases})


def penalty_estimate(session: Session, *, since: datetime | None = None, until: datetime | None = None,
                     not_to_spec_cases: int = 0, now: datetime | None = None, policy_key: str | None = None,
                     cumulative: bool = True) -> dict:
    """T9: the estimate for [since, until) under one SLA policy (the default one without a key).

    `not_to_spec_cases` adds cases found elsewhere (the reports count a month whose contractual online rate is
    below target as one). Amounts are None, and `missing` says which, until the contract total is set."""
    now = now or utcnow()
    end = min(until, now) if until is not None else now
    row = policy_row(session, policy_key)
    policy = parse_policy(row.rules)
    rules = policy.penalty_rules() if policy.penalty else _legacy_rules(session)
    ts = _tickets(session, row, since, end)
    excluded = _excluded_tickets(session, ts)
    zones = {t.id: site_zone(t.site) for t in ts}
    periods, rows = [], []
    for t in ts:
        lp = late_periods(t, now)
        if not lp:
            continue
        clipped = [(w, max(d, since) if since else d, min(e, end)) for w, d, e in lp]
        clipped = [(w, d, e) for w, d, e in clipped if e > d]
        if not clipped:
            continue
        is_excluded = t.id in excluded
        if not is_excluded:
            periods += [(d, e, t.id) for _w, d, e in clipped]
        rows.append({"ticket_id": t.id, "device": t.device.code if t.device else "", "site": t.site.name,
                     "excluded": is_excluded,
                     "late": [{"which": w, "due_at": d, "until": e, "still_running": e >= now}
                              for w, d, e in clipped],
                     "days": sorted(sla.late_days([(d, e, t.id) for _w, d, e in clipped], zones.get)),
                     "interruption": (t.detected_at or t.opened_at, min(t.resolved_at or t.cancelled_at or now, end))})
    if rules.day_rule == "per_obligation":
        days = sla.per_obligation_days(periods)
        day_list: list[date] = []
    else:
        day_set = sla.late_days(periods, zones.get)
        days, day_list = len(day_set), sorted(day_set)
    cases = derived_not_to_spec(session, ts, now, since, end)
    for _i in range(int(not_to_spec_cases or 0)):
        cases.append({"kind": "uptime_below_target", "at": since or end, "ticket_ids": []})
    zone = ZoneInfo(site_zone(None))
    units = _charged_units(cases, rules, zone)
    total = _money(parameters.get(session, "contract_total_yuan"))
    share = _money(parameters.get(session, "party_share_yuan"))
    missing = []
    if total is None:
        missing.append("contract_total_yuan")
    if rules.late_basis == "party_share" and share is None:
        missing.append("party_share_yuan")
    basis = share if rules.late_basis == "party_share" else total
    out = {"policy": row.key, "policy_name": policy.name, "rules": rules.to_dict(),
           "day_rule_text": sla.DAY_RULES[rules.day_rule],
           "not_to_spec_rule_text": sla.NOT_TO_SPEC_RULES[rules.not_to_spec_rule],
           "late_basis_text": sla.LATE_BASES[rules.late_basis],
           "since": since, "until": end, "complete": until is not None and until <= now,
           "days_late": days, "late_days": day_list, "tickets": rows,
           "not_to_spec": cases, "not_to_spec_charged": units, "not_to_spec_cases": units,
           "missing": missing, "contract_total": str(total) if total is not None else None,
           "party_share": str(share) if share is not None else None,
           "late_amount": None, "not_to_spec_amount": None, "total": None}
    if not missing:
        est = sla.estimate_penalty(total, days, units, rules.late_daily_pct, rules.not_to_spec_pct or 0,
                                   late_basis=basis)
        out.update(late_amount=str(est.late_amount), not_to_spec_amount=str(est.not_to_spec_amount),
                   total=str(est.total))
    # T9: the contractor's interruptions behind the breaches extend the service period (overlaps counted once).
    ext_s = sla.union_seconds([r["interruption"] for r in rows if not r["excluded"]])
    out["extension"] = {"applies": rules.extends_service_period, "seconds": ext_s,
                        "hours": round(ext_s / 3600, 2), "days": math.ceil(ext_s / 86400) if ext_s else 0}
    if cumulative:
        out["threshold"] = threshold_status(session, row.key, rules, total, now)
    return out


def penalty_json(value):
    """The estimate with its times as ISO 8601 text, for the API and `--json` output."""
    if isinstance(value, dict):
        return {k: penalty_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [penalty_json(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def _legacy_rules(session: Session) -> sla.PenaltyRules:
    """A policy stored before penalties were policy data: the contract parameters' rates, union-of-days rule."""
    return sla.PenaltyRules(late_daily_pct=Decimal(str(parameters.get(session, "penalty_daily_pct"))),
                            not_to_spec_pct=Decimal(str(parameters.get(session, "penalty_not_to_spec_pct"))))


def _contract_start(session: Session) -> datetime | None:
    raw = str(parameters.get(session, "contract_start_date") or "").strip()
    try:
        d = date.fromisoformat(raw) if raw else None
    except ValueError:
        return None
    if d is None:
        return None
    return datetime(d.year, d.month, d.day, tzinfo=ZoneInfo(site_zone(None))).astimezone(timezone.utc)


def threshold_status(session: Session, policy_key: str, rules: sla.PenaltyRules, total: Decimal | None,
                     now: datetime) -> dict:
    """P4: cumulative penalties since the contract started, against the termination threshold."""
    if rules.terminate_above_pct is None:
        return {"applies": False}
    if total is None:
        return {"applies": True, "level": "", "cumulative": None, "threshold": None, "share_pct": None}
    est = penalty_estimate(session, since=_contract_start(session), until=None, now=now, policy_key=policy_key,
                           cumulative=False)
    cum = Decimal(est["total"]) if est["total"] is not None else None
    if cum is None:
        return {"applies": True, "level": "", "cumulative": None, "threshold": None, "share_pct": None}
    level, threshold = sla.threshold_level(cum, total, rules)
    return {"applies": True, "level": level, "cumulative": str(cum), "threshold": str(threshold),
            "share_pct": float(round(cum / total * 100, 2))}


def check_penalty_threshold(session: Session, now: datetime | None = None) -> list[tuple[str, str]]:
    """P4: for each policy with a termination threshold, emit penalty_threshold_approaching / _crossed once."""
    now = now or utcnow()
    emitted = []
    for row in session.scalars(select(SlaPolicyRow).order_by(SlaPolicyRow.id)):
        policy = parse_policy(row.rules)
        if not policy.penalty:
            continue
        rules = policy.penalty_rules()
        total = _money(parameters.get(session, "contract_total_yuan"))
        if rules.terminate_above_pct is None or total is None:
            continue
        st = threshold_status(session, row.key, rules, total, now)
        level = st.get("level")
        if not level:
            continue
        levels = ["approaching", "crossed"] if level == "crossed" else ["approaching"]
        for lv in levels:
            if session.scalar(select(PenaltyThresholdMark.id).where(PenaltyThresholdMark.policy_key == row.key,
                                                                    PenaltyThresholdMark.level == lv)):
                continue
            try:
                with session.begin_nested():
                    session.add(PenaltyThresholdMark(policy_key=row.key, level=lv, at=now,
                                                     cumulative_yuan=st["cumulative"], threshold_yuan=st["threshold"]))
            except IntegrityError:  # another scheduler run marked it at the same moment
                continue
            if lv == "approaching" and level == "crossed":
                continue  # crossed in one step: one alert, the serious one
            events.emit(session, f"penalty_threshold_{lv}", policy_key=row.key, cumulative=st["cumulative"],
                        threshold=st["threshold"], contract_total=str(total), share_pct=st["share_pct"])
            emitted.append((row.key, lv))
    return emitted


def job_penalty_threshold(ctx) -> None:
    """Scheduled hourly (fleetops.wiring.JOBS)."""
    with ctx.session(write=True) as s:
        emitted = check_penalty_threshold(s)
    log.info("job=penalty_threshold alerts=%d", len(emitted))
