"""The database engine and sessions: built by create_app (never at import time), one session per request."""
from contextlib import contextmanager

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str) -> Engine:
    kwargs = {"future": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    else:
        kwargs["pool_pre_ping"] = True
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_conn, _record):
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def make_sessionmaker(engine: Engine) -> sessionmaker:
    return sessionmaker(bind=engine, expire_on_commit=False, future=True)


@contextmanager
def session_scope(factory: sessionmaker, write: bool = False):
    """A session for a job or a command: commit on success, roll back on error, always close.

    `write=True` on SQLite takes the database's write lock as the transaction begins (BEGIN IMMEDIATE), waiting
    for it up to the busy timeout. A transaction that begins by reading and then writes cannot wait: when another
    connection wrote in between, SQLite refuses the upgrade at once with "database is locked" (the busy timeout does
    not apply). For short jobs that write; not for transactions that wait on the network (they would hold every
    other writer back meanwhile), nor for the web's requests (readers never wait for it: WAL). PostgreSQL: no-op."""
    session: Session = factory()
    try:
        if write:
            _begin_immediate(session)
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _begin_immediate(session: Session) -> None:
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        # pysqlite (legacy transaction control) opens no transaction of its own before a non-DML statement and
        # none while one is open, and commit()/rollback() end this one: SQLAlchemy's usual pysqlite handling stays.
        conn.exec_driver_sql("BEGIN IMMEDIATE")
