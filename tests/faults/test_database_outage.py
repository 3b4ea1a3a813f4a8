"""The database drops out under two real `fleetops scheduler` processes (PostgreSQL through a loopback TCP proxy):
the one that lost its connection stops running jobs, the waiting one takes over, and after the outage there is
still exactly one leader; SIGKILL that leader and the first leads again. The outage lasts 8 s here instead of
60 s: the proxy resets the connections, so PostgreSQL frees the lock at once and a longer cut only adds skips."""
import os
import time

import pytest
from sqlalchemy.engine import make_url

from tests.faults.conftest import kill9, wait_for
from tests.faults.tcp_proxy import TcpProxy

pytestmark = pytest.mark.skipif(not os.environ.get("FLEETOPS_TEST_DATABASE_URL"),
                                reason="PostgreSQL only: on SQLite the scheduler holds a lock file, which no "
                                       "network fault can take away")

FAST = {"FLEETOPS_ONLINE_RATE_SAMPLE_S": "1"}  # one job that logs a line every second


def log_of(proc) -> str:
    return proc.err_path.read_text(errors="replace")


def ran(proc) -> int:
    return log_of(proc).count("job=online_rate in_service=")


def test_a_database_outage_leaves_exactly_one_scheduler_running_jobs(schema, fleetops_cli):
    url = make_url(schema)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    try:
        a = fleetops_cli("scheduler", db_url=url.set(host=proxy.host, port=proxy.port).render_as_string(
            hide_password=False), name="a", **FAST)
        assert wait_for(lambda: ran(a) >= 2, 60), log_of(a)
        b = fleetops_cli("scheduler", name="b", **FAST)
        assert wait_for(lambda: "another scheduler holds the lock; waiting" in log_of(b), 60), log_of(b)
        assert ran(b) == 0

        proxy.cut()
        assert wait_for(lambda: ran(b) >= 2, 30), log_of(b)  # the waiting scheduler took over
        time.sleep(8)
        proxy.restore()
        assert wait_for(lambda: "skipped: this scheduler is not the leader" in log_of(a), 30), log_of(a)
        assert "lost the leadership lock (database connection dropped)" in log_of(a)
        a_runs, b_runs = ran(a), ran(b)
        time.sleep(4)
        assert ran(a) == a_runs and ran(b) >= b_runs + 2  # one leader: only b runs jobs

        kill9(b)  # the leader dies; its session ends and the lock with it
        assert wait_for(lambda: "leading again (advisory lock re-taken)" in log_of(a), 30), log_of(a)
        a_runs = ran(a)
        assert wait_for(lambda: ran(a) >= a_runs + 2, 30)
        assert a.poll() is None, "the scheduler died during the outage"
    finally:
        proxy.close()
