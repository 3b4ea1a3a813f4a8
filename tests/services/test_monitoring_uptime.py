"""U3/U4: uptime in SQL equals hand-computed seconds — month boundary, installed mid-period, gaps, exclusions, audit."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from fleetops.domain.errors import PermissionDenied, ValidationFailed
from fleetops.domain.uptime import figures
from fleetops.models import AuditLog, Device, Site
from fleetops.models.monitoring import Outage, StatusInterval
from fleetops.platform import parameters
from fleetops.services.monitoring import (
    IngestConfig, ingest_results, period_bounds, set_outage_cause, set_site_incident_cause, uptime_rows,
)

UTC = timezone.utc
H = timedelta(hours=1)
HOURLY = IngestConfig(poll_interval_s=3600, down_after=3)  # a result stands for ≤ 2 h
NOW = datetime(2026, 7, 2, tzinfo=UTC)
JUNE = (datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC))
JULY = (datetime(2026, 7, 1, tzinfo=UTC), datetime(2026, 8, 1, tzinfo=UTC))


def hourly(code, start, pattern):
    return [{"device": code, "probe": "ping", "ok": ch == ".", "at": (start + i * H).isoformat()}
            for i, ch in enumerate(pattern) if ch != " "]


@pytest.fixture
def fleet(db):
    site = Site(code="K105", name="K105 北门卡口", district="天山区", latitude=43.8, longitude=87.6)
    other = Site(code="K220", name="K220 河滩快速路", district="新市区", latitude=43.9, longitude=87.5)
    db.add_all([site, other])
    db.flush()
    a = Device(code="K105-CAM1", kind="checkpoint_camera", site_id=site.id, lifecycle="online",
               in_service_from=datetime(2026, 6, 30, 10, tzinfo=UTC))
    b = Device(code="K220-CAM1", kind="speed_camera", site_id=other.id, lifecycle="online")
    light = Device(code="K220-LIGHT1", kind="fill_light", site_id=other.id, lifecycle="online")
    db.add_all([a, b, light])
    db.commit()
    # A: installed 30 June 10:00; down 14:00–18:00; no results 20:00–24:00 (covered until 21:00).
    ingest_results(db, hourly(a.code, datetime(2026, 6, 30, 10, tzinfo=UTC), "....xxxx..          ..........."),
                   HOURLY, now=NOW)
    # B: down from 22:00 on 30 June to 03:00 on 1 July, across the month boundary.
    ingest_results(db, hourly(b.code, datetime(2026, 6, 30, 20, tzinfo=UTC), "..xxxxx...."), HOURLY, now=NOW)
    db.commit()
    return {"a": a, "b": b, "light": light}


def by_key(rows):
    return {r.key: r for r in rows}


def test_device_installed_mid_period_counts_from_its_in_service_time(db, fleet):
    a = by_key(uptime_rows(db, *JUNE))["K105-CAM1"]
    assert a.in_service_s == 14 * 3600  # 30 June 10:00 → 1 July 00:00
    assert (a.up_s, a.down_s, a.unknown_s, a.excluded_s) == (7 * 3600, 4 * 3600, 3 * 3600, 0)
    assert a.raw_pct == pytest.approx(100 * 7 / 11, abs=1e-12)
    assert a.contractual_pct == a.raw_pct


def test_an_outage_across_the_month_boundary_is_split_to_the_second(db, fleet):
    june = by_key(uptime_rows(db, *JUNE))["K220-CAM1"]
    july = by_key(uptime_rows(db, *JULY))["K220-CAM1"]
    assert (june.up_s, june.down_s) == (2 * 3600, 2 * 3600)
    assert (july.down_s, july.up_s) == (3 * 3600, 3 * 3600 + 2 * 3600)
    assert june.in_service_s == 30 * 86400 and july.in_service_s == 31 * 86400


def test_sql_figures_equal_the_domain_arithmetic(db, fleet):
    ivs = db.scalars(select(StatusInterval).where(StatusInterval.device_id == fleet["a"].id)).all()
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    domain = figures(JUNE, (fleet["a"].in_service_from, None),
                     [(epoch + timedelta(seconds=i.start_s), epoch + timedelta(seconds=i.end_s), i.state, False)
                      for i in ivs])
    sql = by_key(uptime_rows(db, *JUNE))["K105-CAM1"]
    assert (sql.up_s, sql.down_s, sql.unknown_s, sql.raw_pct) == (domain.up_s, domain.down_s, domain.unknown_s,
                                                                  domain.raw_pct)


def test_power_cut_is_excluded_from_the_contractual_figure_only(db, fleet, users):
    [o] = db.scalars(select(Outage).where(Outage.device_id == fleet["a"].id)).all()
    set_outage_cause(db, o.id, "power_utility", "国网停电通知 2026-06-30 第 118 号", actor=users["supervisor"])
    db.commit()
    a = by_key(uptime_rows(db, *JUNE))["K105-CAM1"]
    assert a.excluded_s == 4 * 3600
    assert a.raw_pct == pytest.approx(100 * 7 / 11, abs=1e-12)
    assert a.contractual_pct == 100.0
    log = db.scalars(select(AuditLog).where(AuditLog.action == "outage_cause_set")).one()
    assert log.actor_name == "supervisor" and log.before["cause"] == "device_fault"
    assert log.after["cause"] == "power_utility" and "118" in log.after["cause_reason"]


def test_an_excluded_cause_needs_a_reason(db, fleet, users):
    [o] = db.scalars(select(Outage).where(Outage.device_id == fleet["a"].id)).all()
    with pytest.raises(ValidationFailed):
        set_outage_cause(db, o.id, "network_provider", "  ", actor=users["supervisor"])


def test_crew_cannot_set_an_outage_cause(db, fleet, users):
    [o] = db.scalars(select(Outage).where(Outage.device_id == fleet["a"].id)).all()
    with pytest.raises(PermissionDenied):
        set_outage_cause(db, o.id, "power_utility", "停电", actor=users["crew"])
    assert db.scalars(select(AuditLog).where(AuditLog.action == "outage_cause_set")).all() == []


def test_groups_sum_their_devices_and_the_fleet_counts_contract_kinds_only(db, fleet):
    sites = by_key(uptime_rows(db, *JUNE, by="site"))
    assert sites["K220"].down_s == 2 * 3600 and sites["K220"].devices == 2
    fleet_row = uptime_rows(db, *JUNE, by="fleet")[0]
    assert fleet_row.devices == 2  # the fill light is not a contract kind
    assert fleet_row.up_s == 9 * 3600 and fleet_row.down_s == 6 * 3600
    kinds = by_key(uptime_rows(db, *JUNE, by="kind"))
    assert kinds["speed_camera"].label == "固定测速"
    districts = by_key(uptime_rows(db, *JUNE, by="district"))
    assert set(districts) == {"天山区", "新市区"}


def test_the_target_is_a_contract_parameter(db, fleet, users):
    assert parameters.get(db, "uptime_target_pct") == 95.0
    parameters.set_value(db, "uptime_target_pct", 97.5, users["admin"])
    db.commit()
    assert parameters.get(db, "uptime_target_pct") == 97.5


def test_periods_are_local_days_months_and_contract_years():
    a, b = period_bounds("month", "2026-07")
    assert a == datetime(2026, 6, 30, 16, tzinfo=UTC) and b == datetime(2026, 7, 31, 16, tzinfo=UTC)
    a, b = period_bounds("year", "2026", contract_start="2026-03-15")
    assert (b - a).days == 365
    with pytest.raises(ValidationFailed):
        period_bounds("day", "2026-13-40")


def test_bad_grouping_and_empty_period_are_refused(db):
    with pytest.raises(ValidationFailed):
        uptime_rows(db, *JUNE, by="planet")
    with pytest.raises(ValidationFailed):
        uptime_rows(db, JUNE[1], JUNE[0])


def test_site_power_cut_cause_applies_to_every_device_of_the_incident(db, users):
    site = Site(code="K300", name="K300 机场路", district="新市区", latitude=43.9, longitude=87.4)
    db.add(site)
    db.flush()
    devs = [Device(code=f"K300-{k}", kind=k, site_id=site.id, lifecycle="online")
            for k in ("switch", "checkpoint_camera", "epolice_camera")]
    db.add_all(devs)
    db.commit()
    start = datetime(2026, 7, 1, tzinfo=UTC)
    ingest_results(db, [r for d in devs for r in hourly(d.code, start, "..xxx..")], HOURLY, now=NOW)
    db.commit()
    [o] = {x.site_incident_id for x in db.scalars(select(Outage)).all()}
    changed = set_site_incident_cause(db, o, "power_utility", "供电局计划停电", actor=users["supervisor"])
    db.commit()
    assert len(changed) == 3
    fleet_row = uptime_rows(db, start, start + 7 * H, by="fleet")[0]
    assert fleet_row.contractual_pct == 100.0 and fleet_row.raw_pct == pytest.approx(100 * 4 / 7)


def test_installed_on_counts_from_local_midnight_and_retired_at_ends_the_service(db):
    from datetime import date

    site = Site(code="K400", name="K400 新疆大学", district="沙依巴克区", latitude=43.8, longitude=87.6)
    db.add(site)
    db.flush()
    db.add_all([
        Device(code="K400-CAM1", kind="checkpoint_camera", site_id=site.id, lifecycle="online",
               installed_on=date(2026, 6, 16)),
        Device(code="K400-CAM2", kind="checkpoint_camera", site_id=site.id, lifecycle="retired",
               retired_at=datetime(2026, 6, 11, 12, tzinfo=UTC)),
        Device(code="K400-CAM3", kind="checkpoint_camera", site_id=site.id, lifecycle="planned"),
    ])
    db.commit()
    rows = by_key(uptime_rows(db, *JUNE))
    # 16 June 00:00 Beijing time = 15 June 16:00 UTC → 15 days 8 hours to 1 July
    assert rows["K400-CAM1"].in_service_s == 15 * 86400 + 8 * 3600
    assert rows["K400-CAM2"].in_service_s == 10 * 86400 + 12 * 3600
    assert "K400-CAM3" not in rows  # planned devices are not in service
    assert rows["K400-CAM1"].raw_pct is None and rows["K400-CAM1"].unknown_s == rows["K400-CAM1"].in_service_s
