"""Finding unmanaged and never-online devices (issue 12 part 2, F4): real net-snmp agents (`snmpd -f -C -c FILE`) on
127.66.0.x inside a network namespace this test creates (so their port 161 collides with nobody, and ICMP to the
"dead" addresses can be dropped there with nftables), swept by the real sweep running in a thread that entered
the namespace; the database stays outside (its connections were opened before)."""
import ctypes
import json
import os
import shutil
import subprocess
import threading
import time
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from fleetops.domain.errors import ValidationFailed
from fleetops.models import Device, Site
from fleetops.models.base import utcnow
from fleetops.models.discovery import DiscoveryResult, DiscoverySweep
from fleetops.models.monitoring import ProbeResultRow
from fleetops.platform import netpolicy, parameters
from fleetops.services import discovery
from fleetops.simulator.faults import NetNamespace

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to create a network namespace (CI is root)")
needs_snmpd = pytest.mark.skipif(shutil.which("snmpd") is None, reason="net-snmp's snmpd (package snmpd)")

NET = "127.66.0.0/28"
COMMUNITY = "disc-comm"
AGENTS = {
    "127.66.0.2": ("Hikvision DS-2CD7A26G0 traffic camera", "1.3.6.1.4.1.39165.1.1", "cam-unknown"),  # not ours
    "127.66.0.3": ("Hikvision iDS-2CD9371-KS traffic camera", "1.3.6.1.4.1.39165.1.7", "k301-cam1"),  # wrong model
    "127.66.0.5": ("Hikvision DS-TCG227-A checkpoint camera", "1.3.6.1.4.1.39165.1.2", "k301-cam2"),  # as recorded
    "127.66.0.4": ("H3C Comware Software, S5130-28S-HI switch", "1.3.6.1.4.1.25506.1.1", "sw-unknown"),  # v3 only
}
V3_AGENT = "127.66.0.4"
V3 = dict(snmp_v3_user="disc-v3", snmp_v3_auth_protocol="SHA", snmp_v3_auth_key="auth-pass-123",
          snmp_v3_priv_protocol="AES", snmp_v3_priv_key="priv-pass-123")
PING_ONLY = "127.66.0.8"  # answers ICMP only, not in the inventory
NEVER, SEEN_BEFORE = "127.66.0.6", "127.66.0.7"  # inventory devices whose ICMP is dropped and which run no agent


@pytest.fixture
def inventory(db):
    site = Site(code="K301", name="K301 友谊路卡口", district="克拉玛依区", latitude=45.6, longitude=84.9)
    db.add(site)
    db.flush()
    common = dict(site_id=site.id, lifecycle="online", snmp_version="v2c", snmp_community=COMMUNITY,
                  in_service_from=utcnow() - timedelta(days=30))
    devs = [
        Device(code="K301-CAM1", kind="checkpoint_camera", ip_address="127.66.0.3", vendor="Hikvision",
               model="DS-TCG227-A", **common),
        Device(code="K301-CAM2", kind="checkpoint_camera", ip_address="127.66.0.5", vendor="海康威视",
               model="DS-TCG227-A", **common),
        Device(code="K301-LIGHT", kind="fill_light", ip_address=NEVER, **common),
        Device(code="K301-SW", kind="switch", ip_address=SEEN_BEFORE, **common),
        Device(code="K301-OLD", kind="fill_light", site_id=site.id, lifecycle="retired", ip_address="127.66.0.9"),
        Device(code="K999-FAR", kind="switch", site_id=site.id, lifecycle="online", ip_address="127.66.1.6"),
        Device(code="K999-V3", kind="switch", site_id=site.id, lifecycle="online", ip_address="127.66.1.7",
               snmp_version="v3", **V3),  # elsewhere: only its v3 credentials matter here
    ]
    db.add_all(devs)
    db.flush()
    db.add(ProbeResultRow(device_id=devs[3].id, probe="ping", at=utcnow() - timedelta(days=2), ok=True))
    db.commit()
    return {d.code: d for d in devs}


def _libc_setns(path: str) -> None:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, 0x40000000) != 0:  # CLONE_NEWNET: this thread only
            raise OSError(ctypes.get_errno(), "setns")
    finally:
        os.close(fd)


def in_namespace(ns: NetNamespace, fn):
    """Run fn() in a thread that entered the namespace (sockets it makes live there)."""
    out = {}

    def body():
        try:
            _libc_setns(f"/run/netns/{ns.name}")
            out["value"] = fn()
        except BaseException as err:  # noqa: BLE001 - re-raised in the test's thread
            out["error"] = err

    t = threading.Thread(target=body)
    t.start()
    t.join(300)
    if "error" in out:
        raise out["error"]
    return out["value"]


@pytest.fixture
def agents(tmp_path):
    with NetNamespace(f"fo-snmp{os.getpid()}") as ns:
        ns.nft(f"""table inet t {{
  chain input {{ type filter hook input priority 0; policy accept;
    ip daddr {NET} ip daddr != {PING_ONLY} icmp type echo-request drop; }}
}}
""")
        procs = []
        try:
            for addr, (descr, oid, name) in AGENTS.items():
                conf = tmp_path / f"snmpd-{addr}.conf"
                access = (f'createUser {V3["snmp_v3_user"]} SHA "{V3["snmp_v3_auth_key"]}" AES '
                          f'"{V3["snmp_v3_priv_key"]}"\nrouser {V3["snmp_v3_user"]} priv\n') if addr == V3_AGENT \
                    else f"rocommunity {COMMUNITY}\n"
                conf.write_text(f"{access}sysdescr {descr}\nsysobjectid {oid}\nsysname {name}\n", encoding="utf-8")
                env = dict(os.environ, SNMP_PERSISTENT_DIR=str(tmp_path / f"persist-{addr}"), MIBS="")
                procs.append(subprocess.Popen(ns.argv("snmpd", "-f", "-C", "-c", str(conf), "-Lf",
                                                      str(tmp_path / f"snmpd-{addr}.log"), f"udp:{addr}:161"),
                                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            for addr in AGENTS:
                deadline = time.monotonic() + 20
                auth = ["-v3", "-l", "authPriv", "-u", V3["snmp_v3_user"], "-a", "SHA", "-A", V3["snmp_v3_auth_key"],
                        "-x", "AES", "-X", V3["snmp_v3_priv_key"]] if addr == V3_AGENT else ["-v2c", "-c", COMMUNITY]
                while subprocess.run(ns.argv("snmpget", *auth, "-t", "0.5", "-r", "0", addr, "1.3.6.1.2.1.1.1.0"),
                                     capture_output=True).returncode != 0:
                    assert time.monotonic() < deadline, f"snmpd on {addr} did not start"
                    time.sleep(0.2)
            yield ns
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()


def _warm_pool(app, n=3):
    """Open database connections outside the namespace first; the sweep's thread reuses them from the pool."""
    engine = app.extensions["fleetops.engine"]
    conns = [engine.connect() for _ in range(n)]
    for c in conns:
        c.close()


@pytest.mark.netns
@needs_root
@needs_snmpd
def test_a_sweep_finds_unmanaged_never_online_and_mismatching_devices(app, db, inventory, agents):
    sweep = discovery.create_sweep(db, [NET], "test", conf=app.config)
    db.commit()
    _warm_pool(app)
    seen = []
    conf = dict(app.config, DISCOVERY_TIMEOUT_S=0.5, DISCOVERY_CONCURRENCY=2)  # two chunks: progress moves
    rows = in_namespace(agents, lambda: discovery.run_sweep(app.extensions["fleetops.sessionmaker"], sweep.id, conf,
                                                             lambda *p: seen.append(p)))
    got = [discovery.json_row(r) for r in rows]
    assert got == [
        {"address": "127.66.0.2", "status": "unmanaged", "device": None, "sys_descr": AGENTS["127.66.0.2"][0],
         "sys_object_id": "1.3.6.1.4.1.39165.1.1", "sys_name": "cam-unknown"},
        {"address": V3_AGENT, "status": "unmanaged", "device": None, "sys_descr": AGENTS[V3_AGENT][0],
         "sys_object_id": "1.3.6.1.4.1.25506.1.1", "sys_name": "sw-unknown"},
        {"address": PING_ONLY, "status": "unmanaged", "device": None, "sys_descr": None, "sys_object_id": None,
         "sys_name": None},
        {"address": NEVER, "status": "never_online", "device": "K301-LIGHT", "sys_descr": None,
         "sys_object_id": None, "sys_name": None},
        {"address": "127.66.0.3", "status": "mismatch", "device": "K301-CAM1", "sys_descr": AGENTS["127.66.0.3"][0],
         "sys_object_id": "1.3.6.1.4.1.39165.1.7", "sys_name": "k301-cam1"},
    ]
    assert rows[0]["guessed_vendor"] == "Hikvision" and rows[0]["guessed_kind"] == "checkpoint_camera"
    assert rows[1]["guessed_vendor"] == "H3C" and rows[1]["guessed_kind"] == "switch"
    assert [p[:2] for p in seen] == [(8, 14), (14, 14)] and seen[-1][2] == 5
    db.expire_all()
    saved = db.get(DiscoverySweep, sweep.id)
    assert (saved.state, saved.hosts_total, saved.hosts_done, saved.unmanaged, saved.never_online, saved.mismatch) == \
        ("done", 14, 14, 3, 1, 1)
    stored = db.scalars(select(DiscoveryResult).where(DiscoveryResult.sweep_id == sweep.id)
                        .order_by(DiscoveryResult.id)).all()
    assert [discovery.json_row(r) for r in stored] == got

    # One step into the inventory: the unmanaged camera becomes a device with what the sweep saw.
    from fleetops.services import accounts
    admin, _ = accounts.create_user(db, "disc-admin", "admin", "disc-admin-pass-1")
    device = discovery.add_to_inventory(db, stored[0].id, "K301-CAM9", "K301", "", admin)
    db.commit()
    assert (device.ip_address, device.vendor, device.kind, device.name) == \
        ("127.66.0.2", "Hikvision", "checkpoint_camera", "cam-unknown")


def test_ranges_outside_the_allow_list_or_too_large_are_refused_before_any_packet(app, db):
    for bad, words in (("8.8.8.0/24", "outside the camera networks"), ("10.0.0.0/16", "at most %(max)s addresses"),
                       ("10.1.2.0/33", "not a network range"), ("fe80::/64", "Only IPv4")):
        with pytest.raises(ValidationFailed) as err:
            discovery.create_sweep(db, [bad], "test", conf=app.config)
        assert words in err.value.msg.msgid and err.value.details["field"] == "networks"
        assert "8.8.8.0/24" in str(err.value) or bad != "8.8.8.0/24"  # the message names the range
    parameters.set_value(db, netpolicy.CAMERAS, ["10.0.0.0/8"], "test")
    db.commit()
    with pytest.raises(ValidationFailed) as err:
        discovery.create_sweep(db, [NET], "test", conf=app.config)  # loopback only when listed itself
    assert "outside the camera networks" in err.value.msg.msgid
    db.rollback()
    assert db.scalars(select(DiscoverySweep)).all() == []


def test_the_cli_refuses_a_range_outside_the_allow_list_with_a_clear_error(app, db, monkeypatch):
    from fleetops import cli as cli_pkg
    from fleetops.cli import main

    monkeypatch.setattr(cli_pkg, "_app", app)
    result = CliRunner().invoke(main, ["discover", "8.8.8.0/24", "--json"])
    assert result.exit_code == 1
    assert "8.8.8.0/24" in result.output and "Traceback" not in result.output


@needs_snmpd
def test_the_cli_sweeps_a_loopback_range_and_prints_json_rows(app, db, monkeypatch):
    """Without a namespace every loopback address answers ICMP: a /30 of unmanaged addresses, as JSON rows."""
    from fleetops import cli as cli_pkg
    from fleetops.cli import main

    monkeypatch.setattr(cli_pkg, "_app", app)
    app.config["DISCOVERY_TIMEOUT_S"] = 0.3
    result = CliRunner().invoke(main, ["discover", "127.67.3.0/30", "--json"])
    assert result.exit_code == 0, result.output
    out = result.stdout if hasattr(result, "stdout") else result.output
    rows = json.loads(out[out.index("["):])
    assert [(r["address"], r["status"], r["device"]) for r in rows] == \
        [("127.67.3.1", "unmanaged", None), ("127.67.3.2", "unmanaged", None)]
    assert set(rows[0]) == {"address", "status", "device", "sys_descr", "sys_object_id", "sys_name"}


@needs_snmpd
def test_the_admin_page_queues_a_sweep_the_job_runs_it_and_an_address_is_added_in_one_post(app, db, client_as):
    from fleetops.platform.jobs import JobContext

    db.add(Site(code="K302", name="K302 测试点位", district="克拉玛依区", latitude=45.6, longitude=84.9))
    db.commit()
    c = client_as("admin")
    refused = c.post("/discovery/sweeps", data={"networks": "8.8.8.0/24"}, follow_redirects=True)
    assert "8.8.8.0/24" in refused.get_data(as_text=True) and db.scalars(select(DiscoverySweep)).all() == []
    resp = c.post("/discovery/sweeps", data={"networks": "127.67.4.0/30"})
    assert resp.status_code == 302
    [sweep] = db.scalars(select(DiscoverySweep)).all()
    assert sweep.state == "queued"
    from fleetops.models import AuditLog
    assert db.scalars(select(AuditLog.actor_name).where(AuditLog.action == "discovery_sweep_queued")).all() == ["admin"]
    waiting = c.get(resp.headers["Location"]).get_data(as_text=True)
    assert 'http-equiv="refresh"' in waiting  # the page polls while the sweep waits or runs
    app.config["DISCOVERY_TIMEOUT_S"] = 0.3
    discovery.job_discovery(JobContext.from_app(app))
    db.expire_all()
    assert db.get(DiscoverySweep, sweep.id).state == "done"
    page = c.get(f"/discovery/sweeps/{sweep.id}").get_data(as_text=True)
    assert "127.67.4.1" in page and 'http-equiv="refresh"' not in page
    data = c.get(f"/discovery/sweeps/{sweep.id}?format=json").get_json()
    assert [r["address"] for r in data["rows"]] == ["127.67.4.1", "127.67.4.2"] and data["done"]
    row = db.scalars(select(DiscoveryResult).where(DiscoveryResult.address == "127.67.4.1")).one()
    bad = c.post(f"/discovery/results/{row.id}/add", data={"code": "K302-X1", "site_code": "NOPE", "kind": "switch"})
    assert bad.status_code == 302 and db.scalar(select(Device).where(Device.code == "K302-X1")) is None
    added = c.post(f"/discovery/results/{row.id}/add", data={"code": "K302-X1", "site_code": "K302", "kind": "switch"})
    assert added.status_code == 302 and added.headers["Location"].endswith("/devices/K302-X1")
    db.expire_all()
    assert db.scalar(select(Device.ip_address).where(Device.code == "K302-X1")) == "127.67.4.1"
    assert client_as("supervisor").get("/discovery/").status_code == 403


def test_a_district_schedule_queues_one_sweep_per_interval(app, db):
    parameters.set_value(db, discovery.RANGES, {"克拉玛依区": {"networks": ["127.68.0.0/30"], "interval_h": 24},
                                                "远方区": {"networks": ["8.8.8.0/30"], "interval_h": 1}}, "test")
    db.commit()
    made = discovery.queue_due_districts(db, app.config)
    db.commit()
    assert [(s.district, s.networks, s.state) for s in made] == [("克拉玛依区", ["127.68.0.0/30"], "queued")]
    assert discovery.queue_due_districts(db, app.config) == []  # not due again within its interval
    assert [d["district"] for d in discovery.district_schedule(db)] == ["克拉玛依区", "远方区"]
