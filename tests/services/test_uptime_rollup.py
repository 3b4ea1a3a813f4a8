"""Issue 14 part 4: the per-device daily uptime rollup (models/rollup.py, services/monitoring/rollup.py). The report
read through the rollup (closed days) plus the live computation (the rest) equals the live interval computation
alone — on random histories, random after-the-fact changes (intervals rewritten, causes, excluded parts, service
periods, outages deleted) and random periods across rolled-up and open days (Hypothesis); and through the real
change paths: a cause set, late results recomputed by the ingest, an in-service date edited, a device moved or
deleted. Runs on SQLite and PostgreSQL (the invalidation is done by database triggers on both)."""
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, insert, select, update

from fleetops.models import Device, Site
from fleetops.models.monitoring import Outage, StatusInterval
from fleetops.models.rollup import UptimeDay
from fleetops.models.service import ServicePeriod
from fleetops.services.monitoring import IngestConfig, causes, ingest_results, uptime
from fleetops.services.monitoring.rollup import roll_up
from tests.services.test_uptime_paged_sql import _store

UTC = timezone.utc
ZONE = ZoneInfo("Asia/Shanghai")  # the project's default TIMEZONE: the report day
T0 = datetime(2026, 3, 2, tzinfo=ZONE).astimezone(UTC)  # a local midnight
DAY = 86400
DAYS = 5
CAUSES = ["device_fault", "power_utility", "network_provider", "unknown", "planned_work"]



@pytest.fixture(autouse=True)
def _rollup_for_every_whole_day(monkeypatch):
    """The histories here are a few days long: read the rollup for any whole day (the service waits for two weeks)."""
    monkeypatch.setattr(uptime, "MIN_ROLLED_DAYS", 1)

def _devices(db, n=2) -> list[Device]:
    site = Site(code="RU1", name="汇总点位", district="天山区", latitude=43.8, longitude=87.6)
    other = Site(code="RU2", name="汇总点位二", district="沙依巴克区", latitude=43.8, longitude=87.6)
    db.add_all([site, other])
    db.flush()
    devs = [Device(code=f"RU-CAM{i}", kind="checkpoint_camera", site_id=site.id, lifecycle="online",
                   ip_address=f"127.32.0.{i + 1}", in_service_from=T0 - timedelta(days=30)) for i in range(n)]
    db.add_all(devs)
    db.commit()
    return devs


def _figures(db, periods, by="device"):
    return [[(r.key, r.in_service_s, r.up_s, r.down_s, r.excluded_s, r.devices)
             for r in uptime.uptime_rows(db, *p, by=by, local_tz="Asia/Shanghai")] for p in periods]


def _live(db, periods, by="device"):
    """The live interval computation alone: the same report with no rollup rows to read."""
    db.execute(delete(UptimeDay))
    db.commit()
    return _figures(db, periods, by)


def _rows(db) -> int:
    return db.scalar(select(func.count()).select_from(UptimeDay))


@st.composite
def pieces_st(draw):
    base = int(T0.timestamp())
    cuts = sorted(set(draw(st.lists(st.integers(-DAY // 2, DAYS * DAY), min_size=2, max_size=12))))
    out = []
    for a, b in zip(cuts, cuts[1:]):
        kind = draw(st.sampled_from(["up", "down", "down", "gap"]))
        if kind != "gap":
            out.append((base + a, base + b, kind, draw(st.sampled_from(CAUSES)) if kind == "down" else None))
    s0 = draw(st.one_of(st.none(), st.integers(-DAY, DAYS * DAY)))
    s1 = draw(st.one_of(st.none(), st.integers(0, (DAYS + 1) * DAY)))
    if s0 is not None and s1 is not None and s1 < s0:
        s0, s1 = s1, s0
    in_service = (T0 - timedelta(days=30) if s0 is None else T0 + timedelta(seconds=s0),
                  None if s1 is None else T0 + timedelta(seconds=s1))
    return in_service, out


CHANGES = st.one_of(
    st.tuples(st.just("cause"), st.integers(0, 20), st.sampled_from(CAUSES)),
    st.tuples(st.just("excluded_before"), st.integers(0, 20), st.integers(-3600, 3 * DAY)),
    st.tuples(st.just("insert"), st.integers(-DAY, DAYS * DAY), st.integers(1, 2 * DAY),
              st.sampled_from(["up", "down"])),
    st.tuples(st.just("end"), st.integers(0, 20), st.integers(-DAY, DAY)),
    st.tuples(st.just("start"), st.integers(0, 20), st.integers(-DAY, DAY)),
    st.tuples(st.just("state"), st.integers(0, 20)),
    st.tuples(st.just("delete_interval"), st.integers(0, 20)),
    st.tuples(st.just("delete_outage"), st.integers(0, 20)),
    st.tuples(st.just("service_period"), st.integers(-DAY, DAYS * DAY)),
    st.tuples(st.just("add_period"), st.integers(-DAY, DAYS * DAY), st.integers(1, 3 * DAY)),
    st.tuples(st.just("drop_periods")),
)


def _apply(db, devs, ids, change, which):
    dev = devs[which % len(devs)]
    what = change[0]
    if what in ("cause", "excluded_before", "delete_outage"):
        outs = db.scalars(select(Outage).where(Outage.device_id == dev.id).order_by(Outage.id)).all()
        if not outs:
            return
        o = outs[change[1] % len(outs)]
        if what == "cause":
            o.cause = change[2]
        elif what == "excluded_before":
            o.excluded_before_s = int(o.started_at.timestamp()) + change[2]
        else:
            db.delete(o)
    elif what == "insert":
        db.execute(insert(StatusInterval), [{"device_id": dev.id, "start_s": int(T0.timestamp()) + change[1],
                                             "end_s": int(T0.timestamp()) + change[1] + change[2],
                                             "state": change[3], "outage_id": None}])
    elif what == "service_period":
        db.execute(update(ServicePeriod).where(ServicePeriod.device_id == dev.id)
                   .values(start_at=T0 + timedelta(seconds=change[1])))
    elif what == "add_period":  # back in service for a while
        db.add(ServicePeriod(device_id=dev.id, start_at=T0 + timedelta(seconds=change[1]),
                             end_at=T0 + timedelta(seconds=change[1] + change[2])))
    elif what == "drop_periods":
        db.execute(delete(ServicePeriod).where(ServicePeriod.device_id == dev.id))
    else:
        mine = db.scalars(select(StatusInterval.id).where(StatusInterval.device_id == dev.id)
                          .order_by(StatusInterval.id)).all()
        if not mine:
            return
        i = mine[change[1] % len(mine)]
        t = StatusInterval.__table__
        if what == "end":  # as the bulk ingest does: a plain UPDATE, no ORM
            db.execute(t.update().where(t.c.id == i).values(end_s=t.c.end_s + change[2]))
        elif what == "start":
            db.execute(t.update().where(t.c.id == i).values(start_s=t.c.start_s + change[2]))
        elif what == "state":
            db.execute(t.update().where(t.c.id == i).values(state="up"))
        else:
            db.execute(t.delete().where(t.c.id == i))
    db.commit()


PERIOD = st.tuples(st.integers(-DAY, (DAYS + 1) * DAY), st.integers(1, (DAYS + 1) * DAY))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(histories=st.lists(pieces_st(), min_size=2, max_size=2), today=st.integers(2, DAYS + 1),
       changes=st.lists(st.tuples(CHANGES, st.integers(0, 1)), min_size=1, max_size=4), reroll=st.booleans(),
       periods=st.lists(PERIOD, min_size=1, max_size=4))
def test_rollup_plus_live_equals_the_live_computation(db, histories, today, changes, reroll, periods):
    devs = db.scalars(select(Device).where(Device.code.like("RU-%")).order_by(Device.code)).all() or _devices(db)
    db.execute(delete(UptimeDay))
    ids = [_store(db, dev, *h) for dev, h in zip(devs, histories)]
    now = T0 + timedelta(days=today, hours=5)
    roll_up(db, now, ZONE)
    base = int(T0.timestamp())
    spans = [(datetime.fromtimestamp(base + a, UTC), datetime.fromtimestamp(base + a + n, UTC)) for a, n in periods]
    # As the pages ask: a period up to now (the rollup reaches today's midnight), from any instant before it.
    spans += [(datetime.fromtimestamp(base + a, UTC), now) for a, _n in periods if base + a < now.timestamp()]
    spans += [(T0, now), (T0, T0 + timedelta(days=DAYS + 1))]
    for change, which in changes:  # after the fact: the triggers delete the days each one touches
        _apply(db, devs, ids, change, which)
    if reroll:
        roll_up(db, now + timedelta(days=1), ZONE)
    got = _figures(db, spans)
    got_district = _figures(db, spans, by="district")
    assert got == _live(db, spans)
    assert got_district == _figures(db, spans, by="district")


def test_the_report_reads_the_rollup_and_the_job_rolls_closed_days_only(db):
    """Not a test that cannot fail: a rolled-up row changed by hand changes the report (it is read), days from
    today on are never rolled up, and a second run finds nothing to do."""
    dev, _ = _devices(db)
    base = int(T0.timestamp())
    _store(db, dev, (T0 - timedelta(days=30), None), [(base, base + 3 * DAY + 600, "up", None)])
    run = roll_up(db, T0 + timedelta(days=2, hours=1), ZONE)
    assert run.days == 2 and _rows(db) == 4  # both devices, two closed days
    assert roll_up(db, T0 + timedelta(days=2, hours=1), ZONE).days == 0
    ends = db.scalars(select(UptimeDay.day_end_s).where(UptimeDay.device_id == dev.id)
                      .order_by(UptimeDay.day_end_s)).all()
    assert ends == [base + DAY, base + 2 * DAY]
    period = [(T0, T0 + timedelta(days=2, hours=1))]
    before = _figures(db, period)
    assert before[0][0][2] == 2 * DAY + 3600
    db.execute(update(UptimeDay).where(UptimeDay.device_id == dev.id, UptimeDay.day_end_s == base + 2 * DAY)
               .values(cum_up_s=UptimeDay.cum_up_s - 100))
    db.commit()
    assert _figures(db, period)[0][0][2] == 2 * DAY + 3600 - 100


def test_after_the_time_zone_changes_the_days_are_rolled_up_again_in_the_new_zone(db, caplog):
    """Rows rolled in UTC are days no Beijing report lines up with: the next run in Asia/Shanghai deletes them and
    rolls Beijing days, and the report read through them equals the live computation."""
    dev, _ = _devices(db)
    base = int(T0.timestamp())
    _store(db, dev, (T0 - timedelta(days=30), None), [(base, base + DAY + 3600, "up", None),
                                                       (base + DAY + 3600, base + DAY + 7200, "down", "device_fault"),
                                                       (base + DAY + 7200, base + 4 * DAY, "up", None)])
    now = T0 + timedelta(days=3, hours=9)
    assert roll_up(db, now, ZoneInfo("UTC")).days == 4  # 1-4 March, UTC
    utc_ends = set(db.scalars(select(UptimeDay.day_end_s)))
    assert all(end % DAY == 0 for end in utc_ends)  # UTC midnights
    run = roll_up(db, now, ZONE)
    assert run.days == 3 and "time zone is now Asia/Shanghai" in caplog.text
    ends = db.scalars(select(UptimeDay.day_end_s).where(UptimeDay.device_id == dev.id)
                      .order_by(UptimeDay.day_end_s)).all()
    assert ends == [base + DAY, base + 2 * DAY, base + 3 * DAY]  # Beijing midnights, none of the UTC rows left
    caplog.clear()
    assert roll_up(db, now, ZONE).days == 0 and "time zone" not in caplog.text  # rebuilt once
    spans = [(T0, T0 + timedelta(days=3)), (T0 + timedelta(days=1), T0 + timedelta(days=2))]
    assert _figures(db, spans) == _live(db, spans)


def _one_device_history(db):
    devs = _devices(db)
    base = int(T0.timestamp())
    _store(db, devs[0], (T0 - timedelta(days=30), None), [
        (base, base + DAY + 3600, "up", None),
        (base + DAY + 3600, base + DAY + 7200, "down", "device_fault"),
        (base + DAY + 7200, base + 4 * DAY, "up", None)])
    roll_up(db, T0 + timedelta(days=3, hours=2), ZONE)
    return devs


SPANS = [(T0, T0 + timedelta(days=3, hours=2)), (T0 + timedelta(days=1), T0 + timedelta(days=2)),
         (T0 - timedelta(hours=3), T0 + timedelta(days=2, hours=7)), (T0 - timedelta(hours=3), T0 + timedelta(days=1))]


def _same_as_live(db, by="device"):
    got = _figures(db, SPANS, by)
    assert got == _live(db, SPANS, by)
    return got


def test_a_cause_set_afterwards_changes_the_closed_days(db, users):
    devs = _one_device_history(db)
    before = _figures(db, SPANS)
    o = db.scalars(select(Outage).where(Outage.device_id == devs[0].id)).one()
    causes.set_outage_cause(db, o.id, "power_utility", "供电局停电通知", actor=users["supervisor"])
    db.commit()
    after = _same_as_live(db)
    assert after != before and after[1][0][4] == 3600  # the closed day now excludes the hour


def test_an_excluded_part_set_afterwards_changes_the_closed_days(db):
    devs = _one_device_history(db)
    o = db.scalars(select(Outage).where(Outage.device_id == devs[0].id)).one()
    o.excluded_before_s = int(o.started_at.timestamp()) + 1200  # a maintenance window outlasted (issue 17)
    db.commit()
    assert _same_as_live(db)[1][0][4] == 1200


def test_late_results_recomputed_by_the_ingest_change_the_closed_days(db):
    devs = _devices(db, 1)
    cfg = IngestConfig(poll_interval_s=60, down_after=3)
    minute = timedelta(minutes=1)
    on_time = [{"device": devs[0].code, "probe": "ping", "ok": True, "at": (T0 + i * 10 * minute).isoformat()}
               for i in range(6 * 24 * 3)]
    ingest_results(db, on_time, cfg, now=T0 + timedelta(days=3))
    db.commit()
    roll_up(db, T0 + timedelta(days=3), ZONE)
    rolled = _rows(db)
    before = _figures(db, SPANS)
    # Results of the second day arrive late: a run of failures in the middle of an already rolled-up day.
    late = [{"device": devs[0].code, "probe": "ping", "ok": False, "at": (T0 + timedelta(days=1, hours=3) + i * minute)
             .isoformat()} for i in range(1, 8)]
    ingest_results(db, late, cfg, now=T0 + timedelta(days=3, hours=1))
    db.commit()
    assert _rows(db) < rolled  # the days it touched were dropped
    after = _same_as_live(db)
    assert after != before and after[1][0][3] > 0


def test_an_in_service_date_edit_a_move_and_a_deletion_change_the_report_as_live(db):
    devs = _one_device_history(db)
    devs[0].in_service_from = T0 + timedelta(days=1, hours=12)
    db.commit()
    after = _same_as_live(db)
    assert after[0][0][1] < 3 * DAY
    roll_up(db, T0 + timedelta(days=3, hours=2), ZONE)
    other = db.scalars(select(Site).where(Site.code == "RU2")).one()
    devs[0].site_id = other.id  # moved to another district: the grouping is read live, the rows stay
    db.commit()
    rows = _rows(db)
    _same_as_live(db, by="district")
    roll_up(db, T0 + timedelta(days=3, hours=2), ZONE)
    assert _rows(db) == rows
    db.delete(devs[1])
    db.commit()
    assert db.scalar(select(func.count()).select_from(UptimeDay).where(UptimeDay.device_id == devs[1].id)) == 0
    _same_as_live(db)



# Each kind of write, on a rolled-up history (the down hour is on the second closed day; intervals in order
# [up, down, up]; outage 0 is the only one): the report moves exactly as the live computation does.
EACH = [("cause", 0, "network_provider"), ("excluded_before", 0, 1800), ("insert", DAY + 600, 300, "down"),
        ("end", 1, -600), ("end", 0, -DAY // 2), ("start", 2, 900), ("state", 1), ("delete_interval", 1),
        ("delete_outage", 0), ("service_period", DAY + 5000), ("add_period", DAY, 7200), ("drop_periods",)]


@pytest.mark.parametrize("change", EACH, ids=[f"{c[0]}-{i}" for i, c in enumerate(EACH)])
def test_each_write_drops_the_closed_days_it_touches(db, change):
    devs = _one_device_history(db)
    if change[0] == "delete_outage":  # an excluded outage: deleting it makes its hour count again
        db.execute(update(Outage).values(cause="power_utility"))
        db.commit()
        roll_up(db, T0 + timedelta(days=3, hours=2), ZONE)
    before = _figures(db, SPANS)
    rows = _rows(db)
    _apply(db, devs, None, change, 0)
    assert _rows(db) < rows
    after = _same_as_live(db)
    assert after != before


def test_the_scheduler_job_rolls_closed_days_up(app, db):
    """The job as the scheduler runs it (wiring.JOBS): yesterday and before are rolled up, today is not."""
    from fleetops import scheduler, wiring

    devs = _devices(db, 1)
    now = datetime.now(UTC)
    start = int((now - timedelta(days=3)).timestamp())
    _store(db, devs[0], (now - timedelta(days=30), None), [(start, int(now.timestamp()), "up", None)])
    job = next(j for j in wiring.JOBS if j.id == "uptime_rollup")
    assert scheduler.run_job(app, job)
    db.expire_all()
    ends = db.scalars(select(UptimeDay.day_end_s).order_by(UptimeDay.day_end_s)).all()
    today = datetime.combine(now.astimezone(ZONE).date(), datetime.min.time(), ZONE)
    first = datetime.combine(datetime.fromtimestamp(start, ZONE).date(), datetime.min.time(), ZONE)
    assert ends[0] == int(first.timestamp()) + DAY and ends[-1] == int(today.timestamp())
    assert len(ends) == (today - first).days
