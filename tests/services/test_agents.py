"""Probe agents (issue 14): registration with a token shown once, the agent API (scope-limited, token auth,
ETag'd device list), a batch applied once, the central poll leaving agent devices alone, a silent agent as one
alert with its devices unknown, the admin page. The centre is a real werkzeug server on 127.0.0.1:0 with the
test's database; the agent runs in-process and probes real loopback addresses."""
import json
import re
import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import func, select
from werkzeug.serving import make_server

import fleetops.cli as cli
from fleetops.models import AuditLog, Device, Site
from fleetops.models.agents import ProbeAgent
from fleetops.models.alerts import Alert
from fleetops.models.monitoring import Outage, ProbeResultRow
from fleetops.models.tickets import Ticket
from fleetops.services import agents
from fleetops.services.monitoring import poll_once
from fleetops.services.monitoring import detectors

UTC = timezone.utc


# ------------------------------------------------------------------------------------------------ fixtures
def centre(app):
    """A real HTTP server on a free loopback port serving `app`; returns (url, stop)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop():
        server.shutdown()
        server.server_close()
        thread.join(10)

    return f"http://127.0.0.1:{server.server_port}", stop


@pytest.fixture
def served(app):
    url, stop = centre(app)
    yield url
    stop()


def two_districts(db, per_district=3, first_octet=41):
    """Sites in 东区 and 西区 with `per_district` ping-only cameras each on loopback (127.<first_octet>.x.y);
    returns {"东区": [codes], "西区": [codes]}."""
    out = {}
    for n, district in enumerate(("东区", "西区")):
        site = Site(code=f"S{n}", name=f"{district}卡口", district=district, latitude=45.6, longitude=84.9)
        db.add(site)
        db.flush()
        codes = []
        for i in range(per_district):
            code = f"S{n}-CAM{i + 1}"
            db.add(Device(code=code, kind="checkpoint_camera", site_id=site.id, lifecycle="online",
                          ip_address=f"127.{first_octet}.{n}.{i + 1}", liveness_probe="ping"))
            codes.append(code)
        out[district] = codes
    db.commit()
    return out


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def line(code, ok=True, at=None):
    at = at or datetime.now(UTC).replace(microsecond=0)
    return {"device": code, "probe": "ping", "ok": ok, "at": at.isoformat(),
            **({"metrics": {"rtt_ms": 0.3}} if ok else {"detail": "timeout"})}


def batch(results, batch_id=None, **health):
    return {"batch_id": batch_id or uuid.uuid4().hex, "results": results,
            "agent": {"spool_depth": 0, "lag_s": 1.5, "version": "test-agent/1", **health}}


# ------------------------------------------------------------------------------------------------ registration
def test_create_agent_prints_its_token_once_and_stores_only_its_hash(app, db, monkeypatch):
    monkeypatch.setattr(cli, "_app", app)
    out = CliRunner().invoke(cli.main, ["create-agent", "东区探针", "--district", "东区", "--cidr", "10.8.0.0/16"])
    assert out.exit_code == 0, out.output
    found = re.findall(r"fa_[A-Za-z0-9_-]+", out.output)
    assert len(found) == 1 and len(found[0]) > 30, out.output  # printed once
    token = found[0]
    assert "令牌" in out.output  # in Chinese by default
    row = db.scalar(select(ProbeAgent))
    assert row.name == "东区探针" and row.districts == ["东区"] and row.cidrs == ["10.8.0.0/16"]
    assert token not in json.dumps([row.token_hash, row.prefix]) and row.token_hash != token
    audit = db.scalars(select(AuditLog).where(AuditLog.entity_type == "probe_agent")).all()
    assert [a.action for a in audit] == ["agent_created"] and token not in (audit[0].summary or "")
    again = CliRunner().invoke(cli.main, ["create-agent", "东区探针", "--district", "东区"])
    assert again.exit_code == 1 and "东区探针" in again.output  # the name is taken: said, not a traceback
    bad = CliRunner().invoke(cli.main, ["create-agent", "x", "--cidr", "10.0.0.300/8"])
    assert bad.exit_code == 1 and "cidr" in bad.output and "Traceback" not in bad.output
    listed = CliRunner().invoke(cli.main, ["agents", "--json"])
    assert json.loads(listed.output)[0]["name"] == "东区探针" and token not in listed.output


# ------------------------------------------------------------------------------------------------ the agent API
def test_an_agent_fetches_only_its_scope_and_refreshes_only_on_change(app, db, served):
    fleet = two_districts(db)
    _a, token = agents.create_agent(db, "east", districts=["东区"])
    db.commit()
    r = requests.get(f"{served}/api/v1/agent/config", headers=bearer(token), timeout=10)
    assert r.status_code == 200, r.text
    body = r.json()
    assert sorted(d["code"] for d in body["devices"]) == fleet["东区"]
    assert body["settings"]["POLL_INTERVAL_S"] == app.config["POLL_INTERVAL_S"]
    etag = r.headers["ETag"]
    assert etag.strip('"') == body["version"]
    same = requests.get(f"{served}/api/v1/agent/config", headers={**bearer(token), "If-None-Match": etag},
                        timeout=10)
    assert same.status_code == 304 and same.content == b""
    dev = db.scalar(select(Device).where(Device.code == fleet["东区"][0]))
    dev.ip_address = "127.41.9.9"  # a device moved: the list changed
    db.commit()
    changed = requests.get(f"{served}/api/v1/agent/config", headers={**bearer(token), "If-None-Match": etag},
                           timeout=10)
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert "127.41.9.9" in {d["address"] for d in changed.json()["devices"]}


def test_tokens_are_kept_apart_and_a_revoked_agent_gets_401(app, db, served, api_headers):
    two_districts(db)
    agent, token = agents.create_agent(db, "east", districts=["东区"])
    db.commit()
    person = api_headers("admin")
    assert requests.get(f"{served}/api/v1/agent/config", headers=person, timeout=10).status_code == 403
    assert requests.get(f"{served}/api/v1/status", headers=bearer(token), timeout=10).status_code == 403
    assert requests.get(f"{served}/api/v1/agent/config", headers=bearer(token + "x"), timeout=10).status_code == 401
    agents.revoke_agent(db, agent.id, actor="test")
    db.commit()
    for resp in (requests.get(f"{served}/api/v1/agent/config", headers=bearer(token), timeout=10),
                 requests.post(f"{served}/api/v1/probe-results", headers=bearer(token),
                               json=batch([line("S0-CAM1")]), timeout=10)):
        assert resp.status_code == 401 and "error" in resp.json()
    assert db.scalar(select(func.count()).select_from(ProbeResultRow)) == 0


def test_a_batch_is_scope_limited_and_applied_once(app, db, served):
    fleet = two_districts(db)
    agent, token = agents.create_agent(db, "east", districts=["东区"])
    db.commit()
    west = fleet["西区"][0]
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    body = batch([line(c, at=at) for c in fleet["东区"]] + [line(west, ok=False, at=at), line("NOPE-1", at=at)],
                 spool_depth=12, lag_s=30.0)
    r = requests.post(f"{served}/api/v1/probe-results", headers=bearer(token), json=body, timeout=20)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["stored"] == 3 and out["rejected"] == 2 and out["duplicate"] is False
    refused = {x["device"]: x for x in out["rejected_lines"]}
    assert set(refused) == {west, "NOPE-1"} and refused[west]["index"] == 4
    assert "scope" in refused[west]["reason"] or "范围" in refused[west]["reason"]
    stored = db.scalars(select(Device.code).join(ProbeResultRow, ProbeResultRow.device_id == Device.id)).all()
    assert sorted(stored) == fleet["东区"]  # nothing of the other district was touched
    # the same batch again (its answer was lost): applied once
    again = requests.post(f"{served}/api/v1/probe-results", headers=bearer(token), json=body, timeout=20)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert db.scalar(select(func.count()).select_from(ProbeResultRow)) == 3
    db.expire_all()
    row = db.get(ProbeAgent, agent.id)
    assert row.spool_depth == 12 and row.lag_s == 30.0 and row.version == "test-agent/1" and row.last_push_at
    bad = requests.post(f"{served}/api/v1/probe-results", headers=bearer(token),
                        json={**batch([]), "agent": {"spool_depth": -1}}, timeout=10)
    assert bad.status_code == 422 and "spool_depth" in bad.json()["error"]
    no_id = requests.post(f"{served}/api/v1/probe-results", headers=bearer(token),
                          json={**batch([line(fleet["东区"][0])]), "batch_id": ""}, timeout=10)
    assert no_id.status_code == 422 and "batch_id" in no_id.json()["error"]


def test_a_dropped_spool_is_reported_and_recorded(app, db, served):
    two_districts(db)
    agent, token = agents.create_agent(db, "east", districts=["东区"])
    db.commit()
    body = batch([], dropped={"results": 500, "from": "2026-12-01T00:00:00+00:00", "to": "2026-12-01T01:00:00+00:00"})
    assert requests.post(f"{served}/api/v1/probe-results", headers=bearer(token), json=body, timeout=10).ok
    db.expire_all()
    assert db.get(ProbeAgent, agent.id).dropped_results == 500
    assert db.scalar(select(AuditLog.action).where(AuditLog.action == "agent_spool_dropped")) == "agent_spool_dropped"


# ------------------------------------------------------------------------------------------------ the centre's poll
def test_the_central_poll_never_probes_an_agents_devices(app, db):
    fleet = two_districts(db)
    agents.create_agent(db, "east", districts=["东区"])
    agents.create_agent(db, "west-range", cidrs=["127.41.1.2/32"])  # one western camera by its address
    db.commit()
    poll_once(app, now=datetime.now(UTC))
    probed = set(db.scalars(select(Device.code).join(ProbeResultRow, ProbeResultRow.device_id == Device.id)))
    assert probed == {"S1-CAM1", "S1-CAM3"}, probed
    owners = agents.owners(db)
    assert len(owners) == 4 and not probed & {c for c in fleet["东区"]}


def test_the_oldest_agent_owns_a_device_two_scopes_share(db, app):
    two_districts(db)
    first, _ = agents.create_agent(db, "a", districts=["东区"])
    second, _ = agents.create_agent(db, "b", cidrs=["127.41.0.0/16"])
    db.commit()
    by = agents.owners(db)
    ids = {d.code: d.id for d in db.scalars(select(Device))}
    assert by[ids["S0-CAM1"]] == first.id and by[ids["S1-CAM1"]] == second.id
    agents.revoke_agent(db, first.id)
    db.commit()
    assert agents.owners(db)[ids["S0-CAM1"]] == second.id  # revoked: its devices go to the next scope


# ------------------------------------------------------------------------------------------------ a silent agent
def test_a_silent_agent_is_one_alert_and_its_devices_are_unknown_not_down(app, db):
    fleet = two_districts(db)
    agent, _token = agents.create_agent(db, "east", districts=["东区"])
    db.commit()
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    from fleetops.services.monitoring import IngestConfig, ingest_results

    results = [line(c, at=t0 + timedelta(minutes=m)) for c in fleet["东区"] + fleet["西区"] for m in range(3)]
    ingest_results(db, results, IngestConfig(), now=t0 + timedelta(minutes=3))
    agents.record_health(db, agent, agents.read_health({"spool_depth": 0}), now=t0 + timedelta(minutes=2))
    db.commit()
    assert {d.status for d in db.scalars(select(Device))} == {"up"}
    # 20 minutes later: the eastern agent has not pushed; the western district (central poll) is quiet too
    now = t0 + timedelta(minutes=22)
    stats = agents.check_agents(db, now=now)
    district_stats = detectors.check_probe_silence(db, now=now)
    db.commit()
    assert stats == {"silent": 1, "opened": 1, "resolved": 0}
    alerts_open = db.scalars(select(Alert).where(Alert.state != "resolved")).all()
    agent_alerts = [a for a in alerts_open if a.key == f"probe_agent:{agent.id}:silent"]
    assert len(agent_alerts) == 1 and agent_alerts[0].kind == "probe_agent_silent"
    # the district check covers only the devices no agent probes: 西区, never 东区 a second time
    assert [a.district for a in alerts_open if a.key.startswith("agent:")] == ["西区"] and district_stats["opened"] == 1
    east = {d.code: d for d in db.scalars(select(Device)) if d.code in fleet["东区"]}
    assert {d.status for d in east.values()} == {"unknown"}
    assert db.scalar(select(func.count()).select_from(Outage)) == 0
    assert db.scalar(select(func.count()).select_from(Ticket)) == 0
    # still silent a minute later: the same one alert, nothing more
    assert agents.check_agents(db, now=now + timedelta(minutes=1))["opened"] == 0
    assert len(db.scalars(select(Alert).where(Alert.kind == "probe_agent_silent",
                                              Alert.key.like("probe_agent:%"))).all()) == 1
    # it is back: its (spooled) results arrive, the alert is resolved
    agents.record_health(db, agent, agents.read_health({}), now=now + timedelta(minutes=2))
    assert agents.check_agents(db, now=now + timedelta(minutes=2)) == {"silent": 0, "opened": 0, "resolved": 1}
    db.commit()
    assert db.get(Alert, agent_alerts[0].id).state == "resolved"


# ------------------------------------------------------------------------------------------------ the admin page
def test_the_admin_page_registers_shows_health_and_revokes(app, db, client_as):
    two_districts(db)
    admin = client_as("admin")
    r = admin.post("/admin/agents/", data={"name": "东区探针", "districts": "东区", "cidrs": ""})
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    token = page.split('class="secret-once">')[1].split("<")[0]
    assert token.startswith("fa_")
    agent = db.scalar(select(ProbeAgent))
    listing = admin.get("/admin/agents/").get_data(as_text=True)
    assert "东区探针" in listing and token not in listing  # shown once
    assert ">3<" in listing  # devices in scope
    bad = admin.post("/admin/agents/", data={"name": "x", "districts": "", "cidrs": "nonsense"})
    assert bad.status_code == 422 and "cidr" in bad.get_data(as_text=True)
    assert client_as("supervisor").get("/admin/agents/").status_code == 403
    assert admin.post(f"/admin/agents/{agent.id}/revoke").status_code == 302
    db.expire_all()
    assert db.get(ProbeAgent, agent.id).revoked_at is not None
    missing = admin.post("/admin/agents/9999/revoke", headers={"Accept": "application/json"})
    assert missing.status_code == 404 and "error" in missing.get_json()


# ------------------------------------------------------------------------------------------------ the agent, in-process
def test_the_agent_probes_its_scope_pushes_and_spools_when_the_centre_is_gone(app, db, tmp_path):
    from fleetops.agent.client import Centre
    from fleetops.agent.runner import Agent
    from fleetops.agent.spool import Spool

    fleet = two_districts(db)
    _agent, token = agents.create_agent(db, "east", districts=["东区"])
    db.commit()
    url, stop = centre(app)
    said = []
    spool = Spool(str(tmp_path / "spool.sqlite3"))
    program = Agent(Centre(url, token, timeout_s=5), spool, said.append)
    first = program.cycle()
    assert first["centre_up"] and first["pushed"] == 3 and first["spooled"] == 0
    stop()  # the centre is gone
    second = program.cycle()
    assert not second["centre_up"] and second["spooled"] == 3 and spool.depth() == 3
    assert any("spooled" in str(m) or "缓存" in str(m) for m in said)
    url2, stop2 = centre(app)  # back (on another port: a new agent object as after a restart)
    try:
        again = Agent(Centre(url2, token, timeout_s=5), Spool(str(tmp_path / "spool.sqlite3")), said.append)
        third = again.cycle()
        assert third["flushed"] == 3 and third["pushed"] == 3 and again.spool.depth() == 0
    finally:
        stop2()
    codes = db.scalars(select(Device.code).join(ProbeResultRow, ProbeResultRow.device_id == Device.id)).all()
    assert sorted(set(codes)) == fleet["东区"] and len(codes) == 9  # three cycles, each result once


def test_a_district_alert_ends_when_an_agent_takes_the_district_over(app, db):
    fleet = two_districts(db)
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    from fleetops.services.monitoring import IngestConfig, ingest_results

    ingest_results(db, [line(c, at=t0) for c in fleet["东区"] + fleet["西区"]], IngestConfig(), now=t0)
    db.commit()
    assert detectors.check_probe_silence(db, now=t0 + timedelta(minutes=20))["opened"] == 2  # both districts
    db.commit()
    agents.create_agent(db, "east", districts=["东区"])
    db.commit()
    stats = detectors.check_probe_silence(db, now=t0 + timedelta(minutes=21))
    db.commit()
    assert stats["resolved"] == 1
    open_keys = {a.key for a in db.scalars(select(Alert).where(Alert.state != "resolved"))}
    assert open_keys == {"agent:西区:silent"}
