"""Proof in the monthly report (P3): inspection completion per district and per plan, for the orders of the periods
that begin in the month. `_` is the report's Words (msgctxt "report"); the sections go into the PDF and XLSX like
every other section."""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy.orm import Session

from fleetops.domain.inspections import Period
from fleetops.domain.text import Msg
from fleetops.services.inspections.queries import month_orders


def completion(orders, now: datetime) -> dict:
    """Orders, done, done on time (by the end of their period), not OK, still open within the period, overdue, and
    the completion rate (done ÷ orders whose period has ended or which are done; None when there are none)."""
    done = [o for o in orders if o.state == "done"]
    on_time = [o for o in done if o.done_at is not None and o.done_at <= o.due_at]
    open_ = [o for o in orders if o.state == "open"]
    overdue = [o for o in open_ if o.due_at <= now]
    assessed = len(done) + len(overdue)
    return {"orders": len(orders), "done": len(done), "on_time": len(on_time),
            "not_ok": sum(o.result == "not_ok" for o in done), "pending": len(open_) - len(overdue),
            "overdue": len(overdue), "rate": round(100 * len(done) / assessed, 2) if assessed else None}


def figures(session: Session, start: datetime, end: datetime, now: datetime) -> dict:
    """{"districts": {district: completion}, "plans": {plan: (plan, completion)}} for the month [start, end)."""
    orders = month_orders(session, start, end)
    by_district, by_plan, plans = defaultdict(list), defaultdict(list), {}
    for o in orders:
        by_district[o.district].append(o)
        by_plan[o.plan_id].append(o)
        plans[o.plan_id] = o.plan
    return {"districts": {d: completion(os, now) for d, os in sorted(by_district.items())},
            "plans": {pid: (plans[pid], completion(os, now)) for pid, os in sorted(by_plan.items())},
            "all": completion(orders, now)}


def sections(_, session: Session, start: datetime, end: datetime, now: datetime, section_cls) -> list:
    """The two report sections: completion by district, completion by plan."""
    f = figures(session, start, end, now)
    headers = [_("Orders"), _("Done"), _("Done on time"), _("Items not OK"), _("Still within the period"),
               _("Overdue"), _("Completion rate (%)")]

    def cells(c):
        return [c["orders"], c["done"], c["on_time"], c["not_ok"], c["pending"], c["overdue"], c["rate"]]

    by_district = section_cls("inspections_district", _("Inspection completion by district"),
                              [_("District")] + headers)
    for district, c in f["districts"].items():
        by_district.rows.append([district or _("(no district)")] + cells(c))
    by_district.note = _("Orders of the inspection periods that begin in the month; the rate counts orders done "
                         "against those done or overdue.")
    by_district.chart = {"kind": "bar", "labels": [r[0] for r in by_district.rows],
                         "values": [r[-1] or 0 for r in by_district.rows], "target": None,
                         "title": _("Inspection completion by district (%)")} if by_district.rows else None
    by_plan = section_cls("inspections_plan", _("Inspection completion by plan"),
                          [_("Inspection plan"), _("Inspection period")] + headers)
    for plan, c in f["plans"].values():
        period = Period.label_of(plan.period, _.locale) + (_(", by night") if plan.at_night else "")
        by_plan.rows.append([Msg(plan.name).render(_.locale), period] + cells(c))
    return [by_district, by_plan]
