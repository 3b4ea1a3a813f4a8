"""CLI (ingest-results, uptime) and the real poll cycle on loopback (U1, U2): ping 127.0.0.x, SNMP to a silent port."""
import json
import socket
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner
from sqlalchemy import select

import fleetops.cli as cli
from fleetops.models import Device, Site
from fleetops.models.monitoring import DeviceEvent, OnlineRateSample, Outage, ProbeResultRow
from fleetops.services.monitoring import IngestConfig, ingest_results, poll_once, prune_results, sample_online_rate

UTC = timezone.utc
MIN = timedelta(minutes=1)


@pytest.fixture
def runner(app, monkeypatch):
    monkeypatch.setattr(cli, "_app", app)
    return CliRunner()


@pytest.fixture
def site(db):
    s = Site(code="K105", name="K105 北门卡口", district="天山区", latitude=43.8, longitude=87.6)
    db.add(s)
    db.commit()
    return s


def add(db, site, code, **kw):
    d = Device(code=code, kind=kw.pop("kind", "checkpoint_camera"), site_id=site.id, lifecycle="online", **kw)
    db.add(d)
    db.commit()
    return d


def jsonl(tmp_path, rows, extra_lines=()):
    p = tmp_path / "results.jsonl"
    p.write_text("\n".join([json.dumps(r, ensure_ascii=False) for r in rows] + list(extra_lines)) + "\n", "utf-8")
    return p


def result_lines(code, pattern, start):
    return [{"device": code, "probe": "ping", "ok": ch == ".", "at": (start + i * MIN).isoformat(),
             "metrics": {"rtt_ms": 0.4} if ch == "." else {}, "detail": "" if ch == "." else "timeout after 1.0 s"}
            for i, ch in enumerate(pattern)]


def test_ingest_results_file_then_uptime_json(runner, db, site, tmp_path):
    add(db, site, "K105-CAM1")
    start = datetime.now(UTC).replace(second=0, microsecond=0) - 20 * MIN
    path = jsonl(tmp_path, result_lines("K105-CAM1", "..xxxx....", start)
                 + [{"device": "K999-X", "probe": "ping", "ok": True, "at": start.isoformat()}])
    out = runner.invoke(cli.main, ["ingest-results", str(path)])
    assert out.exit_code == 1, out.output  # the unknown device's line was rejected; the others are stored
    summary = json.loads(out.stdout)
    assert summary["stored"] == 10 and summary["outages_opened"] == 1 and summary["unknown_devices"] == ["K999-X"]
    assert summary["rejected"] == 1 and summary["rejected_by_reason"][0]["lines"] == [11]
    again = json.loads(runner.invoke(cli.main, ["ingest-results", str(path)]).stdout)
    assert again["stored"] == 0 and again["duplicates"] == 10
    up = runner.invoke(cli.main, ["uptime", "--from", start.isoformat(), "--to", (start + 60 * MIN).isoformat(),
                                  "--by", "device", "--json"])
    assert up.exit_code == 0, up.output
    [row] = json.loads(up.stdout)
    # up 0–2 and 6–11 min (the last result stands for 2 polls), down 2–6, nothing known after minute 11
    assert (row["key"], row["up_s"], row["down_s"]) == ("K105-CAM1", 7 * 60, 4 * 60)
    assert row["unknown_s"] == 49 * 60 and row["raw_pct"] == round(100 * 7 / 11, 4)


def test_a_malformed_file_names_the_lines_and_strict_writes_nothing(runner, db, site, tmp_path):
    add(db, site, "K105-CAM1")
    start = datetime.now(UTC) - 10 * MIN
    path = jsonl(tmp_path, result_lines("K105-CAM1", "...", start),
                 extra_lines=['{"device": "K105-CAM1", "probe": "ping", "ok": tru',
                              '{"device": "K105-CAM1", "probe": "ping", "ok": "yes",'
                              ' "at": "2026-06-21T21:30:00+08:00"}'])
    out = runner.invoke(cli.main, ["ingest-results", "--strict", str(path)])
    assert out.exit_code == 1 and "Traceback" not in out.output
    assert "第 4 行" not in out.output and "（行 4）" in out.output and "（行 5）" in out.output
    assert "未写入任何数据" in out.output
    assert db.scalars(select(ProbeResultRow)).all() == []
    out = runner.invoke(cli.main, ["ingest-results", str(path)])
    assert out.exit_code == 1 and json.loads(out.stdout)["stored"] == 3 and "其余已保存" in out.output
    assert len(db.scalars(select(ProbeResultRow)).all()) == 3


def test_uptime_command_refuses_bad_input_with_a_sentence(runner):
    out = runner.invoke(cli.main, ["uptime", "--from", "yesterday", "--to", "2026-06-02"])
    assert out.exit_code == 1 and "ISO 8601" in out.output and "Traceback" not in out.output
    out = runner.invoke(cli.main, ["uptime", "--from", "2026-06-02", "--to", "2026-06-01"])
    assert out.exit_code == 1 and "结束时间必须晚于开始时间" in out.output


def test_missing_file_is_a_clear_error(runner, tmp_path):
    out = runner.invoke(cli.main, ["ingest-results", str(tmp_path / "nope.jsonl")])
    assert out.exit_code == 1 and "无法读取文件" in out.output


def _silent_udp_port() -> tuple[socket.socket, int]:
    """A bound UDP socket that never answers: an SNMP agent that is hung."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    return s, s.getsockname()[1]


def test_poll_cycles_on_loopback_find_a_hung_device_and_a_dead_snmp_only_device(make_app, db, site):
    app = make_app(PING_TIMEOUT_S=0.5, SNMP_TIMEOUT_S=0.3, POLL_INTERVAL_S=60)
    sock, port = _silent_udp_port()
    try:
        alive = add(db, site, "K105-CAM1", ip_address="127.0.0.1")
        hung = add(db, site, "K105-CAM2", ip_address="127.0.0.2", snmp_version="v2c", snmp_community="public",
                   snmp_port=port)
        snmp_only = add(db, site, "K105-RADAR1", kind="speed_radar", ip_address="127.0.0.3", snmp_version="v2c",
                        snmp_community="public", snmp_port=port, liveness_probe="snmp")
        add(db, site, "K105-PLANNED", ip_address="127.0.0.4").lifecycle = "planned"
        db.commit()
        for _ in range(3):
            summary = poll_once(app)
        assert summary.rejected == [] and summary.unknown_devices == []
    finally:
        sock.close()
    db.expire_all()
    assert db.get(Device, alive.id).status == "up"
    assert db.get(Device, hung.id).status == "hung"
    assert db.get(Device, snmp_only.id).status == "down"
    assert [o.device_id for o in db.scalars(select(Outage)).all()] == [snmp_only.id]
    assert db.scalars(select(DeviceEvent.device_id).where(DeviceEvent.kind == "hung")).all() == [hung.id]
    planned = db.scalar(select(Device).where(Device.code == "K105-PLANNED"))
    assert db.scalars(select(ProbeResultRow).where(ProbeResultRow.device_id == planned.id)).all() == []
    ok_ping = db.scalar(select(ProbeResultRow).where(ProbeResultRow.device_id == alive.id))
    assert ok_ping.ok and ok_ping.rtt_ms is not None


def test_online_rate_sample_and_devices_gone_quiet_become_unknown(db, site):
    a, b = add(db, site, "K105-CAM1", ip_address="127.0.0.1"), add(db, site, "K105-CAM2", ip_address="127.0.0.2")
    now = datetime.now(UTC)
    ingest_results(db, [{"device": "K105-CAM1", "probe": "ping", "ok": True, "at": now.isoformat()},
                        {"device": "K105-CAM2", "probe": "ping", "ok": True,
                         "at": (now - 10 * MIN).isoformat()}], IngestConfig(), now=now)
    sample = sample_online_rate(db, IngestConfig(poll_interval_s=60), now=now)
    db.commit()
    assert (sample.in_service, sample.online, sample.rate_pct) == (2, 1, 50.0)
    db.expire_all()
    assert db.get(Device, b.id).status == "unknown" and db.get(Device, a.id).status == "up"
    assert db.scalars(select(OnlineRateSample)).one().contract_online == 1


def test_raw_results_are_pruned_after_retention_but_outages_stay(db, site):
    add(db, site, "K105-CAM1")
    old = datetime.now(UTC) - timedelta(days=20)
    ingest_results(db, result_lines("K105-CAM1", ".xxx.", old), IngestConfig())
    db.commit()
    assert prune_results(db, retention_days=10) == 5
    db.commit()
    assert len(db.scalars(select(Outage)).all()) == 1


def test_results_older_than_retention_are_stored(db, site):
    add(db, site, "K105-CAM1")
    s = ingest_results(db, result_lines("K105-CAM1", ".", datetime.now(UTC) - timedelta(days=40)),
                       IngestConfig(retention_days=30))
    assert s.stored == 1 and s.rejected == []


def test_a_slower_poll_interval_per_kind_skips_devices_not_yet_due(db, site):
    from fleetops.services.monitoring.poll import _targets

    add(db, site, "K105-CAM1", ip_address="127.0.0.1")
    add(db, site, "K105-LIGHT1", kind="fill_light", ip_address="127.0.0.2")
    now = datetime.now(UTC)
    ingest_results(db, [{"device": c, "probe": "ping", "ok": True, "at": (now - 2 * MIN).isoformat()}
                        for c in ("K105-CAM1", "K105-LIGHT1")], IngestConfig())
    db.commit()
    cfg = IngestConfig(poll_interval_s=60, interval_by_kind={"fill_light": 600})
    pings, _tcp, _snmp, _ports, _problems = _targets(db, cfg, now)
    assert [k for k, _a in pings] == ["K105-CAM1"]
    pings, _tcp, _snmp, _ports, _problems = _targets(db, cfg, now + 10 * MIN)
    assert sorted(k for k, _a in pings) == ["K105-CAM1", "K105-LIGHT1"]
