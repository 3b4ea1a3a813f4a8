"""The simulated fleet: fault book rules, the control API, the CLI, and real drops with nftables in a namespace (U2, U5, U6)."""
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from fleetops.simulator import Simulator
from fleetops.simulator.agents import SimDevice
from fleetops.simulator.faults import FaultBook, FaultError, NetNamespace
from probes.snmp import SnmpTarget, get_one

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to create a network namespace (CI is root)")
PROJECT = Path(__file__).resolve().parents[2]


def test_flapping_alternates_down_and_up_every_period():
    now = [0.0]
    book = FaultBook({"K105-CAM1": "K105"}, clock=lambda: now[0])
    book.add("flap", device="K105-CAM1", period_s=10)
    seen = []
    for t in (0, 5, 10, 15, 20, 31):
        now[0] = t
        seen.append("K105-CAM1" in book.dead_codes())
    assert seen == [True, True, False, False, True, False]


def test_a_power_cut_kills_every_device_of_the_site_and_only_those():
    book = FaultBook({"K105-CAM1": "K105", "K105-SW": "K105", "K106-CAM1": "K106"})
    book.add("power_cut", site="K105")
    assert book.dead_codes() == {"K105-CAM1", "K105-SW"}
    book.add("network_cut", "K106")  # a site code given where a device would go is taken as the site
    assert book.dead_codes() == {"K105-CAM1", "K105-SW", "K106-CAM1"}
    assert [f.id for f in book.remove("K105")] == ["power_cut:K105"]
    assert book.dead_codes() == {"K106-CAM1"}


def test_a_reboot_with_down_time_is_dead_then_gone():
    now = [100.0]
    book = FaultBook({"K105-CAM1": "K105"}, clock=lambda: now[0])
    book.add("reboot", device="K105-CAM1", down_s=30)
    assert book.dead_codes() == {"K105-CAM1"}
    now[0] = 131.0
    book.expire()
    assert book.dead_codes() == set() and book.list() == []


def test_hung_is_not_dead():
    book = FaultBook({"K105-CAM1": "K105"})
    book.add("hung", device="K105-CAM1")
    assert book.hung_codes() == {"K105-CAM1"} and book.dead_codes() == set()


@pytest.mark.parametrize("kind, kwargs, message", [
    ("melt", {"device": "K105-CAM1"}, "unknown fault kind"),
    ("dead", {"device": "K999-CAM1"}, "no simulated device"),
    ("power_cut", {"site": "K999"}, "no simulated site"),
    ("flap", {"device": "K105-CAM1", "period_s": "soon"}, "period_s must be a number"),
    ("flap", {"device": "K105-CAM1", "period_s": 0}, "out of range"),
])
def test_a_bad_fault_request_is_refused_with_a_reason(kind, kwargs, message):
    book = FaultBook({"K105-CAM1": "K105"})
    with pytest.raises(FaultError) as err:
        book.add(kind, **kwargs)
    assert message in err.value.msg.render("en")
    assert book.list() == []


def test_a_non_loopback_device_is_refused():
    with pytest.raises(ValueError, match="127.x"):
        SimDevice("K105-CAM1", "K105", "10.1.2.3")


@pytest.fixture
def sim():
    devices = [SimDevice("K105-CAM1", "K105", "127.0.0.1", port=0, community="a"),
               SimDevice("K105-SW", "K105", "127.0.0.1", port=0, community="b", kind="switch"),
               SimDevice("K106-CAM1", "K106", "127.0.0.1", port=0, community="c")]
    with Simulator(devices, firewall=False, control_port=0, tick_s=0.05) as s:
        yield s


def _api(sim, method, path, body=None):
    req = urllib.request.Request(f"http://127.0.0.1:{sim.control_port}{path}", method=method,
                                 data=None if body is None else (body if isinstance(body, bytes) else
                                                                 json.dumps(body).encode()))
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def _snmp_ok(sim, code, timeout=0.4) -> bool:
    d = sim.devices[code]
    return get_one(SnmpTarget(code, "127.0.0.1", sim.address(code)[1], community=d.community), timeout).ok


def test_control_api_injects_lists_and_clears_a_dead_device(sim):
    status, body = _api(sim, "POST", "/faults", {"kind": "dead", "device": "K105-CAM1"})
    assert status == 201 and body["fault"]["id"] == "dead:K105-CAM1" and body["mode"] == "snmp-only"
    assert not _snmp_ok(sim, "K105-CAM1") and _snmp_ok(sim, "K106-CAM1")
    status, body = _api(sim, "GET", "/faults")
    assert status == 200 and [f["id"] for f in body["faults"]] == ["dead:K105-CAM1"]
    assert body["dead_now"] == ["K105-CAM1"]
    status, body = _api(sim, "DELETE", "/faults/K105-CAM1")
    assert status == 200 and [f["id"] for f in body["removed"]] == ["dead:K105-CAM1"]
    assert _snmp_ok(sim, "K105-CAM1", 2.0)


def test_control_api_power_cut_silences_the_whole_site(sim):
    assert _api(sim, "POST", "/faults", {"kind": "power_cut", "site": "K105"})[0] == 201
    assert [_snmp_ok(sim, c) for c in ("K105-CAM1", "K105-SW", "K106-CAM1")] == [False, False, True]
    assert _api(sim, "DELETE", "/faults")[0] == 200
    assert _snmp_ok(sim, "K105-SW", 2.0)


@pytest.mark.parametrize("body, message", [
    (b"not json", "expected JSON"),
    ({"device": "K105-CAM1"}, "expected JSON"),
    ({"kind": "explode", "device": "K105-CAM1"}, "unknown fault kind"),
    ({"kind": "dead", "device": "NOPE"}, "no simulated device"),
    ({"kind": "snapshot", "device": "K105-CAM1", "fault": "blur"}, "snapshot server is not running"),
])
def test_control_api_rejects_bad_requests_with_400_and_a_reason(sim, body, message):
    status, reply = _api(sim, "POST", "/faults", body)
    assert status == 400 and message in reply["error"]
    assert _api(sim, "GET", "/faults")[1]["faults"] == []


def test_control_api_says_when_nothing_matches_a_delete(sim):
    status, body = _api(sim, "DELETE", "/faults/K105-CAM1")
    assert status == 404 and "no fault matches" in body["error"]


def test_the_devices_list_carries_no_secrets(sim):
    status, body = _api(sim, "GET", "/devices")
    assert status == 200 and {d["device"] for d in body} == {"K105-CAM1", "K105-SW", "K106-CAM1"}
    assert "community" not in json.dumps(body)


def test_fault_cli_talks_to_the_control_api(sim):
    from fleetops.cli import main

    runner = CliRunner()
    port = str(sim.control_port)
    r = runner.invoke(main, ["fault", "hung", "K106-CAM1", "--control-port", port])
    assert r.exit_code == 0 and "hung:K106-CAM1" in r.output
    assert not _snmp_ok(sim, "K106-CAM1")
    r = runner.invoke(main, ["fault", "flap", "K105-SW", "--period-s", "60", "--control-port", port])
    assert r.exit_code == 0
    r = runner.invoke(main, ["fault", "list", "--control-port", port])
    assert "hung:K106-CAM1" in r.output and "flap:K105-SW" in r.output and "period_s=60" in r.output
    r = runner.invoke(main, ["fault", "dead", "K999-CAM1", "--control-port", port])
    assert r.exit_code == 1 and "模拟器中没有该设备" in r.output
    r = runner.invoke(main, ["fault", "clear", "all", "--control-port", port])
    assert r.exit_code == 0 and "已清除 2 个故障" in r.output
    assert _snmp_ok(sim, "K106-CAM1", 2.0)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_fleetops_simulate_serves_the_database_and_stops_on_sigterm(app, db):
    """`fleetops simulate` reads the devices (and their communities) from the database; SIGTERM stops it."""
    from fleetops.models import Device, Site

    net = f"127.{random.randint(100, 199)}.{random.randint(0, 255)}"
    site = Site(code="K105", name="K-105 北门卡口", district="克拉玛依区", latitude=45.6, longitude=84.9)
    db.add(site)
    db.flush()
    port = _free_port()
    for i, (code, community) in enumerate((("K105-CAM1", "cam-secret-1"), ("K105-SW", "sw-secret-2")), start=1):
        db.add(Device(code=code, kind="checkpoint_camera", site_id=site.id, ip_address=f"{net}.{i}",
                      snmp_version="v2c", snmp_port=port, snmp_community=community, lifecycle="online"))
    db.add(Device(code="K105-PS", kind="power_supply", site_id=site.id, ip_address="10.0.0.5"))  # not loopback
    db.commit()
    control = _free_port()
    env = dict(os.environ, FLEETOPS_DATABASE_URL=app.config["DATABASE_URL"],
               FLEETOPS_INSTANCE_PATH=app.config.get("INSTANCE_PATH", ""))
    proc = subprocess.Popen([sys.executable, "-m", "fleetops.cli", "simulate", "--host-range", f"{net}.0/24",
                             "--control-port", str(control), "--snapshot-port", "0", "--no-firewall"],
                            cwd=PROJECT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        ok = False
        while time.monotonic() < deadline and not ok:
            time.sleep(0.2)
            ok = get_one(SnmpTarget("K105-SW", f"{net}.2", port, community="sw-secret-2"), 0.3).ok
        assert ok, proc.stderr.read() if proc.poll() is not None else "simulator did not answer"
        assert not get_one(SnmpTarget("K105-SW", f"{net}.2", port, community="cam-secret-1"), 0.3).ok
        r = CliRunner().invoke(__import__("fleetops.cli", fromlist=["main"]).main,
                               ["fault", "list", "--json", "--control-port", str(control)])
        assert json.loads(r.output)["devices"] == 2  # the 10.x power supply is not simulated
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "模拟器已停止" in out
    assert "sw-secret-2" not in out + err and "cam-secret-1" not in out + err


SIM_IN_NAMESPACE = """
import json, sys
from fleetops.simulator import Simulator
from fleetops.simulator.agents import SimDevice
from probes.ping import ping_many
from probes.snmp import SnmpTarget, get_many_sync

devs = [SimDevice("K105-CAM1", "K105", "127.20.0.1", community="a"),
        SimDevice("K105-SW", "K105", "127.20.0.2", community="b", kind="switch"),
        SimDevice("K106-CAM1", "K106", "127.20.0.3", community="c"),
        SimDevice("K106-GX", "K106", "127.20.0.4", version="")]  # ping only, no agent

def look():
    pings = ping_many([(d.code, d.address) for d in devs], 0.5, 10)
    snmp = get_many_sync([SnmpTarget(d.code, d.address, community=d.community) for d in devs if d.version], None, 0.5)
    return {"ping": {r.target: r.ok for r in pings}, "snmp": {r.target: r.ok for r in snmp}}

out = {}
sim = Simulator(devs, firewall=True, table="fleetops_sim_test", control_port=None, tick_s=0.05).start()
try:
    out["mode"] = sim.mode
    out["start"] = look()
    sim.add_fault("dead", device="K105-CAM1"); sim.add_fault("hung", device="K106-CAM1")
    out["dead_and_hung"] = look()
    sim.remove_faults("*"); sim.add_fault("power_cut", site="K106")
    out["power_cut"] = look()
    sim.remove_faults("*")
    out["cleared"] = look()
finally:
    sim.stop()
print(json.dumps(out))
"""


@pytest.mark.netns
@needs_root
def test_dead_and_power_cut_drop_ping_and_snmp_with_nftables_in_a_namespace():
    with NetNamespace("fo-test") as ns:
        proc = subprocess.run(ns.argv(sys.executable, "-c", SIM_IN_NAMESPACE), capture_output=True, text=True,
                              timeout=120, cwd=PROJECT)
        assert proc.returncode == 0, proc.stderr
        tables = subprocess.run(ns.argv("nft", "list", "tables"), capture_output=True, text=True).stdout
    out = json.loads(proc.stdout)
    everyone = {"K105-CAM1": True, "K105-SW": True, "K106-CAM1": True, "K106-GX": True}
    assert out["mode"] == "nftables"
    assert out["start"]["ping"] == everyone and all(out["start"]["snmp"].values())
    # dead: no ping, no SNMP; hung: ping yes, SNMP no
    assert out["dead_and_hung"]["ping"] == {**everyone, "K105-CAM1": False}
    assert out["dead_and_hung"]["snmp"] == {"K105-CAM1": False, "K105-SW": True, "K106-CAM1": False}
    # a site's power cut: every device of the site, agent or not, is gone
    assert out["power_cut"]["ping"] == {**everyone, "K106-CAM1": False, "K106-GX": False}
    assert out["power_cut"]["snmp"] == {"K105-CAM1": True, "K105-SW": True, "K106-CAM1": False}
    assert out["cleared"]["ping"] == everyone and all(out["cleared"]["snmp"].values())
    assert "fleetops_sim_test" not in tables  # the simulator removed its table on stop


def test_image_faults_are_forwarded_to_the_snapshot_server():
    from fleetops.simulator.snapshots import SnapshotServer

    snaps = SnapshotServer({"K105-CAM1": ("admin", "pw-not-shown")}, "127.0.0.1", 0)  # not started: faults only
    devices = [SimDevice("K105-CAM1", "K105", "127.0.0.1", port=0, community="a")]
    with Simulator(devices, firewall=False, control_port=0, snapshot_server=snaps) as s:
        status, body = _api(s, "POST", "/faults", {"kind": "snapshot", "device": "K105-CAM1", "fault": "blur"})
        assert status == 201 and snaps.faults == {"K105-CAM1": "blur"}
        status, body = _api(s, "POST", "/faults", {"kind": "snapshot", "device": "K105-CAM1", "fault": "melted"})
        assert status == 400 and "unknown image fault" in body["error"]
        assert {"id": "snapshot:K105-CAM1", "kind": "snapshot", "device": "K105-CAM1", "fault": "blur"} in \
            _api(s, "GET", "/faults")[1]["faults"]
        status, body = _api(s, "DELETE", "/faults/K105-CAM1")
        assert status == 200 and snaps.faults == {}


@pytest.mark.netns
@needs_root
def test_fleetops_simulate_drops_a_dead_device_with_nftables_and_removes_its_table_on_sigterm(tmp_path):
    """The whole command inside a namespace of our own, on its own SQLite file (PostgreSQL on 127.0.0.1
    is not reachable from inside a fresh namespace)."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from fleetops.models import Base, Device, Site

    url = f"sqlite:///{tmp_path / 'sim.sqlite3'}"
    engine = create_engine(url)
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        site = Site(code="K105", name="K-105 北门卡口", latitude=45.6, longitude=84.9)
        s.add(site)
        s.flush()
        s.add_all([Device(code="K105-CAM1", kind="checkpoint_camera", site_id=site.id, ip_address="127.20.0.1",
                          snmp_version="v2c", snmp_community="cam-secret", lifecycle="online"),
                   Device(code="K105-SW", kind="switch", site_id=site.id, ip_address="127.20.0.2",
                          snmp_version="v2c", snmp_community="sw-secret", lifecycle="online")])
        s.commit()
    engine.dispose()
    env = dict(os.environ, FLEETOPS_DATABASE_URL=url, FLEETOPS_INSTANCE_PATH=str(tmp_path))
    fleetops = [sys.executable, "-m", "fleetops.cli"]
    with NetNamespace("fo-test") as ns:
        proc = subprocess.Popen(ns.argv(*fleetops, "simulate", "--snapshot-port", "0"), cwd=PROJECT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline, r = time.monotonic() + 30, None
            while time.monotonic() < deadline:
                r = subprocess.run(ns.argv(*fleetops, "fault", "dead", "K105-CAM1"), cwd=PROJECT, env=env,
                                   capture_output=True, text=True)
                if r.returncode == 0 or proc.poll() is not None:
                    break
                time.sleep(0.3)
            assert r is not None and r.returncode == 0, (r and r.stderr, proc.poll())
            assert "=nftables" in r.stdout  # 模式=nftables
            table = subprocess.run(ns.argv("nft", "list", "table", "inet", "fleetops_sim"), capture_output=True,
                                   text=True).stdout
            assert "127.20.0.1" in table and "127.20.0.2" not in table
            code = ("from probes.ping import ping_many; import json; "
                    "print(json.dumps([r.ok for r in ping_many([('a','127.20.0.1'),('b','127.20.0.2')], 0.5)]))")
            pings = subprocess.run(ns.argv(sys.executable, "-c", code), cwd=PROJECT, capture_output=True, text=True)
            assert json.loads(pings.stdout) == [False, True], pings.stderr
        finally:
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=30)
        tables = subprocess.run(ns.argv("nft", "list", "tables"), capture_output=True, text=True).stdout
    assert proc.returncode == 0, err
    assert "fleetops_sim" not in tables
    assert "cam-secret" not in out + err


NOT_ROOT = """
import json, os
from fleetops.simulator import Simulator
from fleetops.simulator.agents import SimDevice
from probes.ping import ping_many
from probes.snmp import SnmpTarget, get_many_sync
os.setgid(65534); os.setuid(65534)  # nobody, after the imports (it cannot read root's Python)
sim = Simulator([SimDevice("K105-CAM1", "K105", "127.0.0.1", port=0, community="a")], control_port=None).start()
try:
    sim.add_fault("dead", device="K105-CAM1")
    t = SnmpTarget("K105-CAM1", "127.0.0.1", sim.address("K105-CAM1")[1], community="a")
    print(json.dumps({"mode": sim.mode, "ping": ping_many([("K105-CAM1", "127.0.0.1")], 0.5)[0].ok,
                      "snmp": get_many_sync([t], None, 0.5)[0].ok}))
finally:
    sim.stop()
"""


@pytest.mark.netns
@needs_root
def test_without_root_dead_is_snmp_only_and_says_so():
    with NetNamespace("fo-test") as ns:
        # let unprivileged users ping inside our namespace, as many distributions do
        subprocess.run(ns.argv("sysctl", "-qw", "net.ipv4.ping_group_range=0 2147483647"), check=True)
        proc = subprocess.run(ns.argv(sys.executable, "-c", NOT_ROOT), capture_output=True, text=True,
                              timeout=60, cwd=PROJECT)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"mode": "snmp-only", "ping": True, "snmp": False}
    assert "stops answering SNMP and TCP but still answers ping" in proc.stderr  # the warning in the log
    assert proc.stderr.count("still answers ping") == 1  # said once
