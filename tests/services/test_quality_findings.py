"""Q3/T6: sampled snapshots → findings that persist over several samples → a ticket with evidence → cleared by a good one."""
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from fleetops.domain.errors import ConflictError
from fleetops.models import AuditLog, Device, Site
from fleetops.models.quality import QualityFinding, SnapshotSample
from fleetops.domain.text import render_stored
from fleetops.platform import events, parameters
from fleetops.platform.i18n import use_locale
from fleetops.services import quality, tickets
from fleetops.simulator.snapshots import SnapshotServer
from tests.tickets_fixtures import after_photo_jpeg

BJ = ZoneInfo("Asia/Shanghai")
NOON = datetime(2026, 6, 21, 14, 0, tzinfo=BJ)  # daylight at the site
MIDNIGHT = datetime(2026, 6, 22, 1, 0, tzinfo=BJ)  # night at the site (sunset ≈ 22:30 Beijing time)


@pytest.fixture
def cams():
    server = SnapshotServer({"K105-CAM1": ("admin", "Cam-pass-1")}, port=0).start()
    yield server
    server.stop()


@pytest.fixture
def cam(db, cams):
    site = Site(code="K-105", name="K-105 北门卡口", district="白碱滩区", latitude=45.65, longitude=84.95)
    db.add(site)
    db.flush()
    device = Device(code="K105-CAM1", name="北门卡口相机1", kind="checkpoint_camera", site_id=site.id,
                    ip_address="127.0.0.51", snapshot_url=cams.url_for("K105-CAM1"),
                    snapshot_username="admin", snapshot_password="Cam-pass-1")
    db.add(device)
    db.commit()
    return device


@pytest.fixture
def store(tmp_path):
    return tmp_path / "uploads"


def sample(db, cam, store, at):
    s = quality.sample_device(db, cam, store_dir=store, now=at, trigger="schedule")
    db.commit()
    return s


def _repair_and_resolve(db, t, crew, store):
    """The crew's visit to the camera of quality ticket `t`: dispatched (if not yet), there three hours
    after NOON, checklist, repair, the after photo (T7: a lens fault), resolved 30 min later; returns the arrival."""
    if t.assignee_id is None:
        tickets.dispatch(db, t.id, assignee_id=crew.id, actor="test", at=NOON + timedelta(hours=2))
    at = NOON + timedelta(hours=3)
    tickets.record_arrival(db, t.id, actor=crew, at=at, lat=45.65, lon=84.95)
    tickets.tick_checklist(db, t.id, list(tickets.rules.CHECKLIST_KEYS), actor=crew)
    tickets.start_repair(db, t.id, actor=crew, at=at + timedelta(minutes=5))
    tickets.add_photo(db, t.id, "after", after_photo_jpeg(), upload_dir=str(store), actor=crew)
    tickets.resolve(db, t.id, "repaired", actor=crew, at=at + timedelta(minutes=30))
    return at


def test_a_good_snapshot_is_stored_with_its_scores_and_no_problem(db, cam, store):
    s = sample(db, cam, store, NOON)
    assert s.ok and s.period == "day" and s.problems == []
    assert (store / s.image_path).is_file()
    assert s.scores["plates"] and "sharpness" in s.scores
    assert "Cam-pass-1" not in repr(s.scores)


def test_one_blurred_frame_opens_nothing_but_three_in_a_row_open_a_finding_with_evidence(db, cam, cams, store):
    cams.set_fault("K105-CAM1", "blur")
    sample(db, cam, store, NOON)
    sample(db, cam, store, NOON + timedelta(hours=1))
    assert db.scalars(select(QualityFinding)).all() == []
    third = sample(db, cam, store, NOON + timedelta(hours=2))
    finding = db.scalar(select(QualityFinding))
    assert (finding.kind, finding.state, finding.count) == ("blur", "open", 3)
    assert finding.first_seen_at == NOON and finding.evidence_path == third.image_path
    ticket = tickets.get_ticket(db, finding.ticket_id)
    assert (ticket.category, ticket.source, ticket.evidence_path) == ("image_blur", "quality", third.image_path)
    assert db.scalar(select(AuditLog).where(AuditLog.action == "quality_finding_opened"))


def test_a_bad_frame_between_good_ones_never_opens_a_finding(db, cam, cams, store):
    for i, fault in enumerate(["blur", "blur", None, "blur", "blur", None]):
        cams.set_fault("K105-CAM1", fault)
        sample(db, cam, store, NOON + timedelta(hours=i))
    assert db.scalars(select(QualityFinding)).all() == []


def test_dead_fill_light_at_night_opens_a_fill_light_ticket_with_the_dark_snapshot(db, cam, cams, store):
    heard = []
    def handler(session, **p):
        heard.append(p)
    events.connect("quality_finding_opened", handler)
    try:
        cams.set_fault("K105-CAM1", "dark")
        last = None
        for i in range(3):
            last = sample(db, cam, store, MIDNIGHT + timedelta(minutes=20 * i))
        assert last.period == "night" and "dark" in last.problems
        finding = db.scalar(select(QualityFinding))
        ticket = tickets.get_ticket(db, finding.ticket_id)
        assert ticket.category == "fill_light" and ticket.evidence_path == last.image_path
        assert heard == [{"finding_id": finding.id, "device_id": cam.id, "kind": "dark"}]
    finally:
        events.disconnect("quality_finding_opened", handler)


def test_a_good_snapshot_clears_the_finding_and_the_ticket_verifies_only_after_it(db, cam, cams, store, users):
    cams.set_fault("K105-CAM1", "blur")
    for i in range(3):
        sample(db, cam, store, NOON + timedelta(hours=i))
    finding = db.scalar(select(QualityFinding))
    t = tickets.get_ticket(db, finding.ticket_id)
    crew = users["crew"]
    tickets.add_qualification(db, crew.id, "work_at_height", date(2099, 1, 1), valid_from=date(2020, 1, 1),
                              certificate_no="T-1", actor="test")
    at = _repair_and_resolve(db, t, crew, store)
    cam.status, cam.status_since = "up", NOON - timedelta(days=1)
    db.commit()
    # Still blurred after the "repair": the ticket must not verify.
    sample(db, cam, store, at + timedelta(minutes=40))
    with pytest.raises(ConflictError, match="image_blur|blur"):
        tickets.verify(db, t.id, now=at + timedelta(minutes=45))
    db.rollback()
    cams.set_fault("K105-CAM1", None)
    good = sample(db, cam, store, at + timedelta(minutes=50))
    assert good.problems == []
    db.refresh(finding)
    assert finding.state == "cleared" and finding.cleared_at == good.taken_at
    tickets.verify(db, t.id, now=at + timedelta(minutes=55))
    db.commit()
    assert tickets.get_ticket(db, t.id).state == "verified"


def test_the_first_good_view_becomes_the_reference_and_a_supervisor_can_replace_it(db, cam, store, users):
    from fleetops.models.quality import ReferenceImage

    first = sample(db, cam, store, NOON)
    ref = db.scalar(select(ReferenceImage))
    assert ref.image_path == first.image_path and ref.set_by == "quality"
    second = sample(db, cam, store, NOON + timedelta(hours=1))
    quality.set_reference(db, cam, second.id, users["supervisor"])
    db.commit()
    assert db.scalar(select(ReferenceImage)).image_path == second.image_path
    assert db.scalar(select(AuditLog).where(AuditLog.action == "quality_reference_set", AuditLog.actor_name == "supervisor"))


def test_a_frozen_camera_and_a_knocked_camera_are_found(db, cam, cams, store, users):
    sample(db, cam, store, NOON)  # the first good view becomes the reference
    cams.set_fault("K105-CAM1", "shifted")
    s = sample(db, cam, store, NOON + timedelta(hours=1))
    assert "scene_shift" in s.problems
    cams.set_fault("K105-CAM1", "frozen")
    sample(db, cam, store, NOON + timedelta(hours=2))
    s = sample(db, cam, store, NOON + timedelta(hours=3))
    assert "frozen" in s.problems


def test_an_unreachable_camera_is_recorded_without_an_image_finding(db, cam, cams, store):
    cams.stop()
    for i in range(3):
        s = quality.sample_device(db, cam, store_dir=store, now=NOON + timedelta(hours=i), timeout_s=1.0)
    db.commit()
    assert not s.ok and "Cannot connect" in render_stored(s.detail, "en") and "无法连接" in render_stored(s.detail, "zh")
    assert db.scalars(select(QualityFinding)).all() == []


def test_the_schedule_samples_only_cameras_that_are_due(app, db, cam, store):
    assert [d.code for d in quality.due_cameras(db, NOON)] == ["K105-CAM1"]
    counts = quality.sample_cameras(app.extensions["fleetops.sessionmaker"], quality.due_cameras(db, NOON),
                                    store_dir=store, now=NOON)
    db.commit()
    assert counts == {"sampled": 1, "failed": 0, "problems": 0}
    assert quality.due_cameras(db, NOON + timedelta(minutes=10)) == []
    assert [d.code for d in quality.due_cameras(db, NOON + timedelta(hours=1))] == ["K105-CAM1"]


def test_many_cameras_sampled_in_parallel_at_night_each_get_their_own_result(app, db, cams, store):
    site = Site(code="K-200", name="K-200 南门卡口", latitude=45.65, longitude=84.95)
    db.add(site)
    db.flush()
    codes = [f"K200-CAM{i}" for i in range(8)]
    for code in codes:
        cams.add_device(code, "admin", "pw-" + code)
        db.add(Device(code=code, kind="checkpoint_camera", site_id=site.id, snapshot_url=cams.url_for(code),
                      snapshot_username="admin", snapshot_password="pw-" + code))
    db.commit()
    cams.set_fault("K200-CAM3", "dark")
    devices = list(db.scalars(select(Device).where(Device.code.in_(codes)).order_by(Device.code)))
    counts = quality.sample_cameras(app.extensions["fleetops.sessionmaker"], devices, store_dir=store,
                                    now=MIDNIGHT)  # night: faces searched in 8 threads
    db.commit()
    assert counts == {"sampled": 8, "failed": 0, "problems": 1}, [(d.code, s.problems, s.detail) for d in devices for s in quality.latest_samples(db, d.id, 1)]
    dark = quality.latest_samples(db, devices[3].id, 1)[0]
    assert dark.problems == ["dark"] and dark.period == "night"


def test_aim_is_checked_against_a_daylight_reference_only_by_day(db, cam, cams, store):
    from fleetops.models.quality import ReferenceImage

    night = sample(db, cam, store, MIDNIGHT)
    assert night.problems == [] and db.scalar(select(ReferenceImage)) is None  # no night reference
    sample(db, cam, store, NOON)
    assert db.scalar(select(ReferenceImage)) is not None
    cams.set_fault("K105-CAM1", "shifted")
    assert "scene_shift" not in sample(db, cam, store, MIDNIGHT + timedelta(days=1)).problems
    assert "scene_shift" in sample(db, cam, store, NOON + timedelta(days=1)).problems


@pytest.mark.parametrize("fault, kind, category", [("glare", "overexposed", "strobe"), ("colour_cast", "colour_cast", "exposure")])
def test_strobe_glare_and_colour_cast_at_night_are_named_and_ticketed(db, cam, cams, store, fault, kind, category):
    cams.set_fault("K105-CAM1", fault)
    for i in range(3):
        s = sample(db, cam, store, MIDNIGHT + timedelta(minutes=20 * i))
        assert kind in s.problems
    finding = db.scalar(select(QualityFinding).where(QualityFinding.kind == kind))
    assert tickets.get_ticket(db, finding.ticket_id).category == category


def test_old_good_images_are_pruned_but_evidence_and_problem_frames_are_kept(db, cam, cams, store):
    good_old = sample(db, cam, store, NOON)  # also the reference view: kept
    good_old2 = sample(db, cam, store, NOON + timedelta(hours=1))
    cams.set_fault("K105-CAM1", "blur")
    bad = [sample(db, cam, store, NOON + timedelta(hours=2 + i)) for i in range(3)]
    finding = db.scalar(select(QualityFinding))
    old_file = store / good_old2.image_path
    assert old_file.is_file()
    removed = quality.prune_images(db, store, now=NOON + timedelta(days=30))
    db.commit()
    assert removed == 1
    assert good_old2.image_path == "" and not old_file.exists()
    assert (store / good_old.image_path).is_file()  # reference view
    assert all((store / b.image_path).is_file() for b in bad)
    assert (store / finding.evidence_path).is_file()
    assert good_old2.scores["sharpness"] > 0  # the scores stay


def test_a_dead_fill_light_is_not_cleared_by_a_daylight_frame_only_by_a_good_night_one(db, cam, cams, store):
    cams.set_fault("K105-CAM1", "dark")
    for i in range(3):
        sample(db, cam, store, MIDNIGHT + timedelta(minutes=20 * i))
    finding = db.scalar(select(QualityFinding))
    cams.set_fault("K105-CAM1", None)
    sample(db, cam, store, NOON + timedelta(days=1))  # daylight hides the dead fill light
    db.refresh(finding)
    assert finding.state == "open"
    t = tickets.get_ticket(db, finding.ticket_id)
    t.opened_at = MIDNIGHT + timedelta(hours=1)  # the test's clock: the ticket opened after the third dark frame
    with use_locale("en"):
        assert "at night" in quality.verify_with_snapshot(db, t, NOON + timedelta(days=1, hours=1))
    assert "夜间" in quality.verify_with_snapshot(db, t, NOON + timedelta(days=1, hours=1))
    good_night = sample(db, cam, store, MIDNIGHT + timedelta(days=1))
    db.refresh(finding)
    assert finding.state == "cleared" and finding.cleared_at == good_night.taken_at
    assert quality.verify_with_snapshot(db, t, MIDNIGHT + timedelta(days=1, minutes=5)) is None


def test_verifying_a_quality_ticket_asks_no_camera_and_the_sampler_takes_its_camera_first(app, db, cam, cams, store,
                                                                                          users):
    """T6 without a camera fetch inside the ticket job's transaction (it held the write lock while the camera
    answered): the verifier only reads; the sampling job takes the camera of a resolved quality ticket first, even
    within its sampling interval, and the next verification finds that snapshot."""
    from fleetops.platform.jobs import JobContext
    from fleetops.scheduler import collect_jobs

    verify_job = next(j for j in collect_jobs(app) if j.id == "ticket_verify")

    def run_verify_job():
        with app.app_context():  # as the scheduler runs it: UPLOAD_DIR is known
            verify_job.func(JobContext.from_app(app))
        db.expire_all()
        return tickets.get_ticket(db, t.id).state

    cams.set_fault("K105-CAM1", "blur")
    for i in range(3):
        sample(db, cam, store, NOON + timedelta(hours=i))
    t = tickets.get_ticket(db, db.scalar(select(QualityFinding)).ticket_id)
    crew = users["crew"]
    at = _repair_and_resolve(db, t, crew, store)
    cam.status, cam.status_since = "up", NOON - timedelta(days=1)
    parameters.set_value(db, "quality_sample_interval_min", 240, users["admin"])
    db.commit()
    cams.set_fault("K105-CAM1", None)
    asked = cams.requests
    assert run_verify_job() == "resolved" and cams.requests == asked  # no camera asked inside the job
    due_at = at + timedelta(minutes=45)  # 1 h 45 min after its last snapshot: within the interval, due for the ticket
    assert [d.code for d in quality.due_cameras(db, due_at)] == ["K105-CAM1"]
    counts = quality.sample_cameras(app.extensions["fleetops.sessionmaker"], quality.due_cameras(db, due_at),
                                    store_dir=store, now=due_at)
    assert counts == {"sampled": 1, "failed": 0, "problems": 0}
    assert run_verify_job() in ("verified", "closed")
    assert quality.due_cameras(db, due_at + timedelta(minutes=1)) == []
