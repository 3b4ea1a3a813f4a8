"""One scheduler leads, also when its database connection is cut (PostgreSQL advisory lock through a
loopback TCP proxy): the cut scheduler skips its jobs while another holds the lock."""
import logging
import os
import threading

import pytest
from sqlalchemy.engine import make_url

from fleetops.platform.jobs import Job
from fleetops.scheduler import SingleSchedulerLock, run_job
from tests.faults.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.faults,
              pytest.mark.skipif(not os.environ.get("FLEETOPS_TEST_DATABASE_URL"),
                                 reason="PostgreSQL only: on SQLite the scheduler holds a lock file, "
                                        "which no network fault can take away")]


@pytest.fixture
def pg_proxy(schema):
    url = make_url(schema)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    yield proxy, url.set(host=proxy.host, port=proxy.port).render_as_string(hide_password=False)
    proxy.close()


def test_a_scheduler_whose_connection_is_cut_stops_running_jobs_and_the_other_leads(pg_proxy, make_app, caplog):
    proxy, via_proxy = pg_proxy
    app_a, app_b = make_app(DATABASE_URL=via_proxy), make_app()
    ran = []
    job = Job("tick", lambda ctx: ran.append(ctx.app))

    lock_a, lock_b = SingleSchedulerLock(app_a), SingleSchedulerLock(app_b, wait_s=0.2)
    lock_a.acquire()
    waiting = threading.Thread(target=lock_b.acquire, daemon=True)
    waiting.start()
    waiting.join(1.0)
    assert waiting.is_alive(), "the second scheduler took the lock while the first held it"
    assert run_job(app_a, job, lock_a) and ran == [app_a]

    proxy.cut()  # the first scheduler's network is gone: PostgreSQL ends its session and frees the lock
    waiting.join(30)
    assert not waiting.is_alive(), "the waiting scheduler never took over"
    with caplog.at_level(logging.WARNING, logger="fleetops.scheduler"):
        assert not run_job(app_a, job, lock_a)  # still cut: cannot even check
        proxy.restore()  # the network is back, but the lock is the other scheduler's now
        assert not run_job(app_a, job, lock_a)
        assert run_job(app_b, job, lock_b)
    assert ran == [app_a, app_b]
    assert "job=tick skipped: this scheduler is not the leader" in caplog.text
    assert "lost the leadership lock" in caplog.text

    lock_b.release()  # the other one stops: the first leads again on its next job
    assert run_job(app_a, job, lock_a) and ran == [app_a, app_b, app_a]
    assert not run_job(app_b, job, lock_b)
    lock_a.release()
