"""Scheduled jobs: what runs, how often, and the context it runs with (no Flask app in services).

Every job is listed in `fleetops.wiring.JOBS`; `fleetops.scheduler` runs them. A job function takes one
`JobContext`: `ctx.session()` opens a committed-on-success session, `ctx.config` is the configuration,
`ctx.instance_path` the instance folder. (`extensions` keeps the engine and sessionmaker for code that
needs them directly.)
"""
from dataclasses import dataclass, field
from typing import Callable

from fleetops.db import session_scope


@dataclass(frozen=True)
class Job:
    """`func(ctx)` runs every `interval_s` seconds (or the seconds the config key `interval_config` sets)."""

    id: str
    func: Callable
    interval_s: int = 60
    interval_config: str | None = None

    def interval(self, config) -> int:
        if self.interval_config:
            return int(config.get(self.interval_config, self.interval_s))
        return int(self.interval_s)


@dataclass
class JobContext:
    config: dict
    extensions: dict
    instance_path: str
    app: object = field(default=None, repr=False)  # only for the web-facing code paths that still need it

    @classmethod
    def from_app(cls, app) -> "JobContext":
        return cls(config=app.config, extensions=app.extensions, instance_path=app.instance_path, app=app)

    def session(self, write: bool = False):
        """`write=True`: a short transaction that writes takes the write lock as it begins (SQLite; see
        fleetops.db.session_scope) — never for one that waits on the network inside."""
        return session_scope(self.extensions["fleetops.sessionmaker"], write=write)
