"""The scheduler process: the jobs listed in `fleetops.wiring.JOBS` (handed over by create_app as
`app.extensions["fleetops.jobs"]`), run by one APScheduler 3.x in its own process.

Only one scheduler may run (APScheduler 3 in two processes runs every job twice): on PostgreSQL a
session-level advisory lock makes a second one wait; on SQLite a lock file does.

The PostgreSQL lock lives on one connection: when that connection drops, the server releases the lock and
a waiting scheduler takes it. So leadership is re-checked before every job (`SingleSchedulerLock.held`):
a scheduler whose lock connection died reconnects and tries the lock again, and while another scheduler
holds it, every job is skipped with a log line saying so. It becomes the leader again once the lock is free.
"""
import fcntl
import logging
import threading
import time

from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from fleetops.platform.jobs import Job, JobContext

log = logging.getLogger(__name__)

ADVISORY_LOCK_ID = 0x466C6565  # "Flee"


def collect_jobs(app) -> list[Job]:
    """The jobs the wiring handed to this application."""
    return list(app.extensions.get("fleetops.jobs", ()))


def run_job(app, job: Job, lock: "SingleSchedulerLock | None" = None) -> bool:
    """Run one job if this scheduler leads (holds `lock`); an error is logged with its traceback and never
    stops the scheduler (STYLE §5). True when the job ran."""
    if lock is not None and not lock.held():
        log.warning("job=%s skipped: this scheduler is not the leader (another one holds the lock, or the "
                    "database is unreachable)", job.id)
        return False
    started = time.monotonic()
    try:
        with app.app_context():
            job.func(JobContext.from_app(app))
    except Exception:  # the scheduler must keep running whatever one job does
        log.exception("job=%s failed duration_s=%.2f", job.id, time.monotonic() - started)
    return True


def build_scheduler(app, lock: "SingleSchedulerLock | None" = None) -> BlockingScheduler:
    """The jobs on their intervals; with `lock`, each run first checks that this scheduler still leads."""
    # Our jobs log one key=value line each; APScheduler's per-run INFO lines are noise.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    scheduler = BlockingScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1,
                                                               "misfire_grace_time": 30})
    for job in collect_jobs(app):
        scheduler.add_job(run_job, "interval", seconds=job.interval(app.config), args=(app, job, lock), id=job.id,
                          name=job.id, next_run_time=_now())
    return scheduler


def _now():
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)


class SingleSchedulerLock:
    """Leadership for the scheduler's life: a PostgreSQL advisory lock, or a lock file for SQLite.

    The advisory lock is held by a dedicated connection with TCP keepalives and a short connect timeout, so a
    dead network is noticed in seconds rather than hours; `held()` checks it before each job and re-takes it
    after a reconnect when no other scheduler got it meanwhile."""

    WAIT_S = 5

    def __init__(self, app, wait_s: float | None = None):
        self.app = app
        self.wait_s = self.WAIT_S if wait_s is None else wait_s
        self._engine = None
        self._conn = None
        self._fh = None
        self._leading = False
        self._mutex = threading.Lock()  # jobs run on a thread pool; one check at a time

    # -- PostgreSQL --------------------------------------------------------------------------------------
    def _lock_engine(self):
        if self._engine is None:
            url = self.app.extensions["fleetops.engine"].url
            self._engine = create_engine(url, poolclass=NullPool, connect_args=LOCK_CONNECT_ARGS)
        return self._engine

    def _try_pg(self) -> bool:
        """One attempt: (re)connect if needed and take the lock; False when another scheduler holds it or the
        database cannot be reached."""
        try:
            if self._conn is None or self._conn.closed or self._conn.invalidated:
                self._drop_conn()
                self._conn = self._lock_engine().connect()
            # Only called on a connection that does not hold the lock, so it is never taken twice (it stacks).
            got = bool(self._conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_LOCK_ID}).scalar())
            self._conn.commit()
            return got
        except DBAPIError as err:
            log.warning("scheduler lock: database not reachable (%s); not leading until it is",
                        type(err.orig).__name__ if err.orig is not None else type(err).__name__)
            self._drop_conn()
            return False

    def _drop_conn(self) -> None:
        if self._conn is not None:
            try:
                self._conn.invalidate()
                self._conn.close()
            except DBAPIError:  # already gone
                pass
        self._conn = None

    def _pg_still_held(self) -> bool:
        try:
            ours = self._conn.execute(_HOLDS, {"k": ADVISORY_LOCK_ID}).scalar()
            self._conn.commit()
            return bool(ours)
        except DBAPIError:
            self._drop_conn()
            return False

    # -- both ----------------------------------------------------------------------------------------------
    @property
    def is_postgresql(self) -> bool:
        return self.app.extensions["fleetops.engine"].dialect.name == "postgresql"

    def acquire(self) -> None:
        """Block until this scheduler leads."""
        if self.is_postgresql:
            while not self._try_pg():
                log.warning("another scheduler holds the lock; waiting")
                time.sleep(self.wait_s)
            self._leading = True
            log.warning("scheduler: leading (advisory lock taken)")
        else:
            path = f"{self.app.instance_path}/scheduler.lock"
            self._fh = open(path, "w")  # noqa: SIM115 - held open for the process's life
            while True:
                try:
                    fcntl.flock(self._fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    log.warning("another scheduler holds %s; waiting", path)
                    time.sleep(self.wait_s)
            self._leading = True
            log.warning("scheduler: leading (lock file %s taken)", path)

    def held(self) -> bool:
        """Does this scheduler lead right now? Re-checks (and re-takes) the PostgreSQL lock; a lock file held
        by this process cannot be lost."""
        if not self.is_postgresql:
            return self._fh is not None
        with self._mutex:
            ok = self._conn is not None and not self._conn.closed and self._pg_still_held()
            if not ok:
                if self._leading:
                    log.warning("scheduler: lost the leadership lock (database connection dropped); "
                                "jobs are skipped until it is taken again")
                ok = self._try_pg()
                if ok:
                    log.warning("scheduler: leading again (advisory lock re-taken)")
            self._leading = ok
            return ok

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK_ID})
                self._conn.commit()
            except DBAPIError:  # the connection is gone, and the lock with it
                pass
            self._drop_conn()
        if self._engine is not None:
            self._engine.dispose()
        if self._fh is not None:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None
        self._leading = False


# Does this backend hold our advisory lock (a one-bigint key: classid = high 32 bits, objid = low, objsubid 1)?
_HOLDS = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid() "
              "AND objsubid = 1 AND ((classid::bigint << 32) | objid::bigint) = :k")
# Notice a dead peer in ~15 s: keepalives on an idle lock connection, and a bound on unacknowledged sends.
LOCK_CONNECT_ARGS = {"connect_timeout": 5, "keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2,
                     "keepalives_count": 3, "tcp_user_timeout": 15000}
