"""Scheduler jobs that write take SQLite's write lock as their transaction begins (BEGIN IMMEDIATE).

The demo's first `alerts_certificates` run once failed with "database is locked": its transaction began by reading,
another job wrote and committed meanwhile, and SQLite refuses to turn a read transaction whose snapshot is stale
into a write one — at once, whatever the busy timeout. Two real writers on one SQLite file (each its own connection,
from two threads), the engine made as the app makes it (fleetops.db.make_engine: WAL, busy timeout)."""
import threading

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from fleetops.db import make_engine, make_sessionmaker
from fleetops.platform.jobs import JobContext


@pytest.fixture
def ctx(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'jobs.sqlite3'}")
    with engine.begin() as c:
        c.execute(text("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)"))
        c.execute(text("INSERT INTO counter (id, n) VALUES (1, 0)"))
    yield JobContext(config={}, extensions={"fleetops.engine": engine, "fleetops.sessionmaker": make_sessionmaker(
        engine)}, instance_path=str(tmp_path))
    engine.dispose()


def read(s) -> int:
    return s.execute(text("SELECT n FROM counter WHERE id = 1")).scalar_one()


def add_one(s, seen: int) -> None:
    s.execute(text("UPDATE counter SET n = :n WHERE id = 1"), {"n": seen + 1})


def in_thread(fn):
    out = {}

    def work():
        try:
            out["value"] = fn()
        except BaseException as err:  # noqa: BLE001 - handed to the test
            out["error"] = err

    t = threading.Thread(target=work)
    t.start()
    return t, out


def test_a_job_that_reads_then_writes_while_another_wrote_is_refused_without_the_lock(ctx):
    """Why the lock is taken: without it, job A's transaction (opened by a savepoint, as alerts.raising opens one)
    reads, job B writes and commits, and A's write is refused at once."""
    a_read, b_done = threading.Event(), threading.Event()

    def job_b():
        assert a_read.wait(30)
        try:
            with ctx.session() as s:
                add_one(s, read(s))
        finally:
            b_done.set()

    b, b_out = in_thread(job_b)
    with pytest.raises(OperationalError, match="database is locked"):
        with ctx.session() as s, s.begin_nested():  # as alerts.raising does: SAVEPOINT opens the transaction
            seen = read(s)
            a_read.set()
            assert b_done.wait(30)
            add_one(s, seen)
    b.join(30)
    assert "error" not in b_out, b_out
    with ctx.session() as s:
        assert read(s) == 1


def test_two_jobs_writing_at_once_take_turns_and_a_reader_never_waits(ctx):
    a_read, b_starting, web_read = threading.Event(), threading.Event(), threading.Event()

    def job_b():
        assert a_read.wait(30)
        b_starting.set()
        with ctx.session(write=True) as s:  # waits for A's commit (busy timeout), then sees A's write
            seen = read(s)
            add_one(s, seen)
        return seen

    def job_a():
        with ctx.session(write=True) as s, s.begin_nested():
            seen = read(s)
            a_read.set()
            assert b_starting.wait(30) and web_read.wait(30)
            add_one(s, seen)
        return seen

    a, a_out = in_thread(job_a)
    b, b_out = in_thread(job_b)
    assert a_read.wait(30)
    with ctx.session() as s:  # the web's read-only request, while job A holds the write lock: answered
        assert read(s) == 0
    web_read.set()
    a.join(60)
    b.join(60)
    assert "error" not in a_out and "error" not in b_out, (a_out, b_out)
    assert (a_out["value"], b_out["value"]) == (0, 1)  # B read what A wrote: no lost update, no refusal
    with ctx.session() as s:
        assert read(s) == 2


def test_the_certificates_job_takes_the_lock_and_raises_its_alert_through_savepoints(app, db, users):
    """The job that failed in the demo, run as the scheduler runs it (JobContext, write lock on SQLite): the alert
    for an expired crew certificate is raised (alerts.raising's savepoint inside the locked transaction), once."""
    from datetime import date

    from sqlalchemy import func, select

    from fleetops.models.alerts import Alert
    from fleetops.scheduler import collect_jobs
    from fleetops.services import accounts, tickets

    crew, _ = accounts.create_user(db, "lapsed", "crew", "lapsed-pass-123", display_name="过期")
    tickets.add_qualification(db, crew.id, "electrician", date(2021, 1, 1), valid_from=date(2020, 1, 1),
                              certificate_no="T-lapsed", actor="test")
    db.commit()
    job = next(j for j in collect_jobs(app) if j.id == "alerts_certificates")
    key = f"user:{crew.id}:qual:electrician:expired"
    for _ in range(2):
        job.func(JobContext.from_app(app))
        db.expire_all()
        assert db.scalar(select(func.count()).select_from(Alert).where(Alert.open_key == key)) == 1
