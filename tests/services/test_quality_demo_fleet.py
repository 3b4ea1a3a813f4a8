"""Issue 5 on the demo fleet: a watchable sampling interval, then dark (night) and blurred cameras ticketed with their
evidence, cleared by good snapshots, verified and closed — through the scheduled sampling path (due → sample)."""
import logging
import socket
import tempfile
import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
from sqlalchemy import select

from fleetops.db import make_sessionmaker
from fleetops.models import AuditLog, ContractParameter, Site
from fleetops.models.quality import QualityFinding
from fleetops.platform import parameters
from fleetops.services import quality, tickets
from fleetops.services.inventory import demo
from tests.tickets_fixtures import after_photo_jpeg
from fleetops.simulator.snapshots import SnapshotServer

BJ = ZoneInfo("Asia/Shanghai")
NOON = datetime(2026, 6, 21, 14, 0, tzinfo=BJ)  # daylight around Karamay
MIDNIGHT = datetime(2026, 6, 22, 1, 0, tzinfo=BJ)  # night there


def test_the_demo_samples_every_two_minutes_audited_as_demo_and_production_keeps_an_hour(db):
    assert parameters.get(db, "quality_sample_interval_min") == 60  # nothing stored: the production default
    demo.load_demo_fleet(db, seed=7, n_devices=40, today=date(2026, 6, 21))
    db.commit()
    assert parameters.get(db, "quality_sample_interval_min") == demo.DEMO_PARAMETERS["quality_sample_interval_min"] == 2
    entry = db.scalar(select(AuditLog).where(AuditLog.action == "parameter_changed",
                                             AuditLog.entity_id == "quality_sample_interval_min"))
    assert entry.actor_name == "demo" and entry.before == {"value": 60} and entry.after == {"value": 2}
    # Loading again changes nothing (no second audit row), and a value someone set afterwards is kept.
    assert demo.load_demo_fleet(db, seed=7, n_devices=40) == {}
    parameters.set_value(db, "quality_sample_interval_min", 5, "supervisor")
    db.commit()
    assert demo.load_demo_fleet(db, seed=7, n_devices=40) == {}
    db.commit()
    assert parameters.get(db, "quality_sample_interval_min") == 5
    # one audit row per demo parameter (the loopback allow-lists included), none added by loading again
    assert len(db.scalars(select(AuditLog).where(AuditLog.actor_name == "demo",
                                                 AuditLog.action == "parameter_changed")).all()) == len(demo.DEMO_PARAMETERS)


def test_a_demo_database_loaded_before_gets_the_interval_but_another_inventory_never_does(db):
    demo.load_demo_fleet(db, seed=7, n_devices=40)
    db.delete(db.get(ContractParameter, "quality_sample_interval_min"))  # as loaded by an older version
    db.commit()
    assert demo.load_demo_fleet(db, seed=7, n_devices=40) == {}
    db.commit()
    assert parameters.get(db, "quality_sample_interval_min") == 2


def test_an_inventory_that_is_not_the_demo_keeps_the_production_interval(db):
    db.add(Site(code="S-1", name="a real site", latitude=45.6, longitude=84.9))
    db.commit()
    assert demo.load_demo_fleet(db, seed=7, n_devices=40) == {}
    db.commit()
    assert db.get(ContractParameter, "quality_sample_interval_min") is None
    assert parameters.get(db, "quality_sample_interval_min") == 60


@pytest.fixture
def demo_cams(db):
    """The demo fleet (small), its cameras answered by a snapshot server on a free port."""
    demo.load_demo_fleet(db, seed=7, n_devices=60, today=date(2026, 6, 21))
    db.commit()
    cams = quality.cameras(db)
    assert len(cams) >= 3
    server = SnapshotServer({c.code: (c.snapshot_username, c.snapshot_password) for c in cams}, port=0).start()
    for c in cams:
        c.snapshot_url = server.url_for(c.code)
    db.commit()
    yield server, cams
    server.stop()


def _round(db, store, at):
    """One scheduled round: the cameras due at `at` are sampled."""
    due = quality.due_cameras(db, at)
    db.commit()
    counts = quality.sample_cameras(make_sessionmaker(db.get_bind()), due, store_dir=store, now=at)
    return due, counts


def _repair(db, t, crew, at):
    if t.assignee_id is None:
        tickets.dispatch(db, t.id, assignee_id=crew.id, actor="test", at=at)
    site = db.get(Site, t.site_id)
    tickets.record_arrival(db, t.id, actor=crew, at=at + timedelta(minutes=1), lat=site.latitude, lon=site.longitude)
    tickets.tick_checklist(db, t.id, list(tickets.rules.CHECKLIST_KEYS), actor=crew)
    tickets.start_repair(db, t.id, actor=crew, at=at + timedelta(minutes=2))
    if tickets.rules.needs_after_photo(t.category):  # T7: a light or lens repair is shown by an after photo
        tickets.add_photo(db, t.id, "after", after_photo_jpeg(), upload_dir=tempfile.mkdtemp(), actor=crew)
    tickets.resolve(db, t.id, "repaired", actor=crew, at=at + timedelta(minutes=3))
    db.commit()


def test_demo_dark_at_night_and_blurred_cameras_get_tickets_with_evidence_then_verify_and_close(
        db, demo_cams, tmp_path, users):
    server, cams = demo_cams
    store = tmp_path / "uploads"
    dark_cam, blur_cam = cams[0], cams[1]
    crew = users["crew"]
    tickets.add_qualification(db, crew.id, "work_at_height", date(2099, 1, 1), valid_from=date(2020, 1, 1),
                              certificate_no="T-1", actor="test")
    for c in cams:
        c.status, c.status_since = "up", NOON - timedelta(days=1)
    db.commit()

    # Night: the dead fill light. Three scheduled rounds two minutes apart are enough for a ticket.
    server.set_fault(dark_cam.code, "dark")
    for i in range(3):
        due, counts = _round(db, store, MIDNIGHT + timedelta(minutes=2 * i))
        assert len(due) == len(cams) and counts["failed"] == 0
        assert _round(db, store, MIDNIGHT + timedelta(minutes=2 * i + 1))[0] == []  # not due within the interval
    [dark] = db.scalars(select(QualityFinding).where(QualityFinding.state == "open")).all()
    assert (dark.device_id, dark.kind) == (dark_cam.id, "dark")
    t_dark = tickets.get_ticket(db, dark.ticket_id)
    assert t_dark.category == "fill_light" and t_dark.source == "quality"
    assert t_dark.evidence_path == dark.evidence_path and (store / t_dark.evidence_path).is_file()

    # Day: the dirty lens.
    server.set_fault(blur_cam.code, "blur")
    for i in range(3):
        _round(db, store, NOON + timedelta(days=1, minutes=2 * i))
    blur = db.scalar(select(QualityFinding).where(QualityFinding.kind == "blur"))
    assert blur.device_id == blur_cam.id and blur.state == "open"
    t_blur = tickets.get_ticket(db, blur.ticket_id)
    assert t_blur.category == "image_blur" and (store / t_blur.evidence_path).is_file()
    assert {f.device_id for f in db.scalars(select(QualityFinding))} == {dark_cam.id, blur_cam.id}

    # The crew repairs both; the faults clear; the next good snapshots (blur by day, dark only at night) verify them.
    fixed_at = NOON + timedelta(days=1, hours=1)
    _repair(db, t_blur, crew, fixed_at)
    _repair(db, t_dark, crew, fixed_at)
    server.set_fault(blur_cam.code, None)
    server.set_fault(dark_cam.code, None)
    _round(db, store, fixed_at + timedelta(minutes=10))
    db.refresh(blur)
    db.refresh(dark)
    assert blur.state == "cleared" and dark.state == "open"  # a daylight frame says nothing about the fill light
    tickets.verify(db, t_blur.id, now=fixed_at + timedelta(minutes=12))
    tickets.close(db, t_blur.id, actor=users["supervisor"], at=fixed_at + timedelta(minutes=13))
    db.commit()
    night = MIDNIGHT + timedelta(days=1)
    _round(db, store, night)
    db.refresh(dark)
    assert dark.state == "cleared"
    tickets.verify(db, t_dark.id, now=night + timedelta(minutes=2))
    tickets.close(db, t_dark.id, actor=users["supervisor"], at=night + timedelta(minutes=3))
    db.commit()
    assert {tickets.get_ticket(db, t.id).state for t in (t_blur, t_dark)} == {"closed"}
    assert db.scalars(select(QualityFinding).where(QualityFinding.state == "open")).all() == []


def test_a_client_that_hangs_up_mid_picture_costs_no_traceback(capfd, caplog):
    server = SnapshotServer({"K1-CAM1": ("admin", "pw")}, port=0).start()
    try:
        caplog.set_level(logging.DEBUG, logger="fleetops.simulator.snapshots")
        for _ in range(20):  # unauthenticated GETs are answered with a 401; hang up before reading it
            with socket.create_connection((server.host, server.port)) as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                sock.sendall(b"GET /cam/K1-CAM1/ISAPI/Streaming/channels/101/picture HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.3)
        assert requests.get(server.url_for("K1-CAM1"), timeout=5).status_code == 401  # still serving
    finally:
        server.stop()
    err = capfd.readouterr().err
    assert "Traceback" not in err and "BrokenPipeError" not in err and "ConnectionResetError" not in err
    assert any("went away" in r.getMessage() and r.levelno == logging.DEBUG for r in caplog.records)
