"""T2/T3/T5/T9/T4: day and night by the sun at the site, the 100 km boundary, service-desk tiers, penalties."""
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from fleetops.domain import sla
from fleetops.platform.i18n import use_locale

BJ = ZoneInfo("Asia/Shanghai")
LAT, LON = 45.6, 84.9  # far west of the Beijing-time meridian
OM = sla.SlaPolicy.from_dict(sla.CHECKPOINT_OM)
DESK = sla.SlaPolicy.from_dict(sla.SERVICE_DESK_TIERS)


def bj(*args):
    return datetime(*args, tzinfo=BJ)


@pytest.mark.parametrize("day, hh, mm", [(date(2026, 6, 21), 22, 13), (date(2026, 12, 21), 18, 39)])
def test_sunset_at_the_site_is_the_contracts_local_time(day, hh, mm):
    _rise, sunset = sla.sun_times(LAT, LON, day, "Asia/Shanghai")
    target = datetime(day.year, day.month, day.day, hh, mm, tzinfo=BJ)
    assert abs(sunset - target) <= timedelta(minutes=1)


def test_bisection_fallback_agrees_with_astral():
    for day in (date(2026, 6, 21), date(2026, 12, 21), date(2026, 3, 20)):
        rise_a, set_a = sla.sun_times(LAT, LON, day)
        rise_b, set_b = sla.sun_times_by_bisection(LAT, LON, day, BJ)
        assert abs(rise_a - rise_b) < timedelta(minutes=1)
        assert abs(set_a - set_b) < timedelta(minutes=1)


def test_june_evening_at_nine_is_still_day_and_after_sunset_is_night():
    assert sla.day_or_night(LAT, LON, bj(2026, 6, 21, 21, 0)) == sla.DAY
    assert sla.day_or_night(LAT, LON, bj(2026, 6, 21, 22, 5)) == sla.DAY
    assert sla.day_or_night(LAT, LON, bj(2026, 6, 21, 22, 20)) == sla.NIGHT


def test_december_evening_at_seven_is_night_and_nine_in_the_morning_too():
    assert sla.day_or_night(LAT, LON, bj(2026, 12, 21, 18, 30)) == sla.DAY
    assert sla.day_or_night(LAT, LON, bj(2026, 12, 21, 18, 45)) == sla.NIGHT
    assert sla.day_or_night(LAT, LON, bj(2026, 12, 21, 9, 30)) == sla.NIGHT  # sunrise ≈ 09:58


def test_arrival_window_is_two_hours_by_day_three_at_night_near_the_depot():
    day = sla.deadlines(OM, bj(2026, 6, 21, 21, 0), lat=LAT, lon=LON, distance_km=30)
    night = sla.deadlines(OM, bj(2026, 6, 21, 22, 30), lat=LAT, lon=LON, distance_km=30)
    assert (day.day_night, day.arrive_by - day.notified_at) == ("day", timedelta(hours=2))
    assert (night.day_night, night.arrive_by - night.notified_at) == ("night", timedelta(hours=3))


def test_hundred_km_boundary_is_within_and_just_beyond_gets_four_hours():
    at = bj(2026, 6, 21, 12, 0)
    on = sla.deadlines(OM, at, lat=LAT, lon=LON, distance_km=100.0)
    beyond = sla.deadlines(OM, at, lat=LAT, lon=LON, distance_km=100.1)
    assert on.arrive_by - at == timedelta(hours=2)
    assert beyond.arrive_by - at == timedelta(hours=4)


def test_repair_is_due_four_hours_after_arrival():
    at = bj(2026, 6, 21, 12, 0)
    d = sla.deadlines(OM, at, lat=LAT, lon=LON, distance_km=10, arrived_at=at + timedelta(minutes=50))
    assert d.repair_by == at + timedelta(minutes=50, hours=4)


@pytest.mark.parametrize("tier, hours", [("ordinary", 8), ("complex", 24)])
def test_service_desk_tiers_respond_in_one_hour_and_solve_by_tier(tier, hours):
    at = bj(2026, 3, 1, 10, 0)
    d = sla.deadlines(DESK, at, lat=LAT, lon=LON, tier=tier)
    assert d.respond_by - at == timedelta(hours=1)
    assert d.repair_by - at == timedelta(hours=hours)
    assert d.arrive_by is None


def test_unknown_tier_is_refused_by_name():
    with pytest.raises(sla.PolicyError, match="urgent"):
        sla.deadlines(DESK, bj(2026, 3, 1, 10, 0), lat=LAT, lon=LON, tier="urgent")


def test_policy_dict_with_a_bad_number_is_refused():
    with pytest.raises(sla.PolicyError, match="repair_h"):
        sla.SlaPolicy.from_dict({**sla.CHECKPOINT_OM, "repair_h": -4})
    with use_locale("en"), pytest.raises(sla.PolicyError, match="Unknown"):
        sla.SlaPolicy.from_dict({**sla.CHECKPOINT_OM, "arive_day_h": 2})


def test_distance_uses_road_factor_or_the_entered_road_distance():
    gc = sla.great_circle_km(45.6, 84.9, 45.6, 85.9)
    assert 77 < gc < 79  # one degree of longitude at 45.6°N
    assert sla.travel_distance_km(45.6, 84.9, 45.6, 85.9, road_factor=1.3) == pytest.approx(gc * 1.3)
    assert sla.travel_distance_km(45.6, 84.9, 45.6, 85.9, road_factor=1.3, road_distance_km=120) == 120
    assert sla.travel_distance_km(45.6, 84.9, None, None, road_factor=1.3) is None


def test_penalty_is_half_a_percent_per_day_late_and_five_percent_not_to_spec():
    p = sla.estimate_penalty(Decimal("2400000"), days_late_total=3, not_to_spec_cases=1)
    assert p.late_amount == Decimal("36000.00")
    assert p.not_to_spec_amount == Decimal("120000.00")
    assert p.total == Decimal("156000.00")
    assert sla.estimate_penalty(1000000, 1, 0, daily_rate_pct="0.3").total == Decimal("3000.00")


def test_any_started_day_late_counts_as_a_day():
    due = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert sla.days_late(due, due) == 0
    assert sla.days_late(due, due + timedelta(minutes=1)) == 1
    assert sla.days_late(due, due + timedelta(days=1, seconds=1)) == 2


def test_replace_after_two_consecutive_repairs_of_the_same_fault():
    assert sla.replacement_required([("offline", "repaired"), ("offline", "part_swapped")], "offline")
    assert sla.replacement_required([("offline", "repaired")], "offline") is None
    assert sla.replacement_required([("offline", "repaired"), ("image_blur", "repaired")], "offline") is None
    # a replacement in between resets the count
    assert sla.replacement_required([("offline", "repaired"), ("offline", "device_replaced")], "offline") is None


def test_key_sites_come_first_then_the_earliest_deadline():
    t = datetime(2026, 1, 1, tzinfo=timezone.utc)
    rows = [("a", False, t), ("b", True, t + timedelta(hours=3)), ("c", False, t - timedelta(hours=1))]
    rows.sort(key=lambda r: sla.priority_key(r[1], r[2], OM))
    assert [r[0] for r in rows] == ["b", "c", "a"]
