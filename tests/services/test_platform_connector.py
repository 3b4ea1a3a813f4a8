"""U7 (issue 12 part 6): the connector pulls pass-record counts per camera from a platform's HTTP JSON endpoint (a real
loopback server the test starts) into the PassCount store; bad JSON, HTTP 500 and a timeout write nothing and leave a
clear reason (logged, kept on the connector); a bad row drops only its camera; the password is encrypted at rest; the
allow-list applies; and the no-data fault of the platform simulator makes "online but no data" fire."""
import json
import logging
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import func, select, text

from fleetops.models import Device, Site
from fleetops.models.alerts import Alert, PassCount
from fleetops.models.records import PlatformConnector
from fleetops.platform import netpolicy, parameters
from fleetops.services import platforms
from fleetops.services.monitoring import detectors
from fleetops.simulator.platform import PlatformServer

UTC = timezone.utc
NOW = datetime.now(UTC).replace(minute=20, second=0, microsecond=0)
SLOT = NOW.replace(minute=0) - timedelta(hours=1)


@pytest.fixture(autouse=True)
def loopback_platforms(monkeypatch):
    monkeypatch.setitem(parameters.DEFAULTS, netpolicy.PLATFORMS,
                        (netpolicy.PRIVATE + netpolicy.LOOPBACK, parameters.DEFAULTS[netpolicy.PLATFORMS][1]))


class Peer:
    """A loopback platform whose next answer the test sets: (status, body bytes, delay s)."""

    def __init__(self):
        self.answer = (200, b"{}", 0.0)
        self.requests = []
        self.while_answering = None  # a function the peer calls before it answers (the test's other writer)
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_):
                pass

            def do_GET(self):  # noqa: N802
                peer.requests.append((self.path, self.headers.get("Authorization")))
                if peer.while_answering:
                    peer.while_answering()
                status, body, delay = peer.answer
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/stats/pass"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def peer():
    p = Peer()
    yield p
    p.close()


@pytest.fixture
def cams(db, users):
    site = Site(code="K401", name="K401 友谊路卡口", district="克拉玛依区", latitude=45.6, longitude=84.87)
    db.add(site)
    db.flush()
    out = []
    for code in ("K401-CAM1", "K401-CAM2"):
        d = Device(code=code, name=code, kind="checkpoint_camera", site_id=site.id, lifecycle="online", status="up")
        db.add(d)
        out.append(d)
    db.commit()
    return out


def _connector(db, users, url, **extra):
    raw = {"name": "指挥平台", "url": url, "username": "fleetops", "password": "pl@tform-secret", "interval_s": "300",
           "timeout_s": "2", "enabled": "1", "map_items": "result.rows", "map_device": "cameraCode",
           "map_slot_start": "hour", "map_count": "passCount", **extra}
    c = platforms.save_connector(db, None, raw, users["admin"])
    db.commit()
    return c


def _body(rows) -> bytes:
    return json.dumps({"result": {"rows": rows}}).encode()


def _counts(db):
    return sorted((d, c) for d, c in db.execute(
        select(Device.code, PassCount.count).join(Device, Device.id == PassCount.device_id)))


def test_pull_maps_fields_and_stores_counts_with_encrypted_password(db, users, cams, peer):
    c = _connector(db, users, peer.url)
    peer.answer = (200, _body([{"cameraCode": "K401-CAM1", "hour": SLOT.isoformat(), "passCount": 120},
                               {"cameraCode": "K401-CAM2", "hour": int(SLOT.timestamp()), "passCount": 80}]), 0)
    out = platforms.pull_connector(db, c, now=NOW)
    db.commit()
    assert out["ok"] and out["stored"] == 2 and c.last_error == ""
    assert _counts(db) == [("K401-CAM1", 120), ("K401-CAM2", 80)]
    path, auth = peer.requests[-1]
    assert path.startswith("/stats/pass?from=") and auth and auth.startswith("Basic ")
    stored = db.execute(text("SELECT password FROM platform_connectors")).scalar()
    assert "pl@tform-secret" not in stored and c.password == "pl@tform-secret"


@pytest.mark.parametrize("answer, reason", [
    ((200, b"{not json", 0), "not JSON"),
    ((500, b'{"error": "db down"}', 0), "HTTP 500"),
    ((200, b"", 4.0), "did not answer"),
    ((200, b'{"result": {"rows": 5}}', 0), "no list"),
])
def test_failures_write_nothing_and_say_why(db, users, cams, peer, caplog, answer, reason):
    c = _connector(db, users, peer.url)
    peer.answer = answer
    with caplog.at_level(logging.WARNING, logger="fleetops.services.platforms.pull"):
        out = platforms.pull_connector(db, c, now=NOW)
    db.commit()
    assert not out["ok"]
    assert db.scalar(select(func.count()).select_from(PassCount)) == 0
    assert reason in out["error"].render("en")
    assert any(reason in r.getMessage() and "指挥平台" in r.getMessage() for r in caplog.records)
    db.expire_all()
    assert c.last_error and c.last_ok_at is None
    assert "pl@tform-secret" not in caplog.text


def test_a_bad_row_drops_only_its_camera(db, users, cams, peer, caplog):
    c = _connector(db, users, peer.url)
    peer.answer = (200, _body([
        {"cameraCode": "K401-CAM1", "hour": SLOT.isoformat(), "passCount": 120},
        {"cameraCode": "K401-CAM1", "hour": (SLOT - timedelta(hours=1)).isoformat(), "passCount": 110},
        {"cameraCode": "K401-CAM2", "hour": SLOT.isoformat(), "passCount": 90},
        {"cameraCode": "K401-CAM2", "hour": (SLOT - timedelta(hours=1)).isoformat(), "passCount": "many"},
        {"cameraCode": "K999-GHOST", "hour": SLOT.isoformat(), "passCount": 1}]), 0)
    with caplog.at_level(logging.WARNING, logger="fleetops.services.platforms.pull"):
        out = platforms.pull_connector(db, c, now=NOW)
    db.commit()
    assert out["ok"] and set(out["skipped"]) == {"K401-CAM2", "K999-GHOST"}
    assert _counts(db) == [("K401-CAM1", 110), ("K401-CAM1", 120)]
    assert "camera=K401-CAM2" in caplog.text


def test_allow_list_refuses_and_bad_form_input_is_4xx(db, users, cams, peer, monkeypatch, client_as):
    monkeypatch.setitem(parameters.DEFAULTS, netpolicy.PLATFORMS, (["10.0.0.0/8"], "test"))
    c = _connector(db, users, peer.url)
    out = platforms.pull_connector(db, c, now=NOW)
    assert not out["ok"] and "platform networks" in out["error"].render("en") and not peer.requests
    admin = client_as("admin")
    resp = admin.post("/records/platforms/new", data={"name": "x", "url": "ftp://nowhere", "interval_s": "5",
                                                      "timeout_s": "2", "map_device": "c", "map_slot_start": "s",
                                                      "map_count": "n"})
    assert resp.status_code == 422
    assert db.scalar(select(func.count()).select_from(PlatformConnector)) == 1
    assert client_as("supervisor").get("/records/platforms").status_code == 403


def test_save_and_pull_now_stores_the_counts_and_locks_out_no_other_writer(db, users, cams, peer, client_as, app):
    """The admin's "save and pull now": the connector is saved before the platform is asked, so another writer (a job)
    goes through while the platform answers — on SQLite the form's transaction used to hold the write lock meanwhile."""
    from fleetops.db import session_scope

    wrote = []

    def another_job_writes():
        with session_scope(app.extensions["fleetops.sessionmaker"], write=True) as s:
            s.execute(text("UPDATE sites SET name = name WHERE code = 'K401'"))
        wrote.append(True)

    peer.while_answering = another_job_writes
    peer.answer = (200, _body([{"cameraCode": "K401-CAM1", "hour": SLOT.isoformat(), "passCount": 42}]), 0)
    form = {"name": "指挥平台", "url": peer.url, "username": "fleetops", "password": "pl@tform-secret",
            "interval_s": "300", "timeout_s": "10", "enabled": "1", "map_items": "result.rows",
            "map_device": "cameraCode", "map_slot_start": "hour", "map_count": "passCount", "pull_now": "1"}
    resp = client_as("admin").post("/records/platforms/new", data=form)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    db.expire_all()
    assert wrote == [True] and len(peer.requests) == 1
    assert db.scalar(select(func.count()).select_from(PlatformConnector)) == 1
    assert [c for _, c in _counts(db)] == [42]


def test_job_pulls_each_connector_alone(db, users, cams, peer, app):
    good = _connector(db, users, peer.url)
    bad_peer = Peer()
    try:
        bad_peer.answer = (500, b"{}", 0)
        _connector(db, users, bad_peer.url, name="视频专网平台")
        peer.answer = (200, _body([{"cameraCode": "K401-CAM1", "hour": SLOT.isoformat(), "passCount": 7}]), 0)
        from fleetops.platform.jobs import JobContext

        platforms.job_platform_pull(JobContext.from_app(app))
    finally:
        bad_peer.close()
    db.expire_all()
    assert _counts(db) == [("K401-CAM1", 7)]
    assert db.get(PlatformConnector, good.id).last_ok_at is not None


def test_no_data_fault_through_the_platform_simulator_fires_the_detector(db, users, cams):
    """The demo's path: `fleetops fault no-data K401-CAM1` posts to the simulator's control API; the platform
    simulator then reports 0 for that camera; the connector pulls; the detector fires for it alone."""
    from click.testing import CliRunner

    from fleetops.cli.simulator import fault
    from fleetops.simulator import Simulator
    from fleetops.simulator.agents import SimDevice

    devices = [SimDevice(code, "K401", "127.0.0.1", port=0, community=f"c{i}")
               for i, code in enumerate(("K401-CAM1", "K401-CAM2"))]
    with Simulator(devices, firewall=False, control_port=0, tick_s=0.05, warn_no_firewall=False) as sim:
        platform = PlatformServer(["K401-CAM1", "K401-CAM2"], sim.book.no_data_since).start()
        try:
            c = platforms.ensure_simulated_connector(db, platform.url)
            db.commit()
            assert platforms.pull_connector(db, c)["ok"]
            db.commit()
            assert detectors.check_no_data(db)["opened"] == 0  # healthy: steady counts on every day
            db.commit()
            result = CliRunner().invoke(fault, ["no-data", "K401-CAM1", "--control-port", str(sim.control_port)])
            assert result.exit_code == 0, result.output
            assert set(sim.book.no_data_since()) == {"K401-CAM1"}
            assert platforms.pull_connector(db, c)["ok"]
            db.commit()
            assert detectors.check_no_data(db)["opened"] == 1
            db.commit()
        finally:
            platform.stop()
    alerts = db.scalars(select(Alert).where(Alert.kind == "no_data")).all()
    assert [a.device_id for a in alerts] == [cams[0].id]


def test_platform_kinds_are_devices_of_their_own(db, users, cams):
    from fleetops.services import inventory

    for code, label, ip in (("K401-PLAT", "集成指挥平台服务器", "127.0.0.9"), ("K401-VIDEO", "视频专网平台", "127.0.0.10")):
        inventory.save_device(db, None, {"kind": label, "site_code": "K401", "lifecycle": "online",
                                         "ip_address": ip}, users["admin"], new_code=code)
    db.commit()
    kinds = {c: k for c, k in db.execute(select(Device.code, Device.kind).where(
        Device.code.in_(["K401-PLAT", "K401-VIDEO"])))}
    assert kinds == {"K401-PLAT": "platform_server", "K401-VIDEO": "video_platform"}
