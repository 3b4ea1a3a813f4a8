"""SNMP traps as evidence and early warning (issue 17 part 2; U3, U6): real traps sent with net-snmp's `snmptrap`
from loopback addresses of the inventory to the receiver on an ephemeral loopback port."""
import shutil
import socket
import subprocess
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from fleetops.models import Device, Site
from fleetops.models.base import utcnow
from fleetops.models.discovery import SnmpTrap
from fleetops.models.monitoring import DeviceEvent, ExclusionRequest, Outage, ProbeResultRow, SiteIncident
from fleetops.services import traps

pytestmark = pytest.mark.skipif(shutil.which("snmptrap") is None, reason="net-snmp's snmptrap (package snmp)")

UPS_ALARM_ADDED = "1.3.6.1.2.1.33.2.3"
UPS_ALARM_DESCR = "1.3.6.1.2.1.33.1.6.2.1.2.1"
UPS_INPUT_BAD = "1.3.6.1.2.1.33.1.6.3.8"
LINK_DOWN, COLD_START = "1.3.6.1.6.3.1.1.5.3", "1.3.6.1.6.3.1.1.5.1"
V3 = dict(user="trapuser", auth="SHA", auth_key="auth-pass-123", priv="AES", priv_key="priv-pass-123")


@pytest.fixture
def fleet(db):
    site = Site(code="T201", name="T201 西环路卡口", district="克拉玛依区", latitude=45.6, longitude=84.9)
    other = Site(code="T202", name="T202 北环路卡口", district="克拉玛依区", latitude=45.6, longitude=84.9)
    db.add_all([site, other])
    db.flush()
    devs = {
        "T201-PSU": Device(code="T201-PSU", kind="power_supply", site_id=site.id, lifecycle="online",
                           ip_address="127.77.1.10", snmp_version="v2c", snmp_community="trap-comm"),
        "T201-CAM1": Device(code="T201-CAM1", kind="checkpoint_camera", site_id=site.id, lifecycle="online",
                            ip_address="127.77.1.11", liveness_probe="ping"),
        "T201-CAM2": Device(code="T201-CAM2", kind="checkpoint_camera", site_id=site.id, lifecycle="online",
                            ip_address="127.77.1.12"),
        "T202-SW": Device(code="T202-SW", kind="switch", site_id=other.id, lifecycle="online",
                          ip_address="127.77.1.20", snmp_version="v3", snmp_v3_user=V3["user"],
                          snmp_v3_auth_protocol=V3["auth"], snmp_v3_auth_key=V3["auth_key"],
                          snmp_v3_priv_protocol=V3["priv"], snmp_v3_priv_key=V3["priv_key"]),
    }
    db.add_all(devs.values())
    db.commit()
    return {"site": site, "other": other, **devs}


@pytest.fixture
def receiver(app, fleet):
    r = traps.TrapReceiver(app.extensions["fleetops.sessionmaker"], dict(app.config), host="127.0.0.1", port=0)
    r.start()
    yield r
    r.stop()


def send_v2c(port, source, oid, *varbinds, community="trap-comm"):
    subprocess.run(["snmptrap", f"--clientaddr={source}", "-v2c", "-c", community, f"127.0.0.1:{port}", "", oid,
                    *varbinds], check=True, capture_output=True, timeout=20)


def send_v3(port, source, oid, *varbinds, auth_key=V3["auth_key"]):
    subprocess.run(["snmptrap", f"--clientaddr={source}", "-v3", "-e", "0x80001f8880c0ffee01", "-u", V3["user"],
                    "-l", "authPriv", "-a", V3["auth"], "-A", auth_key, "-x", V3["priv"], "-X", V3["priv_key"],
                    f"127.0.0.1:{port}", "", oid, *varbinds], check=True, capture_output=True, timeout=20)


def wait_for(db, n, timeout=15.0):
    deadline = time.monotonic() + timeout
    while True:
        db.expire_all()
        rows = db.scalars(select(SnmpTrap).order_by(SnmpTrap.id)).all()
        if len(rows) >= n or time.monotonic() > deadline:
            db.rollback()
            return rows
        db.rollback()
        time.sleep(0.1)


def test_v2c_and_v3_authpriv_traps_are_stored_with_device_oid_and_varbinds(db, fleet, receiver):
    send_v2c(receiver.port, "127.77.1.10", "1.3.6.1.4.1.8072.9999.2.1", "1.3.6.1.2.1.1.5.0", "s", "机柜门")
    send_v3(receiver.port, "127.77.1.20", LINK_DOWN, "1.3.6.1.2.1.2.2.1.1.3", "i", "3")
    rows = wait_for(db, 2)
    assert len(rows) == 2, receiver.stats
    door, link = sorted(rows, key=lambda r: r.version)
    assert (door.version, door.device_id, door.site_id, door.meaning, door.known, door.source_address) == \
        ("v2c", fleet["T201-PSU"].id, fleet["site"].id, "door_open", True, "127.77.1.10")
    assert {"oid": "1.3.6.1.2.1.1.5.0", "type": "octets", "value": "机柜门"} in door.varbinds
    assert door.principal == ""  # the community is a secret: never stored
    assert (link.version, link.principal, link.device_id, link.trap_oid, link.meaning) == \
        ("v3", "trapuser", fleet["T202-SW"].id, LINK_DOWN, "link_down")
    assert {"oid": "1.3.6.1.2.1.2.2.1.1.3", "type": "integer", "value": 3} in link.varbinds


def test_wrong_credentials_and_garbage_are_counted_and_the_receiver_goes_on(db, fleet, receiver):
    send_v2c(receiver.port, "127.77.1.10", COLD_START, community="not-ours")
    send_v3(receiver.port, "127.77.1.20", COLD_START, auth_key="wrong-pass-999")
    garbage = [b"", b"\x30", b"\x30\x82\xff\xff\x02\x01\x01", b"\x30\x03\x02\x01\x09", bytes(range(256)) * 4,
               b"\x30\x13\x02\x01\x01\x04\x09trap-comm\xa7\x03\x02\x01\x01",  # a trap PDU cut short
               b"\x30" + b"\x84\x7f\xff\xff\xff" + b"\x00" * 20]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for g in garbage:
            s.sendto(g, ("127.0.0.1", receiver.port))
    send_v2c(receiver.port, "127.77.1.12", "1.3.6.1.4.1.99999.1.2.3", "1.3.6.1.4.1.99999.1.2.3.1", "s", "odd")
    rows = wait_for(db, 1)
    deadline = time.monotonic() + 5
    while sum(receiver.stats.rejected.values()) < 2 + len(garbage) - 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [r.trap_oid for r in rows] == ["1.3.6.1.4.1.99999.1.2.3"]  # only the good one, after all the bad ones
    assert receiver.stats.rejected["unknown_community"] == 1
    assert receiver.stats.rejected["auth_failed"] == 1
    bad = receiver.stats.rejected["malformed"] + receiver.stats.rejected["unsupported"]
    assert bad >= len(garbage) - 1  # the empty datagram may not arrive at all
    unknown = rows[0]
    assert (unknown.known, unknown.meaning, unknown.device_id) == (False, "", fleet["T201-CAM2"].id)
    listed = traps.list_traps(db, meaning=traps.UNKNOWN)
    assert [(r["trap_oid"], r["device"], r["label"]) for r in listed] == [("1.3.6.1.4.1.99999.1.2.3", "T201-CAM2", None)]


def test_a_mains_failure_trap_proposes_the_power_utility_cause_for_the_sites_open_outages(db, users, fleet, receiver):
    now = utcnow()
    open_outage = Outage(device_id=fleet["T201-CAM1"].id, started_at=now - timedelta(minutes=20),
                         detected_at=now - timedelta(minutes=18))
    closed = Outage(device_id=fleet["T201-CAM2"].id, started_at=now - timedelta(hours=3),
                    detected_at=now - timedelta(hours=3), ended_at=now - timedelta(hours=2))
    elsewhere = Outage(device_id=fleet["T202-SW"].id, started_at=now - timedelta(minutes=20),
                       detected_at=now - timedelta(minutes=18))
    incident = SiteIncident(site_id=fleet["site"].id, started_at=now - timedelta(minutes=10),
                            detected_at=now - timedelta(minutes=8), device_count=2)
    db.add_all([open_outage, closed, elsewhere, incident])
    db.commit()
    send_v2c(receiver.port, "127.77.1.10", UPS_ALARM_ADDED, UPS_ALARM_DESCR, "o", UPS_INPUT_BAD)
    [trap] = wait_for(db, 1)
    assert (trap.meaning, trap.effect, trap.severity) == ("mains_failure", "mains_lost", "critical")
    reqs = db.scalars(select(ExclusionRequest).order_by(ExclusionRequest.id)).all()
    by_target = {(r.outage_id, r.site_incident_id): r for r in reqs}
    assert set(by_target) == {(None, incident.id), (open_outage.id, None)}  # not the closed one, not the other site
    assert all((r.cause, r.state, r.source) == ("power_utility", "pending", "system") for r in reqs)
    db.expire_all()
    assert db.get(Outage, open_outage.id).cause == "device_fault"  # a candidate until a supervisor confirms

    send_v2c(receiver.port, "127.77.1.10", "1.3.6.1.2.1.33.2.1")  # upsTrapOnBattery: the same news again
    assert len(wait_for(db, 2)) == 2
    assert len(db.scalars(select(ExclusionRequest)).all()) == 2  # nothing asked twice


def test_a_cold_start_is_a_reboot_and_a_link_down_reprobes_the_device_at_once(db, fleet, receiver):
    send_v2c(receiver.port, "127.77.1.10", COLD_START)
    send_v2c(receiver.port, "127.77.1.11", LINK_DOWN, "1.3.6.1.2.1.2.2.1.1.1", "i", "1")
    rows = wait_for(db, 2)
    assert {r.meaning for r in rows} == {"cold_start", "link_down"}
    [event] = db.scalars(select(DeviceEvent)).all()
    assert (event.device_id, event.kind) == (fleet["T201-PSU"].id, "rebooted")
    deadline = time.monotonic() + 20
    probed = []
    while not probed and time.monotonic() < deadline:  # the camera's own ping, run by the re-probe
        db.expire_all()
        probed = db.scalars(select(ProbeResultRow).where(ProbeResultRow.device_id == fleet["T201-CAM1"].id)).all()
        db.rollback()
        time.sleep(0.1)
    assert [(p.probe, p.ok) for p in probed] == [("ping", True)]


def test_the_traps_page_lists_known_traps_in_chinese_and_unknown_ones_by_oid(db, fleet, receiver, client_as):
    send_v2c(receiver.port, "127.77.1.10", "1.3.6.1.4.1.8072.9999.2.3")  # the cabinet's mains failure
    send_v2c(receiver.port, "127.77.1.12", "1.3.6.1.4.1.99999.7.7")
    assert len(wait_for(db, 2)) == 2
    c = client_as("supervisor")
    page = c.get("/traps/").get_data(as_text=True)
    assert "市电停电" in page and "1.3.6.1.4.1.99999.7.7" in page and "未知告警" in page
    only_unknown = c.get("/traps/?kind=unknown").get_data(as_text=True)
    assert "1.3.6.1.4.1.99999.7.7" in only_unknown and "市电停电" not in only_unknown.split('id="traps"')[1]
    by_site = c.get("/traps/?site=T202").get_data(as_text=True)
    assert 'id="no-traps"' in by_site
    assert c.get("/traps/?device=" + "x" * 500).status_code in (302, 422)  # too long: refused, never a 500
    assert client_as("crew").get("/traps/").status_code == 403
