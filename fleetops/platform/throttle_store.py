"""Flask-Limiter's counters in our own database (`RATELIMIT_STORAGE_URI = "fleetops-db://"`, the default), so every
web process behind one PostgreSQL (or one SQLite file) counts the same sign-in failures: with per-process memory
counters, N processes let an attacker try N times as many passwords.

A `limits` storage (the library under Flask-Limiter), registered by its scheme when this module is imported, for the
fixed-window strategy (Flask-Limiter's default, the one `web/auth.py` uses): `incr` is one atomic upsert
(`INSERT … ON CONFLICT DO UPDATE … RETURNING`, the same SQL on SQLite ≥ 3.35 and PostgreSQL) that starts a new window
when the row's has ended. Each call is its own short transaction on the app's engine, apart from the request's
session. Expired rows are deleted at most once a minute per process. Keys hold the limit and whom it counts (a user
name or an address), never a password; a key longer than the column is stored as its SHA-256.

Not supported: the moving-window and sliding-window strategies (Flask-Limiter refuses them for this storage at
start-up, saying so); use memory:// or redis:// for those."""
from __future__ import annotations

import hashlib
import threading
import time
from typing import Callable

from limits.storage import Storage
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

SCHEME = "fleetops-db"
CLEAN_EVERY_S = 60
MAX_KEY = 255

_INCR = text(
    "INSERT INTO rate_limit_counters (limit_key, hits, expires_at) VALUES (:k, :n, :exp) "
    "ON CONFLICT (limit_key) DO UPDATE SET "
    "hits = CASE WHEN rate_limit_counters.expires_at <= :now THEN excluded.hits "
    "ELSE rate_limit_counters.hits + excluded.hits END, "
    "expires_at = CASE WHEN rate_limit_counters.expires_at <= :now THEN excluded.expires_at "
    "ELSE rate_limit_counters.expires_at END "
    "RETURNING hits")
_GET = text("SELECT hits, expires_at FROM rate_limit_counters WHERE limit_key = :k AND expires_at > :now")


def _app_engine() -> Engine:
    """The engine of the application handling this request (Flask-Limiter calls the storage inside one)."""
    from flask import current_app

    return current_app.extensions["fleetops.engine"]


def _key(key: str) -> str:
    if len(key) <= MAX_KEY:
        return key
    return "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


class DatabaseStorage(Storage):
    """`fleetops-db://`: fixed-window counters in the table `rate_limit_counters` (models/throttle.py)."""

    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False,
                 engine_of: Callable[[], Engine] | None = None, **options) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.engine_of = engine_of or _app_engine
        self._cleaned_at = 0.0
        self._mutex = threading.Lock()

    @property
    def base_exceptions(self):
        return SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        engine = self.engine_of()
        with engine.begin() as conn:
            count = conn.execute(_INCR, {"k": _key(key), "n": amount, "exp": now + expiry, "now": now}).scalar_one()
        self._clean(engine, now)
        return int(count)

    def get(self, key: str) -> int:
        row = self._row(key)
        return int(row[0]) if row else 0

    def get_expiry(self, key: str) -> float:
        row = self._row(key)
        return float(row[1]) if row else time.time()

    def _row(self, key: str):
        with self.engine_of().connect() as conn:
            return conn.execute(_GET, {"k": _key(key), "now": time.time()}).first()

    def check(self) -> bool:
        try:
            with self.engine_of().connect() as conn:
                conn.execute(text("SELECT count(*) FROM rate_limit_counters WHERE expires_at < 0"))
            return True
        except SQLAlchemyError:
            return False

    def reset(self) -> int | None:
        with self.engine_of().begin() as conn:
            return conn.execute(text("DELETE FROM rate_limit_counters")).rowcount

    def clear(self, key: str) -> None:
        with self.engine_of().begin() as conn:
            conn.execute(text("DELETE FROM rate_limit_counters WHERE limit_key = :k"), {"k": _key(key)})

    def _clean(self, engine: Engine, now: float) -> None:
        """Delete the rows of windows that ended, at most once a minute per process (a failure writes one row per
        key and window; this keeps the table to the keys of the last minutes)."""
        with self._mutex:
            if now - self._cleaned_at < CLEAN_EVERY_S:
                return
            self._cleaned_at = now
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM rate_limit_counters WHERE expires_at <= :now"), {"now": now})
