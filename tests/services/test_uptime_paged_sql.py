"""Issue 14 part 4: the uptime aggregate that the paged report runs (one SQL statement: in-service time, up, down and
excluded seconds, worst first) equals the interval arithmetic of domain/uptime.py — on randomized intervals
(Hypothesis), on an outage across local midnight split over two days, and after a cause is changed to an excluded
one. Runs on SQLite and PostgreSQL."""
from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from fleetops.domain import uptime as rules
from fleetops.models import Device, Site
from fleetops.models.monitoring import Outage, StatusInterval
from fleetops.models.service import ServicePeriod
from fleetops.services.monitoring import uptime

UTC = timezone.utc
T0 = datetime(2026, 3, 1, tzinfo=UTC)
SPAN = 3 * 86400
CAUSES = ["device_fault", "power_utility", "network_provider", "unknown", "planned_work"]


def _device(db, code="R-CAM1") -> Device:
    site = Site(code="R1", name="随机点位", district="天山区", latitude=43.8, longitude=87.6)
    db.add(site)
    db.flush()
    dev = Device(code=code, kind="checkpoint_camera", site_id=site.id, lifecycle="online", ip_address="127.31.0.1",
                 in_service_from=T0 - timedelta(days=30))
    db.add(dev)
    db.commit()
    return dev


def _store(db, dev, in_service, pieces) -> list[int]:
    """Replace the device's history: its one in-service period and (start_s, end_s, state, cause|None) pieces; the
    ids of the intervals stored (the rollup tests edit them)."""
    for t in (StatusInterval, Outage, ServicePeriod):
        db.execute(delete(t).where(t.device_id == dev.id))
    db.add(ServicePeriod(device_id=dev.id, start_at=in_service[0], end_at=in_service[1]))
    ids = []
    for a, b, state, cause in pieces:
        oid = None
        if state == "down":
            o = Outage(device_id=dev.id, started_at=datetime.fromtimestamp(a, UTC),
                       detected_at=datetime.fromtimestamp(a, UTC), ended_at=datetime.fromtimestamp(b, UTC),
                       cause=cause)
            db.add(o)
            db.flush()
            oid = o.id
        si = StatusInterval(device_id=dev.id, start_s=a, end_s=b, state=state, outage_id=oid)
        db.add(si)
        db.flush()
        ids.append(si.id)
    db.commit()
    return ids


def _expected(period, in_service, pieces) -> rules.Figures:
    ivs = [(datetime.fromtimestamp(a, UTC), datetime.fromtimestamp(b, UTC), s, c in rules.EXCLUDED_CAUSES)
           for a, b, s, c in pieces]
    return rules.figures(period, in_service, ivs)


def _check(db, period, in_service, pieces):
    want = _expected(period, in_service, pieces)
    rows = uptime.uptime_rows(db, *period, by="device")
    page = uptime.uptime_page(db, *period, by="device", limit=10)
    assert len(rows) == 1 and page.total == 1 and page.rows[0] == rows[0]
    got = rows[0]
    assert (got.in_service_s, got.up_s, got.down_s, got.excluded_s) == (
        int(want.in_service_s), int(want.up_s), int(want.down_s), int(want.excluded_s))
    assert got.raw_pct == want.raw_pct and got.contractual_pct == want.contractual_pct


@st.composite
def histories(draw):
    """Non-overlapping pieces in [T0, T0 + 3 days) with gaps (unknown time), random states and causes; an in-service
    period that may start late or end early; a period to report on."""
    base = int(T0.timestamp())
    cuts = sorted(set(draw(st.lists(st.integers(0, SPAN), min_size=2, max_size=14))))
    pieces = []
    for a, b in zip(cuts, cuts[1:]):
        kind = draw(st.sampled_from(["up", "down", "gap"]))
        if kind != "gap":
            pieces.append((base + a, base + b, kind, draw(st.sampled_from(CAUSES)) if kind == "down" else None))
    s0 = draw(st.one_of(st.none(), st.integers(-86400, SPAN)))
    s1 = draw(st.one_of(st.none(), st.integers(0, SPAN + 86400)))
    if s0 is not None and s1 is not None and s1 < s0:
        s0, s1 = s1, s0
    in_service = (T0 - timedelta(days=30) if s0 is None else T0 + timedelta(seconds=s0),
                  None if s1 is None else T0 + timedelta(seconds=s1))
    p0 = draw(st.integers(-3600, SPAN))
    p1 = draw(st.integers(p0 + 1, SPAN + 3600))
    return (T0 + timedelta(seconds=p0), T0 + timedelta(seconds=p1)), in_service, pieces


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=histories())
def test_the_sql_aggregate_equals_the_interval_arithmetic(db, case):
    dev = db.query(Device).filter_by(code="R-CAM1").one_or_none() or _device(db)
    period, in_service, pieces = case
    _store(db, dev, in_service, pieces)
    _check(db, period, in_service, pieces)


def test_an_outage_across_midnight_counts_on_both_days_and_a_later_exclusion_changes_both(db):
    dev = _device(db)
    tz = "Asia/Shanghai"
    d1 = uptime.period_bounds("day", "2026-03-01", tz)
    d2 = uptime.period_bounds("day", "2026-03-02", tz)
    midnight = int(d1[1].timestamp())
    pieces = [(int(d1[0].timestamp()), midnight - 1800, "up", None),
              (midnight - 1800, midnight + 5400, "down", "device_fault"),  # 23:30 → 01:30 local
              (midnight + 5400, int(d2[1].timestamp()), "up", None)]
    in_service = (T0 - timedelta(days=30), None)
    _store(db, dev, in_service, pieces)
    first, second = uptime.uptime_rows(db, *d1), uptime.uptime_rows(db, *d2)
    both = uptime.uptime_rows(db, d1[0], d2[1])
    assert first[0].down_s == 1800 and second[0].down_s == 5400 and both[0].down_s == 7200
    assert first[0].excluded_s == second[0].excluded_s == 0
    _check(db, d1, in_service, pieces)
    _check(db, d2, in_service, pieces)

    # The cause is set to the power utility afterwards: both closed days now exclude their share of the outage.
    db.query(Outage).filter_by(device_id=dev.id).update({"cause": "power_utility"})
    db.commit()
    pieces[1] = (*pieces[1][:3], "power_utility")
    first, second = uptime.uptime_rows(db, *d1), uptime.uptime_rows(db, *d2)
    assert first[0].excluded_s == 1800 and second[0].excluded_s == 5400
    assert first[0].contractual_pct == 100.0 and first[0].raw_pct < 100.0
    _check(db, d1, in_service, pieces)
    _check(db, d2, in_service, pieces)


def _worst_first(r):
    return (r.contractual_pct is None, r.contractual_pct or 0, r.raw_pct is None, r.raw_pct or 0, r.key)


def test_a_page_carries_the_total_and_the_fleet_line_of_the_full_table(db):
    """The page's one statement gives the groups, their number and the contract kinds' fleet line from one
    aggregate split by contract kind: each must equal the full table and the fleet rows computed on their own —
    with groups that mix contract kinds and others, on every page and past the last one."""
    sites = [Site(code=f"F{i}", name=f"混合点位{i}", district=d, latitude=43.8, longitude=87.6)
             for i, d in enumerate(["天山区", "沙依巴克区", "天山区"])]
    db.add_all(sites)
    db.flush()
    kinds = ["checkpoint_camera", "fill_light", "epolice_camera", "switch", "speed_camera", "fill_light"]
    devs = [Device(code=f"F-DEV{i}", kind=k, site_id=sites[i % 3].id, lifecycle="online",
                   ip_address=f"127.33.0.{i + 1}", in_service_from=T0 - timedelta(days=30))
            for i, k in enumerate(kinds)]
    db.add_all(devs)
    db.commit()
    base = int(T0.timestamp())
    history = {}
    for i, dev in enumerate(devs):
        cut = base + 3600 * (i + 1)
        pieces = [(base, cut, "up", None), (cut, cut + 600 * (i + 2), "down", CAUSES[i % len(CAUSES)]),
                  (cut + 600 * (i + 2) + 300, base + SPAN, "up", None)]
        # Whole-period windows beside one starting (F-DEV4) and one ending (F-DEV5) inside the period.
        in_service = {4: (T0 + timedelta(hours=20), None),
                      5: (T0 - timedelta(days=30), T0 + timedelta(hours=30))}.get(i, (T0 - timedelta(days=30), None))
        _store(db, dev, in_service, pieces)
        history[dev.code] = (in_service, pieces)
    period = (T0, T0 + timedelta(seconds=SPAN))
    # Every device's row of one page equals the interval arithmetic, whichever window it has.
    page = uptime.uptime_page(db, *period, by="device", limit=50, with_fleet=True)
    assert sorted(r.key for r in page.rows) == sorted(history)
    for r in page.rows:
        want = _expected(period, *history[r.key])
        assert (r.in_service_s, r.up_s, r.down_s, r.excluded_s) == (
            int(want.in_service_s), int(want.up_s), int(want.down_s), int(want.excluded_s)), r.key
    fleet = uptime.uptime_rows(db, *period, by="fleet")[0]
    assert fleet.devices == 3  # the three contract-kind devices only
    for by in uptime.GROUPS:
        full = sorted(uptime.uptime_rows(db, *period, by=by), key=_worst_first)
        for limit, offset in ((2, 0), (2, 2), (2, 4), (50, 0), (2, len(full)), (3, len(full) + 7)):
            page = uptime.uptime_page(db, *period, by=by, limit=limit, offset=offset, with_fleet=True)
            assert page.total == len(full), (by, offset)
            assert page.rows == full[offset:offset + limit], (by, offset)
            assert page.fleet == fleet, (by, offset)
