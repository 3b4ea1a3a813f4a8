"""History of any age (issue 10): old results are stored and recomputed, replayed history floods no crew, and bad
values are a sentence naming the field — in the service, the CLI and the API."""
import json
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

import fleetops.cli as cli
from fleetops.models import Device, Site
from fleetops.models.alerts import Alert
from fleetops.models.monitoring import Outage, ProbeResultRow
from fleetops.models.tickets import Ticket
from fleetops.services.monitoring import BadResult, IngestConfig, ingest_results, parse_result, uptime_rows

UTC = timezone.utc
LOCAL = ZoneInfo("Asia/Shanghai")
MIN = timedelta(minutes=1)
CFG = IngestConfig(poll_interval_s=60, down_after=3)


@pytest.fixture
def cam(db):
    site = Site(code="K105", name="K105 北门卡口", district="天山区", latitude=43.8, longitude=87.6)
    db.add(site)
    db.flush()
    d = Device(code="K105-CAM1", kind="checkpoint_camera", site_id=site.id, lifecycle="online",
               ip_address="127.0.0.9", installed_on=datetime(2025, 4, 18).date(),
               in_service_from=datetime(2025, 4, 18, tzinfo=LOCAL))
    db.add(d)
    db.commit()
    return d


def lines(pattern, start, code="K105-CAM1"):
    return [{"device": code, "probe": "ping", "ok": ch == ".", "at": (start + i * MIN).isoformat()}
            for i, ch in enumerate(pattern)]


def count(db, model):
    return db.scalar(select(func.count()).select_from(model))


def test_a_month_older_than_the_retention_replays_to_hand_computed_seconds_and_twice_is_the_same(db, cam):
    now = datetime.now(UTC)
    month_start = (now.astimezone(LOCAL).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
                   - timedelta(days=40)).replace(day=1)
    month_end = (month_start + timedelta(days=32)).replace(day=1)
    t0 = month_start + timedelta(days=9, hours=8)  # well past the 30-day retention
    # 10 up, 5 failed (down from the 1st failure), 10 up; the last result stands for 2 polls
    batch = lines("." * 10 + "x" * 5 + "." * 10, t0)
    first = ingest_results(db, batch, CFG, now=now)
    db.commit()
    assert (first.stored, first.rejected, first.outages_opened, first.imported_late) == (25, [], 1, 1)
    figures = []
    for _ in range(2):
        [row] = uptime_rows(db, month_start, month_end, by="device")
        figures.append((row.in_service_s, row.up_s, row.down_s, row.unknown_s))
        again = ingest_results(db, batch, CFG, now=now)
        db.commit()
        assert (again.stored, again.duplicates, again.outages_opened) == (0, 25, 0)
    month_s = int((month_end - month_start).total_seconds())
    assert figures[0] == figures[1] == (month_s, 21 * 60, 5 * 60, month_s - 26 * 60)
    [outage] = db.scalars(select(Outage)).all()
    assert outage.imported_late and outage.started_at == t0 + 10 * MIN and outage.ended_at == t0 + 15 * MIN
    assert count(db, Ticket) == 0 and count(db, Alert) == 0  # history floods no crew


def test_a_recent_outage_caught_up_late_is_handled_as_if_on_time(db, cam):
    now = datetime.now(UTC).replace(microsecond=0)
    t0 = now - timedelta(hours=5)  # an agent catching up after a 5-hour network cut (limit: 48 h)
    s = ingest_results(db, lines("..xxxx..", t0), CFG, now=now)
    db.commit()
    assert (s.outages_opened, s.imported_late) == (1, 0)
    [outage] = db.scalars(select(Outage)).all()
    [ticket] = db.scalars(select(Ticket)).all()
    assert not outage.imported_late and outage.detected_at == t0 + 4 * MIN  # the 3rd failure, not the arrival
    assert ticket.detected_at == outage.detected_at


def test_the_late_limit_is_a_parameter(db, cam):
    from fleetops.platform import parameters

    parameters.set_value(db, "late_import_after_h", 2, "admin")
    now = datetime.now(UTC)
    s = ingest_results(db, lines("..xxxx..", now - timedelta(hours=5)), CFG, now=now)
    db.commit()
    assert s.imported_late == 1 and count(db, Ticket) == 0


@pytest.mark.parametrize("result, field", [
    ({"at": "0001-01-01T00:00:00+08:00"}, "'at'"),
    ({"at": "9999-12-31T23:59:59-08:00"}, "'at'"),
    ({"at": "1969-12-31T23:59:59+00:00"}, "'at'"),
    ({"metrics": {"rtt_ms": int("9" * 400)}}, "metrics.rtt_ms"),
    ({"metrics": {"sys_uptime_s": 1e300}}, "metrics.sys_uptime_s"),
])
def test_out_of_range_values_are_a_sentence_naming_the_field(result, field):
    line = {"device": "K105-CAM1", "probe": "ping", "ok": True, "at": "2026-06-21T21:30:00+08:00", **result}
    with pytest.raises(BadResult) as err:
        parse_result(line)
    assert field in err.value.msg.render("en")


def test_ingest_results_summarises_by_reason_writes_the_rejects_and_exits_non_zero(app, db, cam, tmp_path,
                                                                                   monkeypatch):
    monkeypatch.setattr(cli, "_app", app)
    start = datetime.now(UTC).replace(second=0, microsecond=0) - 20 * MIN
    good = lines(".....", start)
    bad_year = {**good[0], "at": "0001-01-01T00:00:00+08:00"}
    ghost = {**good[0], "device": "GHOST-1"}
    text = [json.dumps(x) for x in good[:2] + [bad_year, bad_year] + good[2:] + [ghost]] + ["{oops"]
    path = tmp_path / "r.jsonl"
    path.write_text("\n".join(text) + "\n", "utf-8")
    rejects = tmp_path / "rejects.jsonl"
    out = CliRunner().invoke(cli.main, ["ingest-results", str(path), "--rejects", str(rejects)])
    assert out.exit_code == 1 and "Traceback" not in out.output
    summary = json.loads(out.stdout)
    assert (summary["received"], summary["stored"], summary["rejected"]) == (9, 5, 4)
    groups = {g["lines"][0]: (g["count"], g["lines"]) for g in summary["rejected_by_reason"]}
    assert groups == {3: (2, [3, 4]), 8: (1, [8]), 9: (1, [9])}
    assert "拒收 2 条：'at' 超出范围" in out.stderr and "（行 3, 4）" in out.stderr
    listed = [json.loads(x) for x in rejects.read_text("utf-8").splitlines()]
    assert [r["line"] for r in listed] == [3, 4, 8, 9] and listed[3]["text"] == "{oops"
    assert "未知设备 GHOST-1" == listed[2]["reason"]
    assert count(db, ProbeResultRow) == 5
    again = CliRunner().invoke(cli.main, ["ingest-results", str(path), "--strict"])
    assert again.exit_code == 1 and "未写入任何数据" in again.stderr and json.loads(again.stdout)["stored"] == 0


def test_api_bad_values_are_a_422_naming_the_field_and_strict_writes_nothing(app, db, cam, api_headers):
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    good = lines("...", now - 10 * MIN)
    c = app.test_client()
    h = api_headers("supervisor")
    for bad in ({**good[0], "at": "0001-01-01T00:00:00+08:00"}, {**good[0], "metrics": {"rtt_ms": int("9" * 400)}}):
        strict = c.post("/api/v1/probe-results?strict=1", json=good + [bad], headers=h)
        assert strict.status_code == 422 and strict.get_json()["stored"] == 0 and count(db, ProbeResultRow) == 0
    resp = c.post("/api/v1/probe-results", json=good + [{**good[0], "at": "0001-01-01T00:00:00+08:00"}],
                  headers={**h, "Accept-Language": "en"})
    body = resp.get_json()
    assert resp.status_code == 422 and "'at'" in body["error"] and body["stored"] == 3
    assert body["rejected"] == 1 and body["rejected_lines"][0]["index"] == 4
    assert body["rejected_by_reason"][0]["lines"] == [4]
