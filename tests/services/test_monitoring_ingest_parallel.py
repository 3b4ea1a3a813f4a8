"""Issue 14: ingests run at once on PostgreSQL when their batches touch different sites, and take turns when they
share one (`services/monitoring/locks.py`) — real concurrent transactions, each on its own connection.

Two copies of one fleet (two districts, sites "P…" and "Q…") receive the same batches per cycle: one per district
plus one overlapping both (other results of some of the same devices). Copy P gets the three batches of a cycle in
three threads at once, copy Q one after the other. The stored outages, site incidents, intervals, events, counters
and Device.status must be the same, with no deadlock and never two open outages for one device.
"""
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, text

from fleetops.models import Device, Site
from fleetops.models.monitoring import DeviceEvent, MonitorState, Outage, SiteIncident, StatusInterval
from fleetops.services.monitoring import IngestConfig, ingest_results, locks

T0 = datetime(2026, 7, 1, 8, 0, tzinfo=timezone.utc)
CFG = IngestConfig(poll_interval_s=60, down_after=3)
DISTRICTS = ("天山区", "米东区")


@pytest.fixture
def pg(app):
    maker = app.extensions["fleetops.sessionmaker"]
    with maker() as s:
        if s.get_bind().dialect.name != "postgresql":
            pytest.skip("concurrent ingests: PostgreSQL only (SQLite has one writer)")
    return maker


def _fleet(maker, prefix: str) -> dict[str, list[str]]:
    """Per district three sites of four devices (half answer SNMP); returns district → device codes."""
    out: dict[str, list[str]] = {}
    with maker() as s:
        for di, district in enumerate(DISTRICTS):
            for k in range(3):
                site = Site(code=f"{prefix}{di}{k}", name=f"{prefix}{di}{k} 卡口", district=district,
                            latitude=43.8, longitude=87.6)
                s.add(site)
                s.flush()
                for i in range(4):
                    code = f"{prefix}{di}{k}-D{i}"
                    s.add(Device(code=code, kind="switch" if i == 3 else "checkpoint_camera", site_id=site.id,
                                 lifecycle="online", snmp_version="v2c" if i % 2 == 0 else "",
                                 liveness_probe="ping"))
                    out.setdefault(district, []).append(code[len(prefix):])
        s.commit()
    return out


def _ok(suffix: str, k: int) -> bool:
    """Site 00 goes dark for a while (a site incident), one device of 10 fails for a shorter run (its outage)."""
    if suffix.startswith("00-") and 5 <= k < 12:
        return False
    return not (suffix == "10-D1" and 3 <= k < 9)


def _batches(fleet, k: int) -> list[list[tuple]]:
    """A cycle's three batches: each district's poll at T0 + k min, and one overlapping both districts (sites 00
    and 10, the same devices) 30 s later."""
    at = T0 + timedelta(minutes=k)
    out = []
    for district in DISTRICTS:
        out.append([(c, p, _ok(c, k), at) for c in fleet[district] for p in ("ping", "snmp")
                    if p == "ping" or int(c[-1]) % 2 == 0])
    late = at + timedelta(seconds=30)
    out.append([(c, "ping", _ok(c, k), late) for district in DISTRICTS for c in fleet[district]
                if c[:2] in ("00", "10")])
    return out


def _ingest(maker, prefix: str, rows, k: int) -> None:
    lines = [{"device": prefix + c, "probe": p, "ok": ok, "at": at.isoformat(),
              "metrics": {"sys_uptime_s": 86400.0 + 60 * k} if p == "snmp" and ok else {}} for c, p, ok, at in rows]
    with maker() as s:
        ingest_results(s, lines, CFG, now=T0 + timedelta(minutes=k, seconds=40))
        s.commit()


def _snapshot(maker, prefix: str) -> dict:
    with maker() as db:
        devs = {d.id: d.code[len(prefix):] for d in db.scalars(select(Device).where(Device.code.like(prefix + "%")))}
        sites = {s.id: s.code[len(prefix):] for s in db.scalars(select(Site).where(Site.code.like(prefix + "%")))}
        outages = {o.id: o for o in db.scalars(select(Outage).where(Outage.device_id.in_(devs)))}
        return {
            "outages": sorted((devs[o.device_id], o.started_at, o.detected_at, o.ended_at, o.retracted_at,
                               o.site_incident_id is not None) for o in outages.values()),
            "incidents": sorted((sites[i.site_id], i.started_at, i.detected_at, i.ended_at, i.device_count,
                                 i.retracted_at) for i in db.scalars(select(SiteIncident).where(
                                     SiteIncident.site_id.in_(sites)))),
            "intervals": sorted((devs[iv.device_id], iv.start_s, iv.end_s, iv.state,
                                 outages[iv.outage_id].started_at if iv.outage_id else None)
                                for iv in db.scalars(select(StatusInterval).where(StatusInterval.device_id.in_(devs)))),
            "events": sorted((devs[e.device_id], e.kind, e.at, e.ended_at)
                             for e in db.scalars(select(DeviceEvent).where(DeviceEvent.device_id.in_(devs)))),
            # Past detection the failure count means nothing (availability.debounce compares it only before):
            # an in-order batch carries it on, a late one recounts from the run's start — equal up to there.
            "states": sorted((devs[s.device_id], s.probe, s.last_at, s.last_ok_at, s.run_start,
                              min(s.run_count, CFG.down_after), s.run_detected_at)
                             for s in db.scalars(select(MonitorState).where(MonitorState.device_id.in_(devs)))),
            # Not status_since: a device already up when an earlier result arrives late keeps its "up since"
            # (device_status), so it depends on which batch came first — the intervals above hold the truth.
            "status": sorted((devs[d.id], d.status) for d in db.scalars(
                select(Device).where(Device.id.in_(devs)))),
            "open_per_device": max(db.execute(select(func.count()).select_from(Outage).where(
                Outage.device_id.in_(devs), Outage.ended_at.is_(None), Outage.retracted_at.is_(None))
                .group_by(Outage.device_id)).scalars().all() or [0]),
        }


def _at_once(jobs) -> list[BaseException]:
    """Run the callables in threads released together; returns what they raised (a deadlock would be one)."""
    errors: list[BaseException] = []
    start = threading.Barrier(len(jobs))

    def body(job):
        start.wait()
        try:
            job()
        except BaseException as err:  # noqa: B036 (reported to the test)
            errors.append(err)

    threads = [threading.Thread(target=body, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)  # a hang, not a speed: locks taken out of order would wait here for ever
    assert not any(t.is_alive() for t in threads), "an ingest never finished"
    return errors


def test_batches_ingested_at_once_store_what_they_store_one_after_the_other(pg):
    fleet = _fleet(pg, "P")
    _fleet(pg, "Q")
    for k in range(16):
        batches = _batches(fleet, k)
        errors = _at_once([lambda b=b: _ingest(pg, "P", b, k) for b in batches])
        assert not errors, errors
        for b in batches:
            _ingest(pg, "Q", b, k)
        p, q = _snapshot(pg, "P"), _snapshot(pg, "Q")
        for part in p:
            assert p[part] == q[part], (k, part)
    # The scenario did what it should: an outage, a site incident (opened and closed), never two open outages.
    assert p["outages"] and p["incidents"] and all(i[3] is not None for i in p["incidents"])
    assert p["open_per_device"] <= 1


def _waiting_on_advisory(maker) -> int:
    with maker() as s:
        return s.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                             "AND wait_event = 'advisory' AND datname = current_database()"))


def _held_then_released(maker, holder, blocked_job, free_job) -> None:
    """While `holder` holds its locks: `free_job` finishes; `blocked_job` waits on an advisory lock until the
    holder commits, then finishes."""
    free = _at_once([free_job])
    assert not free, free
    errors: list[BaseException] = []

    def body():
        try:
            blocked_job()
        except BaseException as err:  # noqa: B036
            errors.append(err)

    t = threading.Thread(target=body)
    t.start()
    for _ in range(600):  # until it is seen waiting (or has finished, which would be the defect)
        if _waiting_on_advisory(maker) or not t.is_alive():
            break
        time.sleep(0.05)
    assert t.is_alive() and _waiting_on_advisory(maker) == 1, "the overlapping ingest did not wait"
    holder.commit()
    t.join(120)
    assert not t.is_alive() and not errors, errors


def _with_sites_held(pg, held: list[str], waits: tuple[int, str], runs: tuple[int, str]) -> None:
    """Hold the locks of sites `held` (codes) as a running ingest would; the batch of the devices starting with
    waits[1] (from district batch waits[0]) must wait for it, the one of runs[1] must go through meanwhile."""
    fleet = _fleet(pg, "P")
    with pg() as s:
        site = {x.code: x.id for x in s.scalars(select(Site))}
    holder = pg()
    try:
        locks.lock_sites(holder, [site[code] for code in held])
        b = _batches(fleet, 0)
        waiting = [r for r in b[waits[0]] if r[0].startswith(waits[1])]
        free = [r for r in b[runs[0]] if r[0].startswith(runs[1])]
        _held_then_released(pg, holder, lambda: _ingest(pg, "P", waiting, 0), lambda: _ingest(pg, "P", free, 0))
    finally:
        holder.close()


def test_an_ingest_waits_for_one_sharing_a_site_and_not_for_another_district(pg):
    # as an ingest of site 00's devices, still running
    _with_sites_held(pg, ["P00"], waits=(0, "00-"), runs=(1, "11-"))


def test_a_district_wide_batch_holds_off_that_district_only(pg, monkeypatch):
    monkeypatch.setattr(locks, "SITE_LOCKS_MAX", 1)  # two sites: the district-wide locks, exclusive on district 0
    _with_sites_held(pg, ["P00", "P01"], waits=(0, "02-"), runs=(1, "12-"))
