"""The one ingest path (U2, U5, U6): replayed results → outages, intervals, events; idempotent and order-independent."""
import random
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from fleetops.models import Device, Site
from fleetops.models.monitoring import DeviceEvent, Outage, ProbeResultRow, SiteIncident, StatusInterval
from fleetops.platform import events
from fleetops.services.monitoring import IngestConfig, ingest_results

T0 = datetime(2026, 6, 21, 13, 0, tzinfo=timezone.utc)  # 21:00 in Urumqi-ish Beijing time
MIN = timedelta(minutes=1)
NOW = T0 + timedelta(days=1)
CFG = IngestConfig(poll_interval_s=60, down_after=3)


def make_site(db, code="K105", kinds=("checkpoint_camera",), **dev):
    site = Site(code=code, name=f"{code} 北门卡口", district="天山区", latitude=43.8, longitude=87.6)
    db.add(site)
    db.flush()
    devices = []
    for i, kind in enumerate(kinds, start=1):
        d = Device(code=f"{code}-D{i}", kind=kind, site_id=site.id, lifecycle="online",
                   ip_address=f"127.0.{site.id}.{i}", **dev)
        db.add(d)
        devices.append(d)
    db.commit()
    return site, devices


def lines(code, pattern, probe="ping", start=T0, step=MIN, uptimes=None):
    out = []
    for i, ch in enumerate(pattern):
        r = {"device": code, "probe": probe, "ok": ch == ".", "at": (start + i * step).isoformat()}
        if uptimes is not None and ch == ".":
            r["metrics"] = {"sys_uptime_s": uptimes[i]}
        out.append(r)
    return out


def ingest(db, results, cfg=CFG):
    summary = ingest_results(db, results, cfg, now=NOW)
    db.commit()
    return summary


def outages(db, device):
    return [(o.started_at, o.ended_at) for o in db.scalars(
        select(Outage).where(Outage.device_id == device.id, Outage.retracted_at.is_(None)).order_by(Outage.started_at))]


def intervals(db, device):
    return [(i.start_s, i.end_s, i.state, i.outage_id is not None) for i in db.scalars(
        select(StatusInterval).where(StatusInterval.device_id == device.id).order_by(StatusInterval.start_s))]


@pytest.fixture
def captured():
    got = []

    def grab(name):
        def h(_session, **payload):
            got.append((name, payload))
        return h

    names = ("outage_opened", "outage_closed", "site_incident_opened", "site_incident_closed", "device_rebooted",
             "device_hung", "device_flapping")
    hs = {n: grab(n) for n in names}
    for n, h in hs.items():
        events.connect(n, h)
    yield got
    for n, h in hs.items():
        events.disconnect(n, h)


def test_one_lost_ping_does_not_open_an_outage(db, captured):
    _, (cam,) = make_site(db)
    ingest(db, lines(cam.code, "..x.."))
    assert outages(db, cam) == [] and captured == []
    db.refresh(cam)
    assert cam.status == "up"


def test_three_lost_pings_open_an_outage_from_the_first_failure(db, captured):
    _, (cam,) = make_site(db)
    for r in lines(cam.code, "..xxx"):  # one poll at a time, as the scheduler does
        ingest(db, [r])
    assert outages(db, cam) == [(T0 + 2 * MIN, None)]
    [(name, payload)] = captured
    assert name == "outage_opened" and payload["started_at"] == T0 + 2 * MIN
    assert payload["detected_at"] == T0 + 4 * MIN  # U2: the result that crossed the threshold
    db.refresh(cam)
    assert cam.status == "down" and cam.status_since == T0 + 2 * MIN


def test_outage_ends_at_the_first_success_and_recovery_is_announced(db, captured):
    _, (cam,) = make_site(db)
    for r in lines(cam.code, "..xxxx.."):
        ingest(db, [r])
    assert outages(db, cam) == [(T0 + 2 * MIN, T0 + 6 * MIN)]
    assert [n for n, _ in captured] == ["outage_opened", "outage_closed"]
    db.refresh(cam)
    assert cam.status == "up" and cam.status_since == T0 + 6 * MIN
    assert cam.last_seen_at == T0 + 6 * MIN  # written with the recovery; otherwise only when 5 min newer
    t = int(T0.timestamp())
    assert intervals(db, cam) == [(t, t + 120, "up", False), (t + 120, t + 360, "down", True),
                                  (t + 360, t + 540, "up", False)]


def test_replaying_the_same_results_twice_changes_nothing(db, captured):
    _, (cam,) = make_site(db)
    batch = lines(cam.code, "..xxxx..xxx.")
    first = ingest(db, batch)
    before = (outages(db, cam), intervals(db, cam), len(captured))
    again = ingest(db, batch)
    assert first.stored == 12 and again.stored == 0 and again.duplicates == 12
    assert (outages(db, cam), intervals(db, cam), len(captured)) == before


def test_a_batch_partly_stored_already_stores_only_its_new_results(db, captured):
    """A resent batch that overlaps what is stored (an agent's spool after a lost answer): the stored part is
    counted as duplicates and the rest applied as if it had come alone."""
    _, (a, b) = make_site(db, kinds=("checkpoint_camera", "checkpoint_camera"))
    pattern = "..xxxx..xxx."
    ingest(db, lines(a.code, pattern[:6]))
    summary = ingest(db, lines(a.code, pattern) + lines(b.code, pattern))
    assert (summary.stored, summary.duplicates) == (6 + 12, 6)
    assert outages(db, a) == outages(db, b) == [(T0 + 2 * MIN, T0 + 6 * MIN), (T0 + 8 * MIN, T0 + 11 * MIN)]
    assert intervals(db, a) == intervals(db, b)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_results_out_of_order_give_the_same_outages(db, seed):
    _, (a, b) = make_site(db, kinds=("checkpoint_camera", "checkpoint_camera"))
    pattern = "...xxxx..x..xxx...xxxxxxx..xx.x."
    ingest(db, lines(a.code, pattern))
    shuffled = lines(b.code, pattern)
    random.Random(seed).shuffle(shuffled)
    for i in range(0, len(shuffled), 5):  # late agent batches, each out of order
        ingest(db, shuffled[i:i + 5])
    assert outages(db, a) == outages(db, b) and len(outages(db, a)) == 3
    assert [iv[2:] for iv in intervals(db, a)] == [iv[2:] for iv in intervals(db, b)]
    assert [iv[:2] for iv in intervals(db, a)] == [iv[:2] for iv in intervals(db, b)]


def test_a_late_success_splits_an_outage_and_the_cause_stays(db):
    _, (cam,) = make_site(db)
    full = lines(cam.code, "..xxxx.xxxx.")
    ingest(db, full[:6] + full[7:])  # minute 6 is missing: one long outage so far
    [o] = db.scalars(select(Outage)).all()
    o.cause = "power_utility"
    db.commit()
    assert outages(db, cam) == [(T0 + 2 * MIN, T0 + 11 * MIN)]
    ingest(db, [full[6]])  # the agent's late result: ok at minute 6
    assert outages(db, cam) == [(T0 + 2 * MIN, T0 + 6 * MIN), (T0 + 7 * MIN, T0 + 11 * MIN)]
    assert db.get(Outage, o.id).cause == "power_utility"


def test_a_gap_in_results_is_unknown_time(db):
    _, (cam,) = make_site(db)
    ingest(db, lines(cam.code, "..") + lines(cam.code, "..", start=T0 + 30 * MIN))
    t = int(T0.timestamp())
    assert intervals(db, cam) == [(t, t + 180, "up", False), (t + 1800, t + 1980, "up", False)]


def test_unknown_devices_and_bad_lines_are_reported_not_fatal(db):
    _, (cam,) = make_site(db)
    batch = lines(cam.code, "...") + [
        {"device": "NOPE-1", "probe": "ping", "ok": True, "at": T0.isoformat()},
        {"device": cam.code, "probe": "icmp", "ok": True, "at": T0.isoformat()},
        {"device": cam.code, "probe": "ping", "ok": True, "at": "2026-06-21 21:30:00"},
    ]
    s = ingest(db, batch)
    assert s.stored == 3 and s.unknown_devices == ["NOPE-1"]
    assert [r["index"] for r in s.rejected] == [4, 5, 6]
    assert "unknown device NOPE-1" == s.rejected[0]["reason"].render("en")
    assert "UTC offset" in s.rejected[2]["reason"].render("en")


def test_a_site_blackout_is_one_incident_not_ten_alarms(db, captured):
    kinds = ("switch",) + ("checkpoint_camera",) * 4 + ("fill_light",) * 2
    site, devs = make_site(db, kinds=kinds)
    for minute in range(8):
        batch = []
        for d in devs:
            batch += lines(d.code, "..xxxxx."[minute], start=T0 + minute * MIN)
        ingest(db, batch)
    assert len(db.scalars(select(SiteIncident)).all()) == 1
    names = [n for n, _ in captured]
    assert names.count("site_incident_opened") == 1 and names.count("outage_opened") == 0
    assert names.count("outage_closed") == len(devs)  # recoveries are never suppressed
    assert names.count("site_incident_closed") == 1
    inc = db.scalars(select(SiteIncident)).one()
    assert inc.started_at == T0 + 2 * MIN and inc.ended_at == T0 + 7 * MIN and inc.device_count == len(devs)


def test_a_site_blackout_replayed_days_later_is_flagged_imported_late_and_announced_to_no_one(db, captured):
    """Like a late outage: a site incident that ended more than late_import_after_h before its results arrived is
    recorded with imported_late and opens no ticket and no alert; the same blackout arriving on time is not."""
    kinds = ("switch",) + ("checkpoint_camera",) * 4
    site, devs = make_site(db, kinds=kinds)
    batch = [r for d in devs for r in lines(d.code, "..xxxxx.")]
    s = ingest_results(db, batch, CFG, now=T0 + timedelta(days=5))
    db.commit()
    inc = db.scalars(select(SiteIncident)).one()
    assert inc.imported_late and inc.ended_at == T0 + 7 * MIN
    assert (s.incidents_opened, s.incidents_imported_late) == (1, 1)
    assert [n for n, _ in captured if n.startswith("site_incident")] == []
    other, devs2 = make_site(db, code="K106", kinds=kinds)
    s = ingest(db, [r for d in devs2 for r in lines(d.code, "..xxxxx.")])  # NOW: a day later, inside the limit
    late = db.scalars(select(SiteIncident).where(SiteIncident.site_id == other.id)).one()
    assert not late.imported_late and s.incidents_imported_late == 0
    assert [n for n, _ in captured if n.startswith("site_incident")] == ["site_incident_opened", "site_incident_closed"]


def test_children_of_a_dark_site_show_unreachable_via_parent(db):
    site, devs = make_site(db, kinds=("switch", "checkpoint_camera", "epolice_camera"))
    for minute in range(5):
        ingest(db, [r for d in devs for r in lines(d.code, "..xxx"[minute], start=T0 + minute * MIN)])
    statuses = {d.kind: db.get(Device, d.id).status for d in devs}
    db.expire_all()
    statuses = {d.kind: db.get(Device, d.id).status for d in devs}
    assert statuses == {"switch": "down", "checkpoint_camera": "unreachable", "epolice_camera": "unreachable"}


def test_one_camera_down_at_a_big_site_is_an_ordinary_outage(db, captured):
    _, devs = make_site(db, kinds=("checkpoint_camera",) * 4)
    ingest(db, lines(devs[0].code, "..xxx") + [r for d in devs[1:] for r in lines(d.code, ".....")])
    assert [n for n, _ in captured] == ["outage_opened"]
    assert db.scalars(select(SiteIncident)).all() == []


def test_a_reboot_is_noticed_although_no_poll_failed(db, captured):
    _, (cam,) = make_site(db, snmp_version="v2c")
    ingest(db, lines(cam.code, "....", probe="snmp", uptimes=[1000, 1060, 20, 80]))
    [ev] = db.scalars(select(DeviceEvent)).all()
    assert ev.kind == "rebooted" and ev.at == T0 + 2 * MIN
    assert [n for n, _ in captured] == ["device_rebooted"]


def test_the_uptime_counter_wrap_is_not_a_reboot(db):
    _, (cam,) = make_site(db, snmp_version="v2c")
    wrap = 2 ** 32 / 100
    ingest(db, lines(cam.code, "...", probe="snmp", uptimes=[wrap - 90, wrap - 30, 30]))
    assert db.scalars(select(DeviceEvent)).all() == []


def test_a_hung_device_answers_ping_but_not_snmp(db, captured):
    _, (cam,) = make_site(db, snmp_version="v2c")
    ingest(db, lines(cam.code, "......") + lines(cam.code, "..xxxx", probe="snmp", uptimes=[5, 65, 0, 0, 0, 0]))
    [ev] = db.scalars(select(DeviceEvent).where(DeviceEvent.kind == "hung")).all()
    assert ev.at == T0 + 2 * MIN and ev.ended_at is None
    assert outages(db, cam) == []
    db.refresh(cam)
    assert cam.status == "hung"
    assert ("device_hung", {"device_id": cam.id, "at": T0 + 4 * MIN}) in captured


def test_snmp_silent_while_ping_is_down_is_an_outage_not_hung(db):
    _, (cam,) = make_site(db, snmp_version="v2c")
    ingest(db, lines(cam.code, "..xxxx") + lines(cam.code, "..xxxx", probe="snmp", uptimes=[5, 65, 0, 0, 0, 0]))
    assert db.scalars(select(DeviceEvent).where(DeviceEvent.kind == "hung")).all() == []
    assert len(outages(db, cam)) == 1


def _demo_dying_camera(code):
    t = datetime(2026, 6, 21, 12, 55, 31, tzinfo=timezone.utc)
    return [lines(code, p, start=t + i * MIN) + lines(code, "x", probe="snmp", start=t + i * MIN)
            for i, p in enumerate(".xxx")]


def test_a_dying_device_is_never_reported_hung(db, captured):
    """Live demo: ICMP and SNMP both dropped; ping still debouncing must not read as "answers ping"."""
    _, (cam,) = make_site(db, snmp_version="v2c")
    for poll in _demo_dying_camera(cam.code):  # one poll at a time, as the scheduler ingests them
        ingest(db, poll)
        db.refresh(cam)
        assert cam.status != "hung"
    assert db.scalars(select(DeviceEvent).where(DeviceEvent.kind == "hung")).all() == []
    assert [n for n, _ in captured] == ["outage_opened"]
    assert outages(db, cam) == [(datetime(2026, 6, 21, 12, 56, 31, tzinfo=timezone.utc), None)]
    assert cam.status == "down"


@pytest.mark.parametrize("seed", [1, 2])
def test_a_dying_device_replayed_in_any_order_is_never_hung(db, captured, seed):
    _, (cam,) = make_site(db, snmp_version="v2c")
    results = [r for poll in _demo_dying_camera(cam.code) for r in poll]
    random.Random(seed).shuffle(results)
    for r in results:
        ingest(db, [r])
    assert "device_hung" not in [n for n, _ in captured]
    assert db.scalars(select(DeviceEvent).where(DeviceEvent.kind == "hung")).all() == []
    db.refresh(cam)
    assert cam.status == "down"


def test_snmp_results_arriving_before_their_pings_are_judged_once_the_pings_arrive(db, captured):
    _, (cam,) = make_site(db, snmp_version="v2c")
    ingest(db, lines(cam.code, "..xxxx", probe="snmp"))
    assert db.scalars(select(DeviceEvent).where(DeviceEvent.kind == "hung")).all() == []  # ping unknown yet
    ingest(db, lines(cam.code, "......"))
    [ev] = db.scalars(select(DeviceEvent).where(DeviceEvent.kind == "hung")).all()
    assert (ev.at, ev.detected_at, ev.ended_at) == (T0 + 2 * MIN, T0 + 4 * MIN, None)
    db.refresh(cam)
    assert cam.status == "hung"


def test_a_device_that_blocks_icmp_is_judged_by_snmp(db):
    _, (cam,) = make_site(db, snmp_version="v2c", liveness_probe="snmp")
    ingest(db, lines(cam.code, "xxxxxx") + lines(cam.code, "..xxx.", probe="snmp", uptimes=[5, 65, 0, 0, 0, 245]))
    assert outages(db, cam) == [(T0 + 2 * MIN, T0 + 5 * MIN)]


def test_flapping_is_recorded_once_per_window(db, captured):
    _, (cam,) = make_site(db)
    ingest(db, lines(cam.code, ".x.x.x.x.x.x", start=datetime(2026, 6, 21, 13, 0, tzinfo=timezone.utc)))
    flaps = db.scalars(select(DeviceEvent).where(DeviceEvent.kind == "flapping")).all()
    assert len(flaps) == 1 and outages(db, cam) == []
    assert [n for n, _ in captured] == ["device_flapping"]


def test_results_are_stored_compactly_once(db):
    _, (cam,) = make_site(db)
    ingest(db, lines(cam.code, ".x."))
    ingest(db, lines(cam.code, ".x."))
    assert db.query(ProbeResultRow).count() == 3


def _events(db, device):
    return sorted((e.kind, e.at, e.ended_at) for e in db.scalars(
        select(DeviceEvent).where(DeviceEvent.device_id == device.id)))


@pytest.mark.parametrize("seed", [5, 6])
def test_reboots_hung_and_flapping_do_not_depend_on_arrival_order_or_repeats(db, captured, seed):
    _, (a, b) = make_site(db, kinds=("checkpoint_camera", "epolice_camera"), snmp_version="v2c")
    ping = ".x.x.x.x......."
    snmp = "..........xxx.."  # hung: SNMP silent for 3 polls whose own ping succeeded
    up = [100 + 60 * i for i in range(15)]
    up[9:] = [5 + 60 * k for k in range(6)]  # rebooted just before minute 9
    def batch(code):
        return lines(code, ping) + lines(code, snmp, probe="snmp", uptimes=up)
    ingest(db, batch(a.code))
    n_events = len(captured)
    ingest(db, batch(a.code))
    assert len(captured) == n_events  # a replay announces nothing again
    shuffled = batch(b.code)
    random.Random(seed).shuffle(shuffled)
    for i in range(0, len(shuffled), 4):
        ingest(db, shuffled[i:i + 4])
    kinds = [k for k, _at, _end in _events(db, a)]
    assert sorted(kinds) == ["flapping", "hung", "rebooted"]
    assert _events(db, a) == _events(db, b)


@pytest.mark.parametrize("seed", [7, 8])
def test_a_site_blackout_replayed_out_of_order_is_still_one_incident(db, seed):
    site, devs = make_site(db, kinds=("switch", "checkpoint_camera", "checkpoint_camera", "fill_light"))
    batch = [r for d in devs for r in lines(d.code, "..xxxxx..")]
    random.Random(seed).shuffle(batch)
    for i in range(0, len(batch), 6):
        ingest(db, batch[i:i + 6])
    ingest(db, batch)  # and once more, all of it
    [inc] = db.scalars(select(SiteIncident).where(SiteIncident.retracted_at.is_(None))).all()
    assert (inc.started_at, inc.ended_at, inc.device_count) == (T0 + 2 * MIN, T0 + 7 * MIN, 4)
    assert {o.site_incident_id for o in db.scalars(select(Outage))} == {inc.id}


def test_a_failed_probe_keeps_its_reason_code_and_a_file_line_its_words(db):
    """Our own poll stores the probe's reason as a stored Msg (either language, never cut JSON); a replayed
    line keeps the detail it was written with."""
    from probes.base import ProbeResult

    from fleetops.domain.text import Msg, render_stored

    _, (cam,) = make_site(db)
    timeout = ProbeResult(cam.code, "ping", False, at=T0, detail="timeout after 1.0 s", reason="timeout",
                          params={"timeout_s": 1.0})
    huge = ProbeResult(cam.code, "ping", False, at=T0 + MIN, detail="x" * 300, reason="socket_error",
                       params={"error": "没有缓冲区空间 " * 40})
    line = {"device": cam.code, "probe": "ping", "ok": False, "at": (T0 + 2 * MIN).isoformat(),
            "detail": "timeout after 1.0 s"}
    ingest(db, [timeout, huge, line])
    rows = db.scalars(select(ProbeResultRow).where(ProbeResultRow.device_id == cam.id)
                      .order_by(ProbeResultRow.at)).all()
    assert render_stored(rows[0].detail, "en") == "No answer within 1.0 s"
    assert render_stored(rows[0].detail, "zh") == "1.0 秒内无应答"
    assert len(rows[1].detail) <= 200 and Msg.from_stored(rows[1].detail).msgid.startswith("Socket error")
    assert rows[2].detail == "timeout after 1.0 s"


def test_event_details_are_stored_sentences(db):
    from fleetops.domain.text import render_stored

    _, (cam,) = make_site(db, snmp_version="v2c", snmp_community="public")
    ingest(db, lines(cam.code, ".........", probe="ping") + lines(cam.code, "..xxx....", probe="snmp"))
    [hung] = db.scalars(select(DeviceEvent).where(DeviceEvent.kind == "hung")).all()
    assert render_stored(hung.detail, "en") == "Ping answers, SNMP is silent"
    assert render_stored(hung.detail, "zh") == "能 ping 通，SNMP 无响应"
