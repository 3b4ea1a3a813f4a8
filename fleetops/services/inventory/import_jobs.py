"""Large inventory files are checked and imported in the background, never in a web thread (issue 11).

An upload above LARGE_IMPORT_BYTES (or, for CSV, LARGE_IMPORT_ROWS lines) is kept in the upload folder and
queued as an `InventoryImportJob`; the scheduler's `inventory_imports` job claims one queued job at a time
(a conditional UPDATE, so two schedulers never run the same one) and runs the same all-or-nothing
`import_inventory` as the small-file path: first the check (a dry run), then — once the person confirms on the
job's page — the import. Progress (rows checked / written) is committed on a second session as it goes, so the
page that refreshes itself shows it. The scheduler rather than a web thread: the web process serves people (a
75 s import would hold one of its threads), the scheduler runs one leader and survives web restarts.

A job whose scheduler died (no heartbeat for STALE_S) goes back to the queue: the import is one transaction,
so nothing of it was written. On SQLite the written-rows count is shown only at the end (the import holds the
database's one write lock while it writes); on PostgreSQL it moves while the rows are written.
"""
import logging
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from fleetops.db import session_scope
from fleetops.domain.text import Msg
from fleetops.models import InventoryImportJob, User
from fleetops.models.base import utcnow
from fleetops.services.inventory import uploads
from fleetops.services.inventory.import_ import import_inventory
from fleetops.services.inventory.import_check import ImportResult, RowError
from fleetops.services.inventory.spreadsheet import is_xlsx

log = logging.getLogger(__name__)

LARGE_IMPORT_BYTES = 256 * 1024  # ~1,000 device rows of CSV
LARGE_IMPORT_ROWS = 1000
STALE_S = 600
QUEUED, RUNNING, DONE = "queued", "running", "done"


def is_large(data: bytes) -> bool:
    """Too big to check or import while the person's request waits."""
    return len(data) > LARGE_IMPORT_BYTES or (not is_xlsx(data) and data.count(b"\n") > LARGE_IMPORT_ROWS)


def queue_check(session: Session, data: bytes, filename: str, actor, upload_dir) -> InventoryImportJob:
    """Keep the file and queue its check; the caller commits."""
    uploads.forget_old_uploads(upload_dir)
    token = uploads.keep_upload(data, upload_dir)
    return _queue(session, token, filename, actor, dry_run=True)


def queue_import(session: Session, check_id: int, actor, upload_dir) -> InventoryImportJob | None:
    """Queue the import of a file whose check passed; None when that check is unknown, not finished, failed or
    its file has expired. The caller commits."""
    check = session.get(InventoryImportJob, check_id)
    if check is None or not check.dry_run or check.state != DONE or not (check.result or {}).get("ok"):
        return None
    if not uploads.upload_path(upload_dir, check.token).exists():
        return None
    return _queue(session, check.token, check.filename, actor, dry_run=False)


def _queue(session, token, filename, actor, dry_run) -> InventoryImportJob:
    job = InventoryImportJob(token=token, filename=(filename or token)[:200], dry_run=dry_run, state=QUEUED,
                             user_id=getattr(actor, "id", None), rows_total=0, rows_checked=0, rows_written=0)
    session.add(job)
    session.flush()
    return job


def get_job(session: Session, job_id: int) -> dict | None:
    """The job page: the job and its result rebuilt as an ImportResult (errors in the reader's language)."""
    job = session.get(InventoryImportJob, job_id)
    if job is None:
        return None
    return {"job": job, "result": _result_from_json(job.result) if job.result else None}


# ---------------------------------------------------------------------------------------------- the job

def job_import_files(ctx) -> None:
    """Run the queued import jobs one by one (the scheduler's `inventory_imports` job)."""
    maker = ctx.extensions["fleetops.sessionmaker"]
    upload_dir = ctx.config["UPLOAD_DIR"]
    with session_scope(maker) as s:
        requeued = s.execute(update(InventoryImportJob)
                             .where(InventoryImportJob.state == RUNNING,
                                    InventoryImportJob.heartbeat_at < utcnow() - timedelta(seconds=STALE_S))
                             .values(state=QUEUED)).rowcount
    if requeued:
        log.warning("job=inventory_imports requeued=%d (their scheduler stopped mid-way; nothing of them was "
                    "written)", requeued)
    while (job_id := _claim(maker)) is not None:
        run_import_job(maker, job_id, upload_dir)


def _claim(maker) -> int | None:
    with session_scope(maker) as s:
        for job_id in s.scalars(select(InventoryImportJob.id).where(InventoryImportJob.state == QUEUED)
                                .order_by(InventoryImportJob.id).limit(5)):
            now = utcnow()
            got = s.execute(update(InventoryImportJob)
                            .where(InventoryImportJob.id == job_id, InventoryImportJob.state == QUEUED)
                            .values(state=RUNNING, started_at=now, heartbeat_at=now)).rowcount
            if got:
                return job_id
    return None


def run_import_job(maker, job_id: int, upload_dir) -> None:
    """Check or import one claimed job's file: all or nothing, the result stored on the job."""
    with session_scope(maker) as s:
        job = s.get(InventoryImportJob, job_id)
        token, filename, dry_run, user_id = job.token, job.filename, job.dry_run, job.user_id
    path = uploads.upload_path(upload_dir, token)

    def note(**values):
        with session_scope(maker) as p:
            p.execute(update(InventoryImportJob).where(InventoryImportJob.id == job_id)
                      .values(heartbeat_at=utcnow(), **values))

    started = utcnow()
    with maker() as s:
        writing_live = s.get_bind().dialect.name != "sqlite"
        try:
            if not path.exists():
                result = ImportResult(dry_run=dry_run)
                result.errors.append(RowError(1, "", Msg("The uploaded file has expired; please upload it again.")))
            else:
                actor = s.get(User, user_id) if user_id else None
                result = import_inventory(
                    s, path.read_bytes(), filename, actor, dry_run=dry_run,
                    checking=lambda n, total: note(rows_checked=n, rows_total=total),
                    progress=(lambda n, total: note(rows_written=n)) if writing_live and not dry_run else None)
            if not result.ok or dry_run:
                s.rollback()
            written = result.created + result.updated + result.unchanged if result.ok and not dry_run else 0
            # The job's end is written in the import's own transaction: "done" and the devices commit together.
            s.execute(update(InventoryImportJob).where(InventoryImportJob.id == job_id).values(
                state=DONE, result=_result_to_json(result), rows_checked=result.rows, rows_total=result.rows,
                rows_written=written, finished_at=utcnow(), heartbeat_at=utcnow()))
            s.commit()
        except Exception:
            s.rollback()
            raise
    if not dry_run and result.ok:
        path.unlink(missing_ok=True)
    log.info("job=inventory_imports id=%d dry_run=%s rows=%d errors=%d created=%d updated=%d duration_s=%.1f",
             job_id, dry_run, result.rows, len(result.errors), result.created, result.updated,
             (utcnow() - started).total_seconds())


def _stored(message) -> str:
    return message.stored() if isinstance(message, Msg) else str(message)


def _result_to_json(result: ImportResult) -> dict:
    return {**result.summary(), "ok": result.ok, "sites_created": result.sites_created,
            "errors": [[e.line, e.column, _stored(e.message)] for e in result.errors],
            "warnings": [_stored(w) for w in result.warnings]}


def _result_from_json(data: dict) -> ImportResult:
    fields = ("rows", "created", "updated", "unchanged", "sites_created", "sites_updated", "encoding", "dry_run")
    result = ImportResult(**{k: data[k] for k in fields if k in data})
    result.errors = [RowError(line, column, Msg.from_stored(m) or m) for line, column, m in data.get("errors", [])]
    result.warnings = [Msg.from_stored(w) or w for w in data.get("warnings", [])]
    return result


__all__ = ["LARGE_IMPORT_BYTES", "LARGE_IMPORT_ROWS", "get_job", "is_large", "job_import_files", "queue_check",
           "queue_import", "run_import_job"]
