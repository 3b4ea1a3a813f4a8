"""SIGKILL the real `fleetops scheduler` while it ingests a poll of a simulated fleet on loopback, then start it
again: every acknowledged poll (its log line printed) is kept, the killed one left nothing half-written, each dead
device has one outage, one ticket and one alert, and one scheduler leads (issue 11)."""
import re
import time

from sqlalchemy import func, select, text

from fleetops.models import Device, Site
from fleetops.models.alerts import Alert
from fleetops.models.monitoring import Outage, ProbeResultRow
from fleetops.models.tickets import Ticket
from fleetops.scheduler import ADVISORY_LOCK_ID
from fleetops.simulator import Simulator, SimDevice
from tests.faults.conftest import kill9, wait_for

DEVICES, DEAD = 150, ("F000-CAM1", "F001-CAM1", "F002-CAM1")
POLL_LINE = re.compile(r"job=poll devices=(\d+) results=(\d+) .*probe_s=([\d.]+) duration_s=([\d.]+)")
INTERVAL_S = 2


def counts(db):
    db.expire_all()
    found = {m.__name__: db.scalar(select(func.count()).select_from(m)) for m in (ProbeResultRow, Outage, Ticket)}
    # the device-down alerts (no crew is set up here, so each ticket also escalates "nobody qualified": T8)
    found["Alert"] = db.scalar(select(func.count()).select_from(Alert).where(Alert.kind == "device_down"))
    db.rollback()
    return found


def polls(proc):
    """(results, probe_s, duration_s) of every poll the scheduler acknowledged (logged after commit)."""
    return [tuple(map(float, m.groups()[1:])) for m in POLL_LINE.finditer(proc.err_path.read_text())]


def test_sigkill_of_the_scheduler_mid_ingest_keeps_every_acknowledged_poll_and_doubles_nothing(
        db, fleetops_cli):
    sims = [SimDevice(f"F{i:03d}-CAM1", f"F{i:03d}", f"127.33.{i // 250}.{i % 250 + 1}", port=0, community=f"c{i}",
                      tcp_port=0) for i in range(DEVICES)]
    with Simulator(sims, firewall=False, control_port=None, tick_s=0.2, warn_no_firewall=False) as sim:
        ports = sim.ports_used()
        for d in sims:
            site = Site(code=d.site, name=f"{d.site} 北门卡口", district="天山区", latitude=45.6, longitude=84.9)
            db.add(site)
            db.flush()
            db.add(Device(code=d.code, kind="checkpoint_camera", site_id=site.id, lifecycle="online",
                          ip_address=d.address, liveness_probe="tcp", liveness_port=ports[d.code][1],
                          snmp_version="v2c", snmp_port=ports[d.code][0], snmp_community=d.community))
        db.commit()
        for code in DEAD:
            sim.add_fault("dead", device=code)
        from fleetops.models import crypto

        env = {"FLEETOPS_POLL_INTERVAL_S": str(INTERVAL_S),  # the key the test stored the communities with
               "FLEETOPS_SECRETS_KEY": ",".join(k.decode() for k in crypto.KEYRING.known)}

        first = fleetops_cli("scheduler", name="first", **env)
        # Wait until the outages are open (3 failed polls), then aim the kill at the middle of the next ingest.
        assert wait_for(lambda: counts(db)["Outage"] == len(DEAD), timeout=40), first.err_path.read_text()
        assert wait_for(lambda: len(polls(first)) >= 4, timeout=20)
        seen = len(polls(first))
        assert wait_for(lambda: len(polls(first)) > seen, timeout=10)
        _, probe_s, duration_s = polls(first)[-1]
        time.sleep(max(0.0, INTERVAL_S - duration_s) + probe_s + (duration_s - probe_s) / 2)
        kill9(first)
        acknowledged = polls(first)
        after_kill = counts(db)
        # Every acknowledged poll is stored; the killed one left none of its results.
        assert after_kill["ProbeResultRow"] == sum(r for r, _, _ in acknowledged), (after_kill, acknowledged)
        assert after_kill["Outage"] == after_kill["Ticket"] == after_kill["Alert"] == len(DEAD)

        second = fleetops_cli("scheduler", name="second", **env)
        assert wait_for(lambda: len(polls(second)) >= 2, timeout=30), second.err_path.read_text()
        if db.get_bind().dialect.name == "postgresql":  # one leader: one session holds the advisory lock
            holders = db.scalar(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND "
                                     "((classid::bigint << 32) | objid::bigint) = :k"), {"k": ADVISORY_LOCK_ID})
            db.rollback()
            assert holders == 1
        final = counts(db)
        assert final["ProbeResultRow"] == after_kill["ProbeResultRow"] + sum(r for r, _, _ in polls(second))
        assert final["Outage"] == final["Ticket"] == final["Alert"] == len(DEAD)  # no duplicate after restart
        db.expire_all()
        assert {o.device.code for o in db.scalars(select(Outage).where(Outage.ended_at.is_(None)))} == set(DEAD)
        db.rollback()
        log = second.err_path.read_text() + second.out_path.read_text()
        assert "scheduler: leading" in log, log  # a person can read who leads
