"""What the database is doing right now, seen from a connection of the test's own."""


def writes_in_flight(engine) -> bool:
    """Does any other connection hold a write open on the database right now? SQLite: its one write lock (a
    BEGIN IMMEDIATE that must not wait); PostgreSQL: an uncommitted insert into the pass records."""
    if engine.dialect.name == "sqlite":
        import sqlite3

        probe = sqlite3.connect(engine.url.database, timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError:
            return True
        finally:
            probe.close()
    with engine.connect() as conn:
        return bool(conn.exec_driver_sql(
            "SELECT count(*) FROM pg_locks WHERE mode = 'RowExclusiveLock' AND pid <> pg_backend_pid() "
            "AND relation = 'quality_pass_records'::regclass").scalar())
