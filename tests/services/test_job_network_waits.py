"""Scheduled jobs never wait on the network inside a write transaction.

The demo's first minute on SQLite: `alerts_repeat` and `stock_minimum` waited 30 s for the write lock and failed with
"database is locked", because `quality_sample` kept its transaction (and so SQLite's one write lock) open from its
first recorded snapshot until the last camera had answered. Here a camera (or a platform) answers only when the
test lets it — the headers at once, then its body a byte at a time, so no read timeout ends the wait — and the other
jobs must finish while it is still held back. On SQLite each of these tests fails without the fix (the other job
gets "database is locked" after the busy timeout); on PostgreSQL they show the same flow works there too."""
from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import event, func, select

from fleetops.models import Device, Site
from fleetops.models.alerts import PassCount
from fleetops.models.base import utcnow
from fleetops.models.quality import SnapshotSample
from fleetops.platform import netpolicy, parameters
from fleetops.platform.jobs import JobContext
from fleetops.scheduler import collect_jobs


class HeldPeer:
    """A loopback HTTP peer. `held=True`: it sends its status and headers at once, then one byte of the body every
    half second until `release` is set, then the rest (a camera on a bad link); `requested` is set on the first GET."""

    def __init__(self, body: bytes, content_type: str, held: bool):
        self.body, self.requested, self.release = body, threading.Event(), threading.Event()
        if not held:
            self.release.set()
        peer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_):
                pass

            def do_GET(self):  # noqa: N802 - http.server naming
                peer.requested.set()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(peer.body)))
                    self.end_headers()
                    self.wfile.flush()
                    sent = 0
                    while not peer.release.wait(0.5) and sent < len(peer.body) - 1:
                        self.wfile.write(peer.body[sent:sent + 1])
                        self.wfile.flush()
                        sent += 1
                    self.wfile.write(peer.body[sent:])
                except OSError:  # the client gave up
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def peers():
    made = []

    def make(body: bytes, content_type: str = "image/jpeg", held: bool = False) -> HeldPeer:
        made.append(HeldPeer(body, content_type, held))
        return made[-1]

    yield make
    for p in made:
        p.close()


def run_in_thread(app, job_id: str):
    """Run a scheduled job as the scheduler does (its own thread, app context, a JobContext); errors are kept."""
    job = next(j for j in collect_jobs(app) if j.id == job_id)
    out = {}

    def work():
        try:
            with app.app_context():
                job.func(JobContext.from_app(app))
        except BaseException as err:  # noqa: BLE001 - handed to the test
            out["error"] = err

    t = threading.Thread(target=work, name=job_id)
    t.start()
    return t, out


def run_now(app, job_id: str) -> None:
    """Run a job in this thread; an error (such as "database is locked") fails the test."""
    job = next(j for j in collect_jobs(app) if j.id == job_id)
    with app.app_context():
        job.func(JobContext.from_app(app))


def other_writers_finish(app) -> None:
    """The two jobs that failed in the demo: both take the write lock as they begin (BEGIN IMMEDIATE on SQLite)."""
    run_now(app, "alerts_repeat")
    run_now(app, "stock_minimum")


def camera(db, code: str, url: str) -> Device:
    site = db.scalar(select(Site).where(Site.code == "K-900"))
    if site is None:
        site = Site(code="K-900", name="K-900 测试卡口", district="白碱滩区", latitude=45.65, longitude=84.95)
        db.add(site)
        db.flush()
    d = Device(code=code, name=code, kind="checkpoint_camera", site_id=site.id, snapshot_url=url)
    db.add(d)
    db.flush()
    return d


def test_a_camera_that_keeps_the_sampler_waiting_holds_back_no_other_job(app, db, peers, shared_data):
    jpeg = (shared_data / "plates" / "ccpd_blue_01.jpg").read_bytes()
    fast, slow = peers(jpeg), peers(jpeg, held=True)
    cam_fast = camera(db, "K900-CAM1", fast.base + "/snapshot.jpg")  # sampled (and recorded) first
    cam_slow = camera(db, "K900-CAM2", slow.base + "/snapshot.jpg")
    db.commit()
    recorded = threading.Event()

    def on_insert(_mapper, _conn, sample):
        if sample.device_id == cam_fast.id:
            recorded.set()

    event.listen(SnapshotSample, "after_insert", on_insert)
    try:
        sampler, out = run_in_thread(app, "quality_sample")
        try:
            # The sampler has stored the fast camera's frame and is still reading the slow camera's.
            assert slow.requested.wait(60) and recorded.wait(60), out
            other_writers_finish(app)
            assert not slow.release.is_set()  # they finished while the camera was still held back
        finally:
            slow.release.set()
            sampler.join(120)
    finally:
        event.remove(SnapshotSample, "after_insert", on_insert)
    assert not sampler.is_alive() and "error" not in out, out
    db.expire_all()
    got = {d: ok for d, ok in db.execute(select(SnapshotSample.device_id, SnapshotSample.ok))}
    assert set(got) == {cam_fast.id, cam_slow.id} and got[cam_fast.id] is True


def test_a_platform_that_keeps_the_pull_waiting_holds_back_no_other_job(app, db, users, peers, monkeypatch):
    from fleetops.models.records import PlatformConnector
    from fleetops.services import platforms

    monkeypatch.setitem(parameters.DEFAULTS, netpolicy.PLATFORMS,
                        (netpolicy.PRIVATE + netpolicy.LOOPBACK, parameters.DEFAULTS[netpolicy.PLATFORMS][1]))
    cam = camera(db, "K900-CAM1", "")
    db.commit()
    slot = (utcnow() - timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    body = json.dumps({"result": {"rows": [{"cameraCode": cam.code, "hour": slot.isoformat(), "passCount": 7}]}})
    platform = peers(body.encode(), "application/json", held=True)
    c = platforms.save_connector(db, None, {
        "name": "指挥平台", "url": platform.base + "/stats/pass", "username": "", "password": "", "interval_s": "300",
        "timeout_s": "5", "enabled": "1", "map_items": "result.rows", "map_device": "cameraCode",
        "map_slot_start": "hour", "map_count": "passCount"}, users["admin"])
    db.commit()
    puller, out = run_in_thread(app, "platform_pull")
    try:
        assert platform.requested.wait(60), out
        other_writers_finish(app)
        assert not platform.release.is_set()
    finally:
        platform.release.set()
        puller.join(120)
    assert not puller.is_alive() and "error" not in out, out
    db.expire_all()
    assert db.scalar(select(func.sum(PassCount.count)).where(PassCount.device_id == cam.id)) == 7
    assert db.get(PlatformConnector, c.id).last_ok_at is not None
