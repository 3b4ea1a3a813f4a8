"""Issue 16, checked as an ordinary user (CI runs as root, so the test drops privileges): in a network namespace of
its own where unprivileged ICMP is off (net.ipv4.ping_group_range = "1 0", Debian's default) and ports below 1024
need root, a throwaway user migrates the database, loads the demo, starts `fleetops simulate`, and polls: the fleet
is up, a simulated dead device goes down, and polls with ICMP forbidden open no device outage."""
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import sysconfig

import pytest

from fleetops.simulator.faults import NetNamespace

PROJECT = Path(__file__).resolve().parents[2]
SCENARIO = Path(__file__).with_name("scenario.py")
CONTROL_PORT = 5091

pytestmark = [
    pytest.mark.netns,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root to create a throwaway user and a network namespace "
                                                 "(CI runs as root)"),
    pytest.mark.skipif(not shutil.which("setpriv"), reason="needs setpriv (util-linux) to drop privileges"),
]


@pytest.fixture
def user():
    """A throwaway system user with no home and no login; removed afterwards."""
    name = f"fo-nr-{secrets.token_hex(3)}"
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True)
    try:
        uid = int(subprocess.run(["id", "-u", name], capture_output=True, text=True, check=True).stdout)
        gid = int(subprocess.run(["id", "-g", name], capture_output=True, text=True, check=True).stdout)
        yield name, uid, gid
    finally:
        subprocess.run(["userdel", name], capture_output=True)


def _user_python(uid: int, gid: int) -> tuple[str, str]:
    """(interpreter, PYTHONPATH) the user can run: ours, or — when it lives in root's home, as with pyenv — the
    system python3 of the same version with our virtualenv's packages (as a user's own venv would have them)."""
    path = str(PROJECT)
    check = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "env", "-i", f"PYTHONPATH={path}"]
    if subprocess.run([*check, sys.executable, "-c", "import fleetops"], capture_output=True).returncode == 0:
        return sys.executable, path
    path += os.pathsep + sysconfig.get_paths()["purelib"]
    want = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for exe in (shutil.which(want, path="/usr/local/bin:/usr/bin:/bin"), "/usr/bin/python3"):
        if exe and subprocess.run([*check.__getitem__(slice(None, -1)), f"PYTHONPATH={path}", exe, "-c",
                                   "import fleetops, sqlalchemy"], capture_output=True).returncode == 0:
            return exe, path
    pytest.skip(f"no Python the user {uid} may run with this project's packages (ours is {sys.executable})")


def test_demo_runs_as_ordinary_user(user):
    name, uid, gid = user
    folder = Path(tempfile.mkdtemp(prefix="fo-nonroot-"))
    os.chown(folder, uid, gid)  # the user cannot write root's instance folder: it gets its own
    python, pythonpath = _user_python(uid, gid)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(folder), "LANG": "C.UTF-8",
           "PYTHONPATH": pythonpath, "FLEETOPS_INSTANCE_PATH": str(folder),
           "FLEETOPS_DATABASE_URL": f"sqlite:///{folder / 'fleetops.sqlite3'}"}
    try:
        with NetNamespace("fo-nr") as ns:
            for knob in ("net.ipv4.ping_group_range=1 0", "net.ipv4.ip_unprivileged_port_start=1024"):
                subprocess.run(ns.argv("sysctl", "-qw", knob), check=True)

            def as_user(*argv, extra=None, background=False):
                cmd = ns.argv("setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--inh-caps=-all",
                              "env", "-i", *[f"{k}={v}" for k, v in {**env, **(extra or {})}.items()],
                              python, *argv)
                if background:
                    return subprocess.Popen(cmd, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                            text=True)
                proc = subprocess.run(cmd, cwd=folder, capture_output=True, text=True, timeout=180)
                assert proc.returncode == 0, proc.stderr[-3000:]
                return proc

            def step(name_, **extra):
                return json.loads(as_user(str(SCENARIO), name_, extra=extra).stdout.strip().splitlines()[-1])

            as_user("-m", "fleetops.cli", "db", "upgrade")
            loaded = step("load")
            assert loaded["uid"] == uid and loaded["nft"] is False and loaded["devices"] >= 40
            sim = as_user("-m", "fleetops.cli", "simulate", "--control-port", str(CONTROL_PORT),
                          "--snapshot-port", "5092", background=True)
            try:
                ctl = lambda *a: as_user("-m", "fleetops.cli", "fault", *a, "--control-port", str(CONTROL_PORT))
                deadline = time.monotonic() + 90
                while time.monotonic() < deadline:
                    probe = subprocess.run(ns.argv(python, "-c", (
                        "import urllib.request;urllib.request.urlopen("
                        f"'http://127.0.0.1:{CONTROL_PORT}/faults',timeout=1)")), capture_output=True)
                    if probe.returncode == 0 or sim.poll() is not None:
                        break
                    time.sleep(0.5)
                assert sim.poll() is None, sim.communicate()[1][-3000:]
                time.sleep(1)  # the ports are recorded right after the control API answers

                # 1. the demo fleet is up, polled by TCP connect (and SNMP) on the ports the simulator really uses
                first = step("poll")
                assert first["snmp_ports"] == [1161] and set(first["liveness_ports"]) <= {1080, 1554}
                assert first["status"].get("up") == first["in_service"] > 20 and not first["open_outages"], first
                # 2. a simulated dead device goes down after three failed polls (N failures in a row)
                listing = json.loads(ctl("list", "--json").stdout)
                assert listing["mode"] == "snmp-only"
                victim = _a_camera()
                ctl("dead", victim)
                for _ in range(3):
                    after = step("poll")
                assert after["open_outages"] == [victim], after
                ctl("clear", "all")
                assert step("poll")["open_outages"] == []
                # 3. the same fleet checked by ping while ICMP is forbidden: TCP fallback keeps it green ...
                step("ping-liveness")
                fallback = step("poll", ICMP_MODE="off")
                assert not fallback["open_outages"] and fallback["status"].get("up") == fallback["in_service"]
                assert any("via" in d for d in fallback["ok_details"]), fallback["ok_details"]
                # ... and without the fallback every result is a local failure: no outage, one probe-host alert
                for _ in range(3):
                    forbidden = step("poll", ICMP_MODE="off", TCP_FALLBACK="0")
                assert forbidden["open_outages"] == [] and len(forbidden["host_alerts"]) == 1, forbidden
                assert forbidden["uid"] == uid
            finally:
                sim.send_signal(signal.SIGTERM)
                out, err = sim.communicate(timeout=30)
            # the two one-line notes (in the default language): ports moved, and what "dead" means without nftables
            assert "1161" in err
            assert sum(1 for line in err.splitlines() if "nftables" in line and "ping" in line) == 1, err
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _a_camera() -> str:
    """An in-service camera of the demo the scenario loads (the generator is deterministic)."""
    from fleetops.services.inventory.demo import generate_fleet

    return next(d["code"] for d in generate_fleet(40, 7).devices
                if d["kind"].endswith("camera") and d["lifecycle"] == "online" and d["ip_address"])
