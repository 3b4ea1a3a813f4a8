"""Q1: pass records → sampling plan → automatic check → human audit queue → accuracy with Wilson intervals → flag."""
import random
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from fleetops.domain.errors import ConflictError, ValidationFailed
from fleetops.models import AuditLog, Device, Site
from fleetops.models.quality import AuditSample, PassRecord, QualityFinding, SamplingPlan
from fleetops.platform import parameters

from fleetops.services import quality, tickets
from tests.db_probes import writes_in_flight

BJ = ZoneInfo("Asia/Shanghai")
LATE_JUNE_NOON = datetime(2026, 6, 29, 14, 0, tzinfo=BJ)  # late in the month: the quota allows every record


class FakeReader:
    """Reads what it is told to: lets the test decide agreement without OCR."""

    name = "fake"

    def __init__(self):
        self.next = None

    def read(self, crop):
        return self.next

    def read_plates(self, frame):
        return [(self.next, [10, 10, 120, 40])] if self.next else []


@pytest.fixture
def cam(db):
    site = Site(code="K-105", name="K-105 北门卡口", latitude=45.65, longitude=84.95)
    db.add(site)
    db.flush()
    device = Device(code="K105-CAM1", kind="checkpoint_camera", site_id=site.id)
    db.add(device)
    db.commit()
    return device


@pytest.fixture
def plate_jpeg(shared_data):
    return (shared_data / "plates" / "ccpd_blue_14.jpg").read_bytes()


def send(db, tmp_path, reader, image, plate, i, at=LATE_JUNE_NOON, rng=None):
    rec = quality.record_pass(db, device_code="K105-CAM1", captured_at=at + timedelta(minutes=i), plate=plate,
                              store_dir=tmp_path, image=image, external_id=f"rec-{i}", reader=reader,
                              rng=rng or random.Random(1))
    db.commit()
    return rec


def test_sampling_plan_is_sized_for_the_day_and_night_targets(db, cam):
    assert quality.plan_for(db, cam, "2026-06", "day").target_samples == 753
    assert quality.plan_for(db, cam, "2026-06", "night").target_samples == 457
    parameters.set_value(db, "quality_audit_margin_night", 0.03, "test")
    assert quality.plan_for(db, cam, "2026-07", "night").target_samples == 203


def test_reader_agreement_is_counted_and_disagreement_goes_to_people(db, cam, tmp_path, plate_jpeg):
    parameters.set_value(db, "quality_audit_human_share", 0.0, "test")
    reader = FakeReader()
    reader.next = "皖ALJ624"
    agreed = send(db, tmp_path, reader, plate_jpeg, "皖ALJ624", 1)
    reader.next = "皖ALJ624"
    disputed = send(db, tmp_path, reader, plate_jpeg, "皖ALJ634", 2)  # the camera misread a digit
    reader.next = None
    unread = send(db, tmp_path, reader, plate_jpeg, "皖ALJ624", 3)
    by_rec = {a.pass_record_id: a for a in db.scalars(select(AuditSample))}
    assert (by_rec[agreed.id].auto_result, by_rec[agreed.id].outcome, by_rec[agreed.id].queued) == ("agree", "correct", False)
    assert (by_rec[disputed.id].queue_reason, by_rec[disputed.id].outcome) == ("disagreement", None)
    assert by_rec[unread.id].queue_reason == "unread"
    assert [a.id for a in quality.audit_queue(db)] == [by_rec[disputed.id].id, by_rec[unread.id].id]


def test_a_random_share_of_agreements_is_still_checked_by_people(db, cam, tmp_path, plate_jpeg):
    parameters.set_value(db, "quality_audit_human_share", 0.5, "test")
    reader = FakeReader()
    reader.next = "皖ALJ624"
    rng = random.Random(42)
    for i in range(40):
        send(db, tmp_path, reader, plate_jpeg, "皖ALJ624", i, rng=rng)
    queued = db.scalar(select(func.count()).select_from(AuditSample).where(AuditSample.queue_reason == "random"))
    assert 10 <= queued <= 30


def test_human_verdicts_feed_the_accuracy_and_a_bad_camera_is_flagged_with_a_ticket(db, cam, tmp_path, plate_jpeg, users):
    parameters.set_value(db, "quality_audit_human_share", 0.0, "test")
    parameters.set_value(db, "quality_audit_min_judged", 20, "test")
    reader = FakeReader()
    reader.next = "皖ALJ624"
    for i in range(16):
        send(db, tmp_path, reader, plate_jpeg, "皖ALJ624", i)
    for i in range(16, 24):
        send(db, tmp_path, reader, plate_jpeg, "皖ALJ62A", i)  # disagreements
    queue = quality.audit_queue(db)
    assert len(queue) == 8
    for a in queue[:6]:
        quality.review(db, a.id, verdict="wrong", corrected_text="皖ALJ624", actor=users["supervisor"])
    quality.review(db, queue[6].id, verdict="correct", actor=users["supervisor"])
    db.commit()
    with pytest.raises(ConflictError):
        quality.review(db, queue[0].id, verdict="correct", actor=users["supervisor"])
    [row] = quality.accuracy_table(db, "2026-06")
    assert (row["correct"], row["judged"], row["pending"]) == (17, 23, 1)
    assert row["rate"] == pytest.approx(17 / 23)
    assert row["high"] < 0.98 and row["flagged"] and row["period"] == "day" and row["planned"] == 753
    [finding] = quality.flag_low_accuracy(db, "2026-06")
    db.commit()
    assert finding.kind == "accuracy_low" and finding.ticket_id
    assert tickets.get_ticket(db, finding.ticket_id).source == "quality"
    assert quality.flag_low_accuracy(db, "2026-06") == []  # once per month and period
    quality.flag_low_accuracy(db, "2026-07")  # a new month: last month's finding is closed
    db.commit()
    db.refresh(finding)
    assert finding.state == "cleared"
    assert db.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "plate_audit_reviewed")) == 7


def test_the_quota_spreads_audits_over_the_month(db, cam, tmp_path, plate_jpeg):
    early = datetime(2026, 6, 1, 0, 30, tzinfo=BJ)  # 30 min into the month: 753 × 0.0007 → 1 sample due
    reader = FakeReader()
    for i in range(5):
        send(db, tmp_path, reader, plate_jpeg, "皖ALJ624", i, at=early)
    assert db.scalar(select(func.count()).select_from(AuditSample)) == 1
    assert db.scalar(select(SamplingPlan.selected)) == 1
    assert db.scalar(select(func.count()).select_from(PassRecord)) == 5


def test_bad_pass_records_are_refused_whole_and_duplicates_stored_once(db, cam, tmp_path, plate_jpeg):
    with pytest.raises(ValidationFailed) as err:
        quality.record_pass(db, device_code="K105-CAM1", captured_at=datetime(2026, 6, 1, 12, 0), plate="??",
                            store_dir=tmp_path, image=b"not an image", reader=None)
    assert len(err.value.details["errors"]) == 3
    with pytest.raises(ValidationFailed) as err:
        quality.record_pass(db, device_code="NOPE", captured_at=LATE_JUNE_NOON, plate="皖ALJ624", store_dir=tmp_path)
    assert "no device" in err.value.msg.render("en") and "没有设备" in err.value.message
    db.rollback()
    assert db.scalar(select(func.count()).select_from(PassRecord)) == 0
    a = send(db, tmp_path, None, plate_jpeg, "皖A LJ624", 1)
    b = send(db, tmp_path, None, plate_jpeg, "皖ALJ624", 1)
    assert a.id == b.id and a.reported_plate == "皖ALJ624"
    [sample] = db.scalars(select(AuditSample)).all()
    assert sample.auto_result == "no_reader" and sample.queued  # without a reader every drawn record goes to people


def test_upload_folder_imports_named_captures_and_reports_bad_names(app, db, cam, tmp_path, plate_jpeg):
    folder = tmp_path / "passes"
    folder.mkdir()
    (folder / "K105-CAM1_20260629140000_皖ALJ624.jpg").write_bytes(plate_jpeg)
    (folder / "K105-CAM1_20260629140500_皖ALJ625.jpg").write_bytes(plate_jpeg)
    (folder / "garbage.jpg").write_bytes(b"x")
    (folder / "K999_20260629140000_皖A11111.jpg").write_bytes(plate_jpeg)
    sessions = app.extensions["fleetops.sessionmaker"]
    first = quality.import_pass_folder(sessions, folder, store_dir=tmp_path, reader=None)
    assert first["imported"] == 2 and len(first["errors"]) == 2
    again = quality.import_pass_folder(sessions, folder, store_dir=tmp_path, reader=None)
    assert (again["imported"], again["skipped"]) == (0, 2)
    rec = db.scalar(select(PassRecord).order_by(PassRecord.id))
    assert rec.captured_at == datetime(2026, 6, 29, 14, 0, tzinfo=BJ) and rec.source == "folder"


def test_a_folder_is_read_between_transactions_and_committed_file_by_file(app, db, cam, tmp_path, plate_jpeg):
    """A folder of thousands of captures read at ~1 s each must not hold the database meanwhile: each drawn
    capture is read with no write open anywhere, and the captures before it are already committed."""
    folder = tmp_path / "passes"
    folder.mkdir()
    plates = ["皖ALJ624", "皖ALJ625", "皖ALJ626"]
    for i, plate in enumerate(plates):
        (folder / f"K105-CAM1_2026062914{i:02d}00_{plate}.jpg").write_bytes(plate_jpeg)
    sessions = app.extensions["fleetops.sessionmaker"]
    seen = []

    class WatchingReader(FakeReader):
        def read_plates(self, frame):
            with sessions() as other:
                committed = other.scalar(select(func.count()).select_from(PassRecord))
            seen.append((committed, writes_in_flight(db.get_bind())))
            return [(plates[len(seen) - 1], [10, 10, 120, 40])]

    result = quality.import_pass_folder(sessions, folder, store_dir=tmp_path, reader=WatchingReader())
    assert (result["imported"], result["errors"]) == (3, [])
    assert seen == [(0, False), (1, False), (2, False)]
    db.rollback()
    assert [a.auto_result for a in db.scalars(select(AuditSample).order_by(AuditSample.id))] == ["agree"] * 3
    assert db.scalar(select(SamplingPlan.selected).where(SamplingPlan.period == "day")) == 3


def test_the_job_and_the_command_import_a_folder(app, db, cam, tmp_path, plate_jpeg, monkeypatch):
    """The scheduler's quality_accuracy job takes UPLOAD_DIR/passes; `fleetops import-passes FOLDER` any folder
    (exit 1 naming a bad file; the good ones are kept)."""
    import fleetops.cli
    from click.testing import CliRunner
    from fleetops import wiring
    from fleetops.platform.jobs import JobContext

    passes = Path(app.config["UPLOAD_DIR"]) / "passes"
    passes.mkdir(parents=True, exist_ok=True)
    (passes / "K105-CAM1_20260629140000_皖ALJ624.jpg").write_bytes(plate_jpeg)
    next(j for j in wiring.JOBS if j.id == "quality_accuracy").func(JobContext.from_app(app))
    other = tmp_path / "from-the-camera"
    other.mkdir()
    (other / "K105-CAM1_20260629140500_皖ALJ625.jpg").write_bytes(plate_jpeg)
    (other / "K105-CAM1_2026_bad.jpg").write_bytes(plate_jpeg)
    monkeypatch.setattr(fleetops.cli, "_app", app)
    out = CliRunner().invoke(fleetops.cli.main, ["import-passes", str(other)], catch_exceptions=False)
    assert out.exit_code == 1 and "K105-CAM1_2026_bad.jpg" in out.output
    db.rollback()
    assert sorted(db.scalars(select(PassRecord.reported_plate))) == ["皖ALJ624", "皖ALJ625"]


def test_the_reference_reader_reads_a_real_plate(shared_data):
    from probes.vision import imaging, plate_reader

    reader = plate_reader.default_reader()
    if reader is None:
        pytest.skip("no plate reader installed (optional: rapidocr + onnxruntime)")
    img = imaging.read_image_file(str(shared_data / "plates" / "hyperlpr_toll_06.png"))
    x1, y1, x2, y2 = imaging.find_plates(img)[0].bbox
    assert reader.read(img[y1 - 10:y2 + 10, x1 - 15:x2 + 15]) == "浙A502CX"
