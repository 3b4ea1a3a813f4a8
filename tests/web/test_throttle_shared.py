"""Sign-in throttling shared by every web process on one database (issue 14: several stateless web processes on one
PostgreSQL). With the counters in each process's memory, N processes let an attacker try N times the limit; with
`fleetops-db://` (the default, platform/throttle_store.py) the failures counted by one process count in the other."""
import os
import subprocess
import sys
import threading
from pathlib import Path

from sqlalchemy import select

from fleetops.models import AuditLog
from fleetops.models.throttle import RateLimitCounter
from fleetops.platform.throttle_store import DatabaseStorage
from tests.conftest import PASSWORDS

ROOT = Path(__file__).resolve().parents[2]


def _try(client, username, password="wrong-password", addr="127.0.0.1"):
    return client.post("/login", data={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": addr})


def test_two_app_instances_on_one_database_count_the_same_failures(make_app, users, db):
    """Two create_app on the same database, as two processes would be. Each create_app binds the module's limiter
    anew (a memory store would start empty, as another process's does); counts in the database carry over."""
    first = make_app(LOGIN_LIMIT_PER_ACCOUNT="5 per 5 minutes")
    c1 = first.test_client()
    assert [_try(c1, "crew").status_code for _ in range(3)] == [200, 200, 200]
    second = make_app(LOGIN_LIMIT_PER_ACCOUNT="5 per 5 minutes")
    c2 = second.test_client()
    assert [_try(c2, " Crew").status_code for _ in range(2)] == [200, 200]
    assert _try(c2, "crew", PASSWORDS["crew"]).status_code == 429  # 5 failures in all: paused, on both
    assert _try(c1, "crew", PASSWORDS["crew"]).status_code == 429
    assert _try(c1, "supervisor", PASSWORDS["supervisor"]).status_code == 302
    assert len(db.scalars(select(AuditLog).where(AuditLog.action == "login_throttled")).all()) == 1
    keys = db.scalars(select(RateLimitCounter.limit_key)).all()
    assert any("crew" in k for k in keys) and not any("wrong-password" in k or "pass-123" in k for k in keys)


SECOND_PROCESS = """
import sys
from fleetops import create_app, wiring
wiring.wire()
app = create_app({"DATABASE_URL": sys.argv[1], "INSTANCE_PATH": sys.argv[2], "SECRET_KEY": "test-secret",
                  "WTF_CSRF_ENABLED": False, "LOGIN_LIMIT_PER_ACCOUNT": "5 per 5 minutes"})
c = app.test_client()
codes = [c.post("/login", data={"username": "crew", "password": "wrong-password"}).status_code for _ in range(3)]
print(codes)
"""


def test_failures_in_another_process_count_here(make_app, users, schema, instance_dir):
    """A real second web process on the same database fails three times; this one trips after two more."""
    app = make_app(LOGIN_LIMIT_PER_ACCOUNT="5 per 5 minutes")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", SECOND_PROCESS, schema, str(instance_dir)], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=180)
    assert out.returncode == 0 and out.stdout.strip().endswith("[200, 200, 200]"), out.stderr[-2000:]
    c = app.test_client()
    assert [_try(c, "crew").status_code for _ in range(2)] == [200, 200]
    assert _try(c, "crew", PASSWORDS["crew"]).status_code == 429


def test_the_store_counts_atomically_starts_a_new_window_and_deletes_ended_ones(app):
    engine = app.extensions["fleetops.engine"]
    store = DatabaseStorage("fleetops-db://", engine_of=lambda: engine)
    assert store.check() and store.get("k") == 0

    def hammer():
        for _ in range(25):
            store.incr("k", 300)

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.get("k") == 100  # no lost update
    assert store.get_expiry("k") > 0
    store.incr("ended", 0)  # a window that has already ended
    assert store.get("ended") == 0
    assert store.incr("ended", 300) == 1  # the next failure starts a new window
    store.incr("gone", 0)
    store._cleaned_at = 0  # the once-a-minute cleaning is due
    store.incr("k", 300)
    with engine.connect() as conn:
        left = set(conn.execute(select(RateLimitCounter.limit_key)).scalars())
    assert left == {"k", "ended"}
    store.clear("k")
    assert store.get("k") == 0
    long_key = "login-account:" + "x" * 400
    assert store.incr(long_key, 300) == 1 and store.get(long_key) == 1  # stored under its SHA-256
    assert store.reset() == 2
