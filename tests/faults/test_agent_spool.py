"""Probe agents through a cut to the centre (issue 14).

- Two agents, each in a network namespace this test creates with only its district's simulated devices (a real
  SNMP agent and ICMP per device inside the namespace; one dead device each, dropped by nftables there). The
  centre is a real werkzeug server on the root namespace's loopback with the test's database; each agent reaches
  it through a TCP proxy whose listening socket lives on the agent namespace's loopback (created there with
  setns), so every byte stays on a loopback. One agent's proxy is cut for several cycles, then restored: every
  result arrives once, the uptime figures have no gap, the dead devices have one outage, one ticket, one alert.
- `fleetops agent --once` (a real process, with a database URL it could not use) against a centre that is down
  spools and exits 0; with the centre back it flushes and the results appear.
"""
import ctypes
import json
import os
import re
import selectors
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from fleetops.models import Device, Site
from fleetops.models.alerts import Alert
from fleetops.models.monitoring import Outage, ProbeResultRow
from fleetops.models.tickets import Ticket
from fleetops.services import agents
from fleetops.services.monitoring.uptime import uptime_rows
from fleetops.simulator.faults import NetNamespace
from tests.faults.conftest import ROOT, wait_for
from tests.faults.tcp_proxy import TcpProxy
from tests.services.test_agents import centre

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to create network namespaces (CI is root)")
NO_DATABASE = "sqlite:////nonexistent/fleetops-agent-must-not-open-a-database/db.sqlite3"
CLONE_NEWNET = 0x40000000


# ------------------------------------------------------------------------------------------------ helpers
def listen_in_namespace(ns_name: str) -> socket.socket:
    """A listening TCP socket on 127.0.0.1:<ephemeral> inside the namespace `ns_name` (a short-lived thread
    enters the namespace with setns(2); the socket stays there, this process stays where it is)."""
    out = {}

    def work():
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(f"/var/run/netns/{ns_name}", os.O_RDONLY)
        try:
            if libc.setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns")
            out["sock"] = socket.create_server(("127.0.0.1", 0))
        except BaseException as err:  # noqa: BLE001 - handed to the caller
            out["err"] = err
        finally:
            os.close(fd)

    t = threading.Thread(target=work)
    t.start()
    t.join()
    if "err" in out:
        raise out["err"]
    return out["sock"]


class NamespaceProxy(TcpProxy):
    """tests/faults/tcp_proxy.TcpProxy listening on a namespace's loopback, forwarding to the centre on ours."""

    def __init__(self, listener: socket.socket, target_port: int):  # noqa: super().__init__ binds its own socket
        self.target = ("127.0.0.1", target_port)
        self._listener = listener
        self._listener.setblocking(False)
        self.host, self.port = listener.getsockname()[:2]
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._listener, selectors.EVENT_READ, None)
        self._pairs = {}
        self._mode = "open"
        self._lock = threading.Lock()
        self._stop = False
        self.accepted = 0
        self._thread = threading.Thread(target=self._loop, name="ns-proxy", daemon=True)
        self._thread.start()


SIMULATOR = """
import json, signal, sys, time
from fleetops.simulator import Simulator
from fleetops.simulator.agents import SimDevice
spec = json.load(open(sys.argv[1]))
devices = [SimDevice(d["code"], d["site"], d["address"], community=d["community"]) for d in spec["devices"]]
sim = Simulator(devices, firewall=True, table="fo_agents_test", control_port=None, tick_s=0.5)
stop = []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
sim.start()
for code in spec["dead"]:
    sim.book.add("dead", device=code)
sim.sync()
print("ready", flush=True)
while not stop:
    time.sleep(0.2)
sim.stop()
"""


def agent_env(**extra):
    return {**os.environ, "PYTHONPATH": str(ROOT), "FLEETOPS_DATABASE_URL": NO_DATABASE, **extra}


def probed_counts(text: str) -> int:
    return sum(int(n) for n in re.findall(r"Probed: (\d+) results", text))


def spool_depth(path: Path) -> int:
    if not path.exists():
        return 0
    with sqlite3.connect(path) as c:
        return int(c.execute("SELECT COALESCE(SUM(n), 0) FROM batches").fetchone()[0])


def add_district(db, n: int, district: str, octet: int, per_site: int = 3) -> list[dict]:
    site = Site(code=f"D{n}", name=f"{district}路口", district=district, latitude=45.6, longitude=84.9)
    db.add(site)
    db.flush()
    devices = []
    for i in range(per_site):
        code, address, community = f"D{n}-CAM{i + 1}", f"127.{octet}.{n}.{i + 1}", f"c{n}{i}"
        db.add(Device(code=code, kind="checkpoint_camera", site_id=site.id, lifecycle="online", ip_address=address,
                      liveness_probe="ping", snmp_version="v2c", snmp_community=community))
        devices.append({"code": code, "site": site.code, "address": address, "community": community})
    db.commit()
    return devices


# ------------------------------------------------------------------------------------------------ the cut
@pytest.mark.netns
@needs_root
def test_agents_in_namespaces_ride_out_a_cut_to_the_centre(make_app, tmp_path, request):
    app = make_app(POLL_INTERVAL_S=5, PING_TIMEOUT_S=1.0, SNMP_TIMEOUT_S=1.0, ICMP_MODE="auto")
    db = app.extensions["fleetops.sessionmaker"]()
    request.addfinalizer(db.close)  # also when an assertion fails: an open session would block the tables' TRUNCATE
    districts = {"东区": add_district(db, 0, "东区", 43), "西区": add_district(db, 1, "西区", 43)}
    dead = {"东区": "D0-CAM3", "西区": "D1-CAM3"}
    tokens = {}
    for district in districts:
        _a, tokens[district] = agents.create_agent(db, f"agent-{district}", districts=[district])
    db.commit()
    url, stop_centre = centre(app)
    port = int(url.rsplit(":", 1)[1])
    started = []
    try:
        with NetNamespace(f"fo-w3agents-{os.getpid()}") as ns_east, NetNamespace(f"fo-w3agents-{os.getpid()}") as ns_west:
            spaces = {"东区": ns_east, "西区": ns_west}
            proxies, procs, spools = {}, {}, {}
            for district, ns in spaces.items():
                spec = tmp_path / f"spec-{ns.name}.json"
                spec.write_text(json.dumps({"devices": districts[district], "dead": [dead[district]]}))
                sim = subprocess.Popen(ns.argv(sys.executable, "-c", SIMULATOR, str(spec)), stdout=subprocess.PIPE,
                                       text=True, cwd=ROOT, env=agent_env())
                started.append(sim)
                assert sim.stdout.readline().strip() == "ready"
                proxies[district] = NamespaceProxy(listen_in_namespace(ns.name), port)
                spools[district] = tmp_path / f"spool-{ns.name}.sqlite3"
                out = open(tmp_path / f"agent-{ns.name}.out", "w+")  # noqa: SIM115 - read below
                procs[district] = (subprocess.Popen(
                    ns.argv(sys.executable, "-m", "fleetops.cli", "agent", "--server",
                            f"http://127.0.0.1:{proxies[district].port}", "--token", tokens[district], "--spool",
                            str(spools[district]), "--lang", "en"),
                    stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=agent_env()), out)
                started.append(procs[district][0])

            def pushed(district):
                return db.scalar(select(func.count()).select_from(ProbeResultRow).join(
                    Device, Device.id == ProbeResultRow.device_id).join(Site, Site.id == Device.site_id).where(
                    Site.district == district)) or 0

            # both agents report (three cycles: the dead cameras are down by then)
            assert wait_for(lambda: all(pushed(d) >= 3 * 6 for d in districts), timeout=90), \
                {d: pushed(d) for d in districts}
            # the east's link to the centre is cut for several cycles
            proxies["东区"].cut()
            assert wait_for(lambda: spool_depth(spools["东区"]) >= 3 * 6, timeout=90), "the east agent did not spool"
            held = pushed("东区")
            west_during = pushed("西区")
            assert wait_for(lambda: pushed("西区") > west_during + 6, timeout=60)  # the west goes on meanwhile
            db.expire_all()
            assert pushed("东区") == held  # nothing reached the centre from the east
            proxies["东区"].restore()
            assert wait_for(lambda: spool_depth(spools["东区"]) == 0 and pushed("东区") > held + 3 * 6, timeout=90)
            time.sleep(1)
            for district, (proc, out) in procs.items():
                proc.terminate()
                assert proc.wait(60) == 0
            for p in proxies.values():
                p.close()
    finally:
        for p in started:
            if p.poll() is None:
                p.terminate()
                p.wait(30)
        stop_centre()
    outputs = {d: (tmp_path / f"agent-{spaces[d].name}.out").read_text() for d in districts}
    assert "spooled" in outputs["东区"] and "Spool flushed" in outputs["东区"], outputs["东区"][-2000:]
    db.expire_all()
    for district, devices in districts.items():
        assert spool_depth(spools[district]) == 0
        # every result the agent made arrived, once
        assert pushed(district) == probed_counts(outputs[district]), (district, outputs[district][-2000:])
        codes = [d["code"] for d in devices]
        first, last = db.execute(select(func.min(ProbeResultRow.at), func.max(ProbeResultRow.at)).join(
            Device, Device.id == ProbeResultRow.device_id).where(Device.code.in_(codes))).one()
        rows = {r.key: r for r in uptime_rows(db, first, last, by="device", codes=codes)}
        for code in codes:  # no gap in the uptime figures, through the cut
            assert rows[code].in_service_s > 0 and rows[code].unknown_s == 0, (code, rows[code])
        dead_id = db.scalar(select(Device.id).where(Device.code == dead[district]))
        outages = db.scalars(select(Outage).where(Outage.device_id == dead_id)).all()
        assert len(outages) == 1 and outages[0].ended_at is None, outages
        assert db.scalar(select(func.count()).select_from(Ticket).where(Ticket.device_id == dead_id)) == 1
        assert db.scalar(select(func.count()).select_from(Alert).where(Alert.device_id == dead_id,
                                                                   Alert.kind == "device_down")) == 1
        alive = [d["code"] for d in devices if d["code"] != dead[district]]
        alive_ids = db.scalars(select(Device.id).where(Device.code.in_(alive))).all()
        assert db.scalar(select(func.count()).select_from(Outage).where(Outage.device_id.in_(alive_ids))) == 0
    db.close()


# ------------------------------------------------------------------------------------------------ --once
def run_once(url, token, spool, lang="en"):
    return subprocess.run([sys.executable, "-m", "fleetops.cli", "agent", "--server", url, "--token", token,
                           "--spool", str(spool), "--once", "--lang", lang],
                          capture_output=True, text=True, cwd=ROOT, env=agent_env(), timeout=120)


def closed_loopback_port() -> socket.socket:
    """A loopback port bound but not listening: a connection to it is refused (and no one else can take it)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    return s


def test_agent_once_spools_while_the_centre_is_down_and_flushes_when_it_is_back(make_app, tmp_path):
    """Issue 14: the agent's very first run finds the centre down (a closed loopback port): exit 0, the spool file
    exists, the message says what happened and what comes next; the first run that reaches the centre fetches the
    list, probes, pushes, and the results appear; then down (spooled) and up (flushed): each result once."""
    app = make_app(POLL_INTERVAL_S=60, PING_TIMEOUT_S=1.0)
    db = app.extensions["fleetops.sessionmaker"]()
    site = Site(code="K9", name="K9 路口", district="北区", latitude=45.6, longitude=84.9)
    db.add(site)
    db.flush()
    codes = [f"K9-CAM{i}" for i in (1, 2)]
    for i, code in enumerate(codes):
        db.add(Device(code=code, kind="checkpoint_camera", site_id=site.id, lifecycle="online",
                      ip_address=f"127.44.0.{i + 1}", liveness_probe="ping"))
    db.commit()
    _a, token = agents.create_agent(db, "north", districts=["北区"])
    db.commit()
    closed = closed_loopback_port()
    never = f"http://127.0.0.1:{closed.getsockname()[1]}"
    url, stop_centre = centre(app)
    proxy = TcpProxy("127.0.0.1", int(url.rsplit(":", 1)[1]))
    server = f"http://127.0.0.1:{proxy.port}"
    spool = tmp_path / "agent" / "spool.sqlite3"
    spool.parent.mkdir()

    def stored():
        db.expire_all()
        return db.scalar(select(func.count()).select_from(ProbeResultRow)) or 0

    def distinct_stored():
        return db.execute(select(func.count()).select_from(
            select(ProbeResultRow.device_id, ProbeResultRow.at).distinct().subquery())).scalar_one()

    try:
        # never reached yet (nothing listens): nothing to probe, said so — what happened, what comes next — exit 0
        first = run_once(never, token, spool)
        assert first.returncode == 0 and "Traceback" not in first.stderr, first.stderr
        assert f"Could not reach the centre at {never}" in first.stdout, first.stdout
        assert "nothing was probed and nothing was spooled" in first.stdout, first.stdout
        assert "Attempts to reach the centre so far: 1," in first.stdout, first.stdout
        assert "Run the agent again once the centre can be reached" in first.stdout, first.stdout
        assert spool.exists() and spool_depth(spool) == 0 and stored() == 0
        zh = run_once(never, token, spool, lang="zh")  # the default language says the same in Chinese
        assert zh.returncode == 0, zh.stderr
        assert "尚未获取过设备清单" in zh.stdout and "迄今尝试连接中心 2 次" in zh.stdout and "再次运行" in zh.stdout, zh.stdout
        up = run_once(url, token, spool)  # the first contact (the centre itself, no proxy): fetch, probe, send
        assert up.returncode == 0, up.stderr
        assert "The centre was reached after 2 failed attempts" in up.stdout, up.stdout
        assert "Device list updated: 2 devices" in up.stdout and "Sent 2 results" in up.stdout, up.stdout
        assert stored() == 2 == distinct_stored() and spool_depth(spool) == 0
        proxy.cut()
        downs = []
        for _ in range(2):  # the centre is down: the kept list is probed, the results spooled, exit 0
            down = run_once(server, token, spool)
            downs.append(down.stdout)
            assert down.returncode == 0, down.stderr
            assert "spooled" in down.stdout and "Traceback" not in down.stderr
            assert "Using the device list kept from the last contact: 2 devices" in down.stdout, down.stdout
            assert "failed attempts" not in down.stdout, down.stdout  # the first contact is told once
        assert spool_depth(spool) == 4 and stored() == 2
        proxy.restore()
        back = run_once(server, token, spool)
        assert back.returncode == 0, back.stderr
        assert "Spool flushed: 4 results in 2 batches" in back.stdout and spool_depth(spool) == 0
        # the list kept in the spool is still the centre's: asked by its version, not sent again
        assert "Device list unchanged since the last contact: 2 devices" in back.stdout, back.stdout
        assert "Device list updated" not in back.stdout, back.stdout
        # four cycles of two devices: every result the agent made arrived, each once
        assert stored() == 8 == distinct_stored()
        assert probed_counts(first.stdout + zh.stdout + up.stdout + "".join(downs) + back.stdout) == 8
        moved = db.scalar(select(Device).where(Device.code == codes[1]))
        moved.ip_address = "127.44.0.9"  # the list changed at the centre: the next run fetches it
        db.commit()
        changed = run_once(server, token, spool)
        assert changed.returncode == 0, changed.stderr
        assert "Device list updated: 2 devices" in changed.stdout and "unchanged" not in changed.stdout, changed.stdout
        # the token revoked: refused, the exit says so, nothing is lost
        agent = db.scalar(select(agents.registry.ProbeAgent))
        agents.revoke_agent(db, agent.id)
        db.commit()
        refused = run_once(server, token, spool)
        assert refused.returncode == 2 and "token" in refused.stderr
    finally:
        closed.close()
        proxy.close()
        stop_centre()
        db.close()
