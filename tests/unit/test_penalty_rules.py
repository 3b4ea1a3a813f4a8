"""T9/P4 as pure rules: days late are the union of late periods by site-local calendar day, the rules are policy
data (validated), and the termination threshold warns before it is crossed."""
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from fleetops.domain import sla

BJ = ZoneInfo("Asia/Shanghai")


def bj(*a):
    return datetime(*a, tzinfo=BJ)


def zone_of(_key):
    return "Asia/Shanghai"


def test_parallel_delays_on_the_same_days_count_once():
    # 30 tickets all late over the same three local days: three days, not ninety
    periods = [(bj(2026, 3, 1, 10), bj(2026, 3, 3, 9), n) for n in range(30)]
    assert sorted(d.isoformat() for d in sla.late_days(periods, zone_of)) == ["2026-03-01", "2026-03-02", "2026-03-03"]
    assert sla.per_obligation_days(periods) == 60  # the old sum: each 47 h delay counted as 2 days, 30 times
    # a delay crossing local midnight touches two calendar days even when it lasts one hour
    assert len(sla.late_days([(bj(2026, 3, 1, 23, 30), bj(2026, 3, 2, 0, 30), 1)], zone_of)) == 2
    # ending exactly at midnight does not touch the next day
    assert len(sla.late_days([(bj(2026, 3, 1, 22), bj(2026, 3, 2, 0, 0), 1)], zone_of)) == 1


def test_days_are_clipped_to_the_period_and_counted_in_the_sites_zone():
    start, end = bj(2026, 3, 1), bj(2026, 4, 1)
    whole_month_and_more = [(bj(2026, 2, 20), bj(2026, 4, 10), 1)]
    assert len(sla.late_days(whole_month_and_more, zone_of, start, end)) == 31  # never more days than the month
    utc_midnight = datetime(2026, 3, 1, 17, 0, tzinfo=ZoneInfo("UTC"))  # 01:00 on 03-02 in Beijing
    days = sla.late_days([(utc_midnight, utc_midnight + timedelta(minutes=10), 1)], zone_of)
    assert [d.isoformat() for d in days] == ["2026-03-02"]


def test_both_contracts_are_policy_data_with_their_own_basis():
    first = sla.SlaPolicy.from_dict(sla.CHECKPOINT_OM).penalty_rules()
    second = sla.SlaPolicy.from_dict(sla.SERVICE_DESK_TIERS).penalty_rules()
    assert (first.late_basis, first.late_daily_pct, first.not_to_spec_pct, first.terminate_above_pct) == \
        ("contract_total", Decimal("0.5"), Decimal("5"), None)
    assert (second.late_basis, second.late_daily_pct, second.terminate_above_pct, second.extends_service_period) == \
        ("party_share", Decimal("0.5"), Decimal("10"), True)
    est = sla.estimate_penalty(Decimal("1000000"), 3, 0, second.late_daily_pct, 0, late_basis=Decimal("400000"))
    assert est.late_amount == Decimal("6000.00")  # 3 × 0.5 % of the ¥400 000 share, not of the total


@pytest.mark.parametrize("penalty, word", [
    ({"late_daily_pct": -1}, "late_daily_pct"), ({"late_daily_pct": "lots"}, "late_daily_pct"),
    ({"day_rule": "per_ticket"}, "day_rule"), ({"late_basis": "whatever"}, "late_basis"), ({"fine": 1}, "fine"),
    ("5%", "JSON"),
])
def test_bad_penalty_rules_are_refused_with_the_field_named(penalty, word):
    with pytest.raises(sla.PolicyError) as err:
        sla.SlaPolicy.from_dict({"name": "x", "penalty": penalty})
    assert word in str(err.value)


def test_threshold_warns_from_eighty_percent_and_is_crossed_above_ten_percent():
    rules = sla.PenaltyRules(terminate_above_pct=Decimal("10"), warn_at_share_pct=Decimal("80"))
    total = Decimal("1000000")
    assert sla.threshold_level(Decimal("79999.99"), total, rules) == ("", Decimal("100000.00"))
    assert sla.threshold_level(Decimal("80000"), total, rules)[0] == "approaching"
    assert sla.threshold_level(Decimal("100000"), total, rules)[0] == "approaching"  # "above" 10 %, not at it
    assert sla.threshold_level(Decimal("100000.01"), total, rules)[0] == "crossed"
    assert sla.threshold_level(Decimal("5"), Decimal("0"), rules) == ("", None)  # no total: no verdict


def test_union_seconds_counts_overlaps_once():
    a = bj(2026, 3, 1, 10)
    assert sla.union_seconds([(a, a + timedelta(hours=2)), (a + timedelta(hours=1), a + timedelta(hours=3)),
                              (a + timedelta(hours=5), a + timedelta(hours=6))]) == 4 * 3600
