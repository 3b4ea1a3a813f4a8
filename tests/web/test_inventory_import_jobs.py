"""Large inventory files are checked and imported by the scheduler's `inventory_imports` job, never in the web
request (issue 11): the page shows progress and refreshes itself, the result is the same all-or-nothing one."""
import io
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from fleetops.models import Device, InventoryImportJob
from fleetops.models.base import utcnow
from fleetops.platform.jobs import JobContext
from fleetops.services.inventory import import_jobs
from tests.inventory_helpers import csv_bytes, device_row

ROWS = 30


@pytest.fixture(autouse=True)
def small_threshold(monkeypatch):
    monkeypatch.setattr(import_jobs, "LARGE_IMPORT_ROWS", 20)  # 30 rows count as large; the real bound is tested below


def big_csv(bad_line_ip=None):
    rows = [device_row(f"K105-CAM{i:02d}", ip=f"10.65.1.{i + 10}") for i in range(ROWS)]
    if bad_line_ip is not None:
        rows[bad_line_ip]["ip_address"] = "10.65.1.999"
    return csv_bytes(rows)


def devices(db):
    db.expire_all()
    n = db.scalar(select(func.count()).select_from(Device))
    db.rollback()
    return n


def run_queue(app):
    import_jobs.job_import_files(JobContext.from_app(app))


def upload(c, data, name="大清单.csv"):
    return c.post("/inventory/import", data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def test_a_large_file_is_checked_then_imported_in_the_background(app, db, client_as):
    c = client_as("supervisor")
    c.get("/lang/en")
    r = upload(c, big_csv())
    assert r.status_code == 302 and "/inventory/import/jobs/" in r.headers["Location"]
    page = c.get(r.headers["Location"]).get_data(as_text=True)
    assert 'http-equiv="refresh"' in page and "waits for the scheduler" in page  # the request did not check it
    run_queue(app)
    page = c.get(r.headers["Location"]).get_data(as_text=True)
    assert 'http-equiv="refresh"' not in page and "Import now" in page and devices(db) == 0  # only checked
    check_id = int(r.headers["Location"].rsplit("/", 1)[1])
    r = c.post(f"/inventory/import/jobs/{check_id}/confirm")
    assert r.status_code == 302 and devices(db) == 0
    run_queue(app)
    assert devices(db) == ROWS
    page = c.get(r.headers["Location"]).get_data(as_text=True)
    assert f"Imported: {ROWS} created, 0 updated, 0 unchanged." in page
    job = db.scalar(select(InventoryImportJob).order_by(InventoryImportJob.id.desc()))
    assert (job.state, job.rows_checked, job.rows_total, job.rows_written) == ("done", ROWS, ROWS, ROWS)
    assert not import_jobs.uploads.upload_path(app.config["UPLOAD_DIR"], job.token).exists()
    assert c.post(f"/inventory/import/jobs/{check_id}/confirm").status_code == 302  # the file is gone: refused
    run_queue(app)
    assert devices(db) == ROWS


def test_a_large_file_with_a_bad_row_reports_its_line_and_imports_nothing(app, db, client_as):
    c = client_as("supervisor")
    c.get("/lang/en")
    r = upload(c, big_csv(bad_line_ip=17))
    run_queue(app)
    page = c.get(r.headers["Location"]).get_data(as_text=True)
    assert "1 problems found; nothing was imported" in page and "<td>19</td>" in page  # header = line 1
    assert "Import now" not in page and devices(db) == 0
    check_id = int(r.headers["Location"].rsplit("/", 1)[1])
    r = c.post(f"/inventory/import/jobs/{check_id}/confirm")
    assert r.headers["Location"].endswith("/inventory/import")
    assert db.scalar(select(func.count()).select_from(InventoryImportJob)) == 1


def test_a_running_job_shows_its_progress_and_a_dead_schedulers_job_runs_again(app, db, client_as):
    c = client_as("supervisor")
    r = upload(c, big_csv())
    job = db.scalar(select(InventoryImportJob))
    job.state, job.rows_checked, job.rows_total = "running", 500, 1200
    job.heartbeat_at = utcnow() - timedelta(hours=1)  # its scheduler was killed an hour ago
    db.commit()
    page = c.get(r.headers["Location"]).get_data(as_text=True)
    assert "500 / 1200" in page and 'http-equiv="refresh"' in page
    run_queue(app)
    db.expire_all()
    assert db.get(InventoryImportJob, job.id).state == "done" and db.get(InventoryImportJob, job.id).result["ok"]


def test_small_files_stay_synchronous_and_the_real_bound_is_about_a_thousand_rows(monkeypatch):
    monkeypatch.undo()
    assert not import_jobs.is_large(b"code,name\n" * 900)
    assert import_jobs.is_large(b"code,name\n" * 1100)
    assert import_jobs.is_large(b"PK\x03\x04" + b"\0" * (300 * 1024))
    assert not import_jobs.is_large(b"PK\x03\x04" + b"\0" * 1024)


def test_crew_cannot_see_an_import_job(app, client_as):
    c = client_as("supervisor")
    r = upload(c, big_csv())
    assert client_as("crew").get(r.headers["Location"]).status_code == 403
    assert c.get("/inventory/import/jobs/999999").status_code == 404
