"""The agent's spool (issue 14): bounded, the oldest batches dropped first, the drop reported to the centre when it
is back, the rest replayed in order; the agent's health (spool depth, lag, version) reaches the centre. The centre
is a real werkzeug server on loopback; the agent runs in-process and pings real loopback addresses."""
from sqlalchemy import func, select

from fleetops.agent.client import Centre
from fleetops.agent.runner import Agent
from fleetops.agent.spool import Spool
from fleetops.models import AuditLog, Device
from fleetops.models.agents import ProbeAgent
from fleetops.models.monitoring import ProbeResultRow
from fleetops.services import agents
from tests.services.test_agents import centre, two_districts


def test_a_full_spool_drops_the_oldest_and_the_centre_is_told(app, db, tmp_path):
    fleet = two_districts(db, per_district=2, first_octet=42)
    agent, token = agents.create_agent(db, "east", districts=["东区"])
    db.commit()
    url, stop = centre(app)
    stop()  # the centre is away from the start of this story
    said = []
    spool = Spool(str(tmp_path / "spool.sqlite3"), max_results=4)  # two batches of two devices
    program = Agent(Centre(url, token, timeout_s=5), spool, said.append)
    spool.save_config({"version": "v0", "settings": {"POLL_INTERVAL_S": 60, "PING_TIMEOUT_S": 1.0},
                       "devices": [{"code": c, "kind": "checkpoint_camera", "address": f"127.42.0.{i + 1}",
                                    "liveness": "ping", "liveness_port": None, "snmp": None}
                                   for i, c in enumerate(fleet["东区"])]})
    made = []
    for _ in range(3):
        report = program.cycle()
        assert not report["centre_up"] and report["spooled"] == 2
        made.append(report)
    assert spool.depth() == 4 and spool.batches() == 2  # the first batch was dropped
    assert spool.dropped()["results"] == 2
    assert any("full" in str(m) or "已满" in str(m) for m in said)
    kept = [spool.oldest()[2]]
    url2, stop2 = centre(app)
    try:
        program.centre = Centre(url2, token, timeout_s=5)
        back = program.cycle()
    finally:
        stop2()
    assert back["centre_up"] and back["flushed"] == 4 and back["pushed"] == 2 and spool.depth() == 0
    assert spool.dropped() == {}  # told
    db.expire_all()
    row = db.get(ProbeAgent, agent.id)
    assert row.dropped_results == 2 and row.spool_depth == 0 and row.version.startswith("fleetops-agent/")
    assert row.lag_s is not None and row.lag_s < 600
    assert db.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "agent_spool_dropped")) == 1
    stored = db.scalars(select(ProbeResultRow.at).join(Device, Device.id == ProbeResultRow.device_id)).all()
    assert len(stored) == 6  # the two spooled batches kept, and the new one; the dropped one never arrives
    oldest_kept = min(r["at"] for r in kept[0])
    assert min(s.isoformat() for s in stored) >= oldest_kept[:19]


def test_the_spool_survives_a_restart_and_keeps_the_order(tmp_path):
    path = str(tmp_path / "spool.sqlite3")
    spool = Spool(path, max_results=100)
    for n in range(3):
        spool.add(f"b{n}", [{"device": "X", "probe": "ping", "ok": True, "at": f"2026-12-01T00:0{n}:00+00:00"}])
    spool.close()
    again = Spool(path)
    order = []
    while (item := again.oldest()) is not None:
        order.append(item[1])
        again.remove(item[0])
    assert order == ["b0", "b1", "b2"]
    import os
    import stat

    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600  # the cached device list holds SNMP credentials
