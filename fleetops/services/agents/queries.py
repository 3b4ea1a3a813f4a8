"""What the agents page, the API and the CLI read about probe agents."""
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleetops.models.agents import ProbeAgent
from fleetops.services.agents.scope import devices_in_scope


@dataclass
class AgentRow:
    id: int
    name: str
    districts: list
    cidrs: list
    prefix: str
    created_at: datetime
    revoked_at: datetime | None
    last_push_at: datetime | None
    spool_depth: int
    lag_s: float | None
    version: str
    config_version: str
    dropped_results: int
    silent_since: datetime | None
    devices: int

    @property
    def state(self) -> str:
        """revoked | silent | never (registered, no push yet) | ok"""
        if self.revoked_at is not None:
            return "revoked"
        if self.silent_since is not None:
            return "silent"
        return "never" if self.last_push_at is None else "ok"


def list_agents(session: Session) -> list[AgentRow]:
    counts = devices_in_scope(session)
    return [AgentRow(a.id, a.name, list(a.districts or ()), list(a.cidrs or ()), a.prefix, a.created_at,
                     a.revoked_at, a.last_push_at, a.spool_depth or 0, a.lag_s, a.version or "",
                     a.config_version or "", a.dropped_results or 0, a.silent_since, counts.get(a.id, 0))
            for a in session.scalars(select(ProbeAgent).order_by(ProbeAgent.revoked_at.is_not(None),
                                                                 ProbeAgent.name))]
