"""The scheduler process: the jobs listed in `fleetops.wiring.JOBS` (handed over by create_app as
`app.extensions["fleetops.jobs"]`), run by one APScheduler 3.x in its own process.

Only one scheduler may run (APScheduler 3 in two processes runs every job twice): on PostgreSQL a
session-level advisory lock makes a second one wait; on SQLite a lock file does.
"""
import fcntl
import logging
import time

from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy import text

from fleetops.platform.jobs import Job, JobContext

log = logging.getLogger(__name__)

ADVISORY_LOCK_ID = 0x466C6565  # "Flee"


def collect_jobs(app) -> list[Job]:
    """The jobs the wiring handed to this application."""
    return list(app.extensions.get("fleetops.jobs", ()))


def run_job(app, job: Job) -> None:
    """Run one job; an error is logged with its traceback and never stops the scheduler (STYLE §5)."""
    started = time.monotonic()
    try:
        with app.app_context():
            job.func(JobContext.from_app(app))
    except Exception:  # the scheduler must keep running whatever one job does
        log.exception("job=%s failed duration_s=%.2f", job.id, time.monotonic() - started)


def build_scheduler(app) -> BlockingScheduler:
    scheduler = BlockingScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1,
                                                               "misfire_grace_time": 30})
    for job in collect_jobs(app):
        scheduler.add_job(run_job, "interval", seconds=job.interval(app.config), args=(app, job), id=job.id,
                          name=job.id, next_run_time=_now())
    # Our jobs log one key=value line each; APScheduler's per-run INFO lines are noise.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    return scheduler


def _now():
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)


class SingleSchedulerLock:
    """Held for the scheduler's life: a PostgreSQL advisory lock, or a lock file for SQLite."""

    def __init__(self, app):
        self.app = app
        self._conn = None
        self._fh = None

    def acquire(self) -> None:
        engine = self.app.extensions["fleetops.engine"]
        if engine.dialect.name == "postgresql":
            self._conn = engine.connect()
            while not self._conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_LOCK_ID}).scalar():
                log.warning("another scheduler holds the lock; waiting")
                self._conn.commit()
                time.sleep(5)
            self._conn.commit()
        else:
            path = f"{self.app.instance_path}/scheduler.lock"
            self._fh = open(path, "w")  # noqa: SIM115 - held open for the process's life
            while True:
                try:
                    fcntl.flock(self._fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    log.warning("another scheduler holds %s; waiting", path)
                    time.sleep(5)

    def release(self) -> None:
        if self._conn is not None:
            self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK_ID})
            self._conn.close()
        if self._fh is not None:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
