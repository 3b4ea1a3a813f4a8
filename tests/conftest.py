"""Shared fixtures: a real database (SQLite file, or a fresh PostgreSQL database when
FLEETOPS_TEST_DATABASE_URL is set), the app, clients logged in per role, API tokens."""
import os
import re
import uuid
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from fleetops import create_app, wiring
from fleetops.models import Base

wiring.wire()  # translations, parameter defaults, subscribers — as create_app and the CLI do

# One secrets key for the whole run, in the environment: the `fleetops …` processes that tests start (simulator,
# scheduler, CLI) must read the secrets this process stores, whatever instance folder each is given.
if "FLEETOPS_SECRETS_KEY" not in os.environ:
    from cryptography.fernet import Fernet

    os.environ["FLEETOPS_SECRETS_KEY"] = Fernet.generate_key().decode()

# CI time: scrypt costs ~0.13 s of CPU per hash and per check, and the fixtures below create three users (and log
# them in) for hundreds of tests. Within this pytest process a password hashed again gets the real scrypt hash made
# for it the first time, and a (hash, password) pair is checked for real once, then remembered. Every hash is still
# a real one (tests/web/test_auth.py looks at it); wrong passwords are checked for real; the `fleetops` processes the
# tests start hash as always.
def _remember(fn, key):
    memo = {}

    def remembered(*args, **kwargs):
        k = key(*args, **kwargs)
        if k not in memo:
            memo[k] = fn(*args, **kwargs)
        return memo[k]

    return remembered


def _remember_password_hashing():
    from fleetops.services.accounts import users as account_users

    account_users.generate_password_hash = _remember(
        account_users.generate_password_hash, lambda password, *a, **kw: (password, a, tuple(sorted(kw.items()))))
    account_users.check_password_hash = _remember(account_users.check_password_hash, lambda h, password: (h, password))


_remember_password_hashing()

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
if not SHARED_DATA.exists():  # a clone elsewhere: ../shared beside the project root
    SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

PASSWORDS = {"admin": "admin-pass-123", "supervisor": "super-pass-123", "crew": "crew-pass-123"}


def _postgres_database(base_url: str):
    """Create a fresh database on the server of `base_url`; return (url, dropper)."""
    name = f"fleetops_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = re.sub(r"/[^/?]*(\?|$)", f"/{name}\\1", base_url.split("://", 1)[1], count=1)
    url = base_url.split("://", 1)[0] + "://" + url

    def drop():
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


@contextmanager
def fresh_database(folder: Path):
    """An empty database: a new one on the PostgreSQL server when FLEETOPS_TEST_DATABASE_URL is set, else SQLite."""
    base = os.environ.get("FLEETOPS_TEST_DATABASE_URL")
    if base:
        url, drop = _postgres_database(base)
        try:
            yield url
        finally:
            drop()
    else:
        yield f"sqlite:///{folder / 'test.sqlite3'}"


@pytest.fixture(autouse=True)
def loopback_peers_allowed(monkeypatch):
    """The tests' cameras, robots, SMTP and MQTT peers run on loopback, as the demo's do, so the allow-lists default
    to the demo's (platform.netpolicy); tests of the allow-list store their own lists."""
    from fleetops.platform import netpolicy, parameters

    for key in (netpolicy.CAMERAS, netpolicy.ALERTS):
        monkeypatch.setitem(parameters.DEFAULTS, key,
                            (netpolicy.PRIVATE + netpolicy.LOOPBACK, parameters.DEFAULTS[key][1]))


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    with fresh_database(tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture(scope="session")
def schema(database_url):
    engine = create_engine(database_url)
    Base.metadata.create_all(engine)
    engine.dispose()
    return database_url


@pytest.fixture(scope="session")
def instance_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("instance")


@pytest.fixture
def make_app(schema, instance_dir):
    """Factory: make_app(**config) → a Flask app on the test database; tables emptied after the test."""
    apps = []

    def factory(**overrides):
        cfg = {"TESTING": True, "DATABASE_URL": schema, "INSTANCE_PATH": str(instance_dir),
               "SECRET_KEY": "test-secret", "WTF_CSRF_ENABLED": False,
               "UPLOAD_DIR": str(instance_dir / "uploads")}
        cfg.update(overrides)
        app = create_app(cfg)
        apps.append(app)
        return app

    yield factory
    for app in apps:
        _empty_tables(app.extensions["fleetops.engine"])
        app.extensions["fleetops.engine"].dispose()


def _empty_tables(engine):
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    if engine.dialect.name == "postgresql":
        _truncate_postgres(engine, tables)
        return
    with engine.begin() as conn:
        for t in tables:
            conn.execute(text(f'DELETE FROM "{t}"'))


def _truncate_postgres(engine, tables):
    """Empty the tables a test wrote to (DELETE, children first) and restart every sequence, as TRUNCATE … RESTART
    IDENTITY would — but a TRUNCATE of all 60-odd tables makes new files for each table and index, ~0.6 s per test,
    ten minutes of the PostgreSQL run; most tests write to a handful of tables. A session a failed test left open
    (its frame is kept for the report) would make the teardown wait for ever and stall the whole run: after 30 s
    the sessions idle in a transaction on this run's own database are ended, the tables emptied, and the teardown
    fails saying so."""
    def empty(conn):
        probe = " UNION ALL ".join(f'SELECT {i} WHERE EXISTS (SELECT 1 FROM "{t}")' for i, t in enumerate(tables))
        written = {i for (i,) in conn.execute(text(probe))}
        for i, t in enumerate(tables):  # children before parents
            if i in written:
                conn.execute(text(f'DELETE FROM "{t}"'))
        conn.execute(text("SELECT setval(c.oid, 1, false) FROM pg_class c WHERE c.relkind = 'S'"))

    try:
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL lock_timeout = '30s'"))
            empty(conn)
        return
    except Exception as err:  # noqa: BLE001 - psycopg's LockNotAvailable, wrapped by SQLAlchemy
        if "lock timeout" not in str(err):
            raise
    with engine.begin() as conn:
        ended = conn.execute(text(
            "SELECT pg_terminate_backend(pid), query FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'")).all()
    with engine.begin() as conn:
        empty(conn)
    pytest.fail(f"the test left {len(ended)} database session(s) open in a transaction (last statements: "
                f"{[q[:200] for _ok, q in ended]}); they were ended so that the tables could be emptied",
                pytrace=False)


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def db(app):
    """A session on the test database (the caller commits)."""
    s = app.extensions["fleetops.sessionmaker"]()
    yield s
    s.close()


@pytest.fixture
def users(app, db):
    """One user per role: {"admin": User, "supervisor": User, "crew": User}."""
    from fleetops.services import accounts

    from fleetops.services import tickets

    made = {}
    for role, pw in PASSWORDS.items():
        made[role], _ = accounts.create_user(db, role, role, pw, display_name=f"测试{role}")
    # The crew member holds what any job needs (T8: work at height, electrician), as a real crew does; a test of
    # dispatch without them makes its own crew.
    for kind in ("work_at_height", "electrician"):
        tickets.add_qualification(db, made["crew"].id, kind, date(2099, 1, 1), valid_from=date(2020, 1, 1),
                                  certificate_no=f"T-{kind}", actor="test")
    db.commit()
    return made


def login(client, role: str):
    resp = client.post("/login", data={"username": role, "password": PASSWORDS[role]})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    return client


@pytest.fixture
def client_as(app, users):
    """client_as("crew") → a test client logged in with that role."""

    def factory(role: str):
        return login(app.test_client(), role)

    return factory


@pytest.fixture
def api_headers(app, db, users):
    """api_headers("supervisor") → {"Authorization": "Bearer …"} for that role's user."""
    from fleetops.services import accounts

    cache = {}

    def factory(role: str = "admin"):
        if role not in cache:
            _, token = accounts.create_token(db, role, "test")
            db.commit()
            cache[role] = {"Authorization": f"Bearer {token}"}
        return cache[role]

    return factory


@pytest.fixture(scope="session")
def shared_data() -> Path:
    assert SHARED_DATA.exists(), f"../shared/data not found at {SHARED_DATA}"
    return SHARED_DATA
