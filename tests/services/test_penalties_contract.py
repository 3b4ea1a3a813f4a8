"""T9/P4 on real tickets: parallel delays count once per calendar day, the contract total is required, each
contract charges on its own basis, not-to-spec comes from the data, the 10 % threshold alerts supervisor and admin
once, the contractor's interruptions extend the service period, and both T3 clocks breach separately."""
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from fleetops.models.alerts import Alert
from fleetops.models.monitoring import Outage
from fleetops.platform import parameters
from fleetops.services import tickets
from tests.tickets_fixtures import bj, make_fleet, qualify, walk_to_repairing


@pytest.fixture
def fleet(db, users):
    f = make_fleet(db, users["crew"])
    qualify(db, users["crew"])
    db.commit()
    return f


def _late_ticket(db, device, at, policy_key=None, **kw):
    return tickets.open_ticket(db, device_id=device.id, category="offline", source="outage", opened_by="m",
                               detected_at=at, now=at, policy_key=policy_key, **kw)


def test_a_month_of_parallel_late_tickets_costs_at_most_the_days_of_the_month(db, fleet):
    parameters.set_value(db, "contract_total_yuan", 780000, "test")
    start, end = bj(2026, 3, 1), bj(2026, 4, 1)
    # every day two devices fail and nobody comes for three days: the old per-ticket sum was 62 × 3 days
    for day in range(31):
        for dev in (fleet["cam"], fleet["far_cam"]):
            _late_ticket(db, dev, start + timedelta(days=day, hours=9))
            t = tickets.list_tickets(db, open_only=True, limit=1)[0]
            tickets.cancel(db, t.id, actor="test", reason="测试", at=start + timedelta(days=day + 3, hours=9))
    db.commit()
    est = tickets.penalty_estimate(db, since=start, until=end, now=bj(2026, 4, 20))
    assert est["days_late"] == 31  # the union of late periods, clipped to the month
    assert Decimal(est["late_amount"]) == Decimal("120900.00")  # 31 × 0.5 % × 780 000, never 4.6 × the total
    assert Decimal(est["total"]) < Decimal(780000)
    assert len(est["tickets"]) == 62 and all(r["days"] for r in est["tickets"])  # each traceable


def test_without_a_contract_total_there_is_no_amount_and_the_page_says_why(db, fleet):
    _late_ticket(db, fleet["cam"], bj(2026, 3, 2, 9))
    db.commit()
    est = tickets.penalty_estimate(db, now=bj(2026, 3, 3, 9))
    assert est["missing"] == ["contract_total_yuan"] and est["total"] is None and est["days_late"] == 2


def test_second_contract_charges_the_partys_share_and_alerts_at_the_threshold_once(db, fleet, users):
    parameters.set_value(db, "contract_total_yuan", 1000000, "test")
    at = bj(2026, 3, 2, 9)
    _late_ticket(db, fleet["cam"], at, policy_key="service_desk")
    db.commit()
    est = tickets.penalty_estimate(db, policy_key="service_desk", now=at + timedelta(days=1))
    assert est["missing"] == ["party_share_yuan"] and est["late_amount"] is None
    parameters.set_value(db, "party_share_yuan", 400000, "test")
    db.commit()
    # late from 10:00 on 03-02 (respond within 1 h); 40 days later: 41 calendar days × 0.5 % × 400 000 = 82 000
    est = tickets.penalty_estimate(db, policy_key="service_desk", now=at + timedelta(days=40))
    assert est["days_late"] == 41 and Decimal(est["late_amount"]) == Decimal("82000.00")
    assert est["threshold"]["level"] == "approaching"  # ≥ 80 % of the ¥100 000 threshold
    assert est["extension"]["applies"] and est["extension"]["hours"] == 40 * 24  # the interruption, once
    assert tickets.check_penalty_threshold(db, now=at + timedelta(days=40)) == [("service_desk", "approaching")]
    assert tickets.check_penalty_threshold(db, now=at + timedelta(days=41)) == []  # once
    assert tickets.check_penalty_threshold(db, now=at + timedelta(days=60)) == [("service_desk", "crossed")]
    db.commit()
    alerts = db.scalars(select(Alert).where(Alert.kind.like("penalty_threshold_%")).order_by(Alert.id)).all()
    assert [(a.kind, a.severity, sorted(a.audience)) for a in alerts] == [
        ("penalty_threshold_approaching", "warning", ["admin", "supervisor"]),
        ("penalty_threshold_crossed", "critical", ["admin", "supervisor"])]
    assert alerts[0].state == "resolved"  # superseded by the crossing


def test_not_to_spec_is_derived_from_the_tickets(db, fleet, users):
    parameters.set_value(db, "contract_total_yuan", 1000000, "test")
    at = bj(2026, 3, 2, 9)
    t = _late_ticket(db, fleet["cam"], at)
    walk_to_repairing(db, t, users["crew"], at + timedelta(hours=1))
    tickets.resolve(db, t.id, "repaired", actor=users["crew"], at=at + timedelta(hours=2))
    tickets.reopen(db, t.id, actor=users["supervisor"], reason="复检仍黑屏", at=at + timedelta(hours=3))
    t2 = _late_ticket(db, fleet["far_cam"], at)
    t2.requires_replacement, t2.replacement_reason = True, "两次维修后仍故障"
    db.commit()
    est = tickets.penalty_estimate(db, since=bj(2026, 3, 1), until=bj(2026, 4, 1), now=bj(2026, 3, 5))
    kinds = sorted((c["kind"], tuple(c["ticket_ids"])) for c in est["not_to_spec"])
    assert kinds == [("replacement_overdue", (t2.id,)), ("verification_failed", (t.id,))]
    assert est["not_to_spec_charged"] == 1  # once for the month (the policy's rule)
    assert Decimal(est["not_to_spec_amount"]) == Decimal("50000.00")


def test_an_approved_exclusion_takes_the_ticket_out_of_the_penalty(db, fleet):
    parameters.set_value(db, "contract_total_yuan", 1000000, "test")
    at = bj(2026, 3, 2, 9)
    o = Outage(device_id=fleet["cam"].id, started_at=at, detected_at=at, cause="power_utility",
               cause_reason="供电局通知停电")
    db.add(o)
    db.flush()
    _late_ticket(db, fleet["cam"], at, outage_id=o.id)
    db.commit()
    est = tickets.penalty_estimate(db, now=at + timedelta(days=1))
    assert est["days_late"] == 0 and [r["excluded"] for r in est["tickets"]] == [True]


def test_repair_and_spare_swap_clocks_run_and_breach_separately(db, fleet, users):
    at = bj(2026, 3, 2, 9)
    t = _late_ticket(db, fleet["cam"], at)
    walk_to_repairing(db, t, users["crew"], at + timedelta(hours=1))
    assert t.repair_by == at + timedelta(hours=5)
    tickets.cannot_repair_on_site(db, t.id, actor=users["crew"], at=at + timedelta(hours=3))
    assert t.swap_by == at + timedelta(hours=7) and t.swap_started_at == at + timedelta(hours=3)
    assert tickets.check_deadlines(db, now=at + timedelta(hours=6, minutes=40)) == {"approaching": 1, "breached": 0}
    assert tickets.check_deadlines(db, now=at + timedelta(hours=8)) == {"approaching": 0, "breached": 1}
    db.commit()
    assert [(b.which, b.kind) for b in t.breaches] == [("swap", "approaching"), ("swap", "breached")]
    tickets.resolve(db, t.id, "part_swapped", actor=users["crew"], at=at + timedelta(hours=9))
    est = tickets.penalty_estimate(db, now=at + timedelta(days=1))
    assert [l["which"] for r in est["tickets"] for l in r["late"]] == ["swap"]  # the repair clock was stopped in time


def test_a_late_decision_to_swap_breaches_the_repair_clock_too(db, fleet, users):
    at = bj(2026, 3, 2, 9)
    t = _late_ticket(db, fleet["cam"], at)
    walk_to_repairing(db, t, users["crew"], at + timedelta(hours=1))
    tickets.cannot_repair_on_site(db, t.id, actor=users["crew"], at=at + timedelta(hours=6))
    assert [(b.which, b.kind) for b in t.breaches] == [("repair", "breached")]
    with pytest.raises(Exception):
        tickets.cannot_repair_on_site(db, t.id, actor=users["crew"], at=at + timedelta(hours=7))
