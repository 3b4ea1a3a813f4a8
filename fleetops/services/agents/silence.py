"""A silent probe agent is one alert for its scope, not hundreds of device outages (issue 14, U2).

An agent that has pushed before and has not pushed for `alerts.probe_silent_min` minutes is silent: its devices
become "unknown" (a monitoring gap, as any device whose results stopped coming becomes), no device outage or
ticket is opened for them (none can be: no result says they failed), and `probe_agent_silent` raises one alert
to the supervisors. When the agent pushes again — its spooled results first — `probe_agent_back` resolves it,
and the late results bring each device's state (and any real outage, with its real times) up to date."""
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from fleetops.domain.choices import DeviceStatus
from fleetops.models import Device
from fleetops.models.agents import ProbeAgent
from fleetops.models.base import utcnow
from fleetops.platform import events, parameters
from fleetops.services.agents.scope import owners
from fleetops.services.monitoring.settings import chunks


def check_agents(session: Session, now: datetime | None = None) -> dict:
    """Open or resolve each registered agent's silence; returns {"silent", "opened", "resolved"}."""
    now = now or utcnow()
    window = timedelta(minutes=float(parameters.get(session, "alerts.probe_silent_min")))
    agents = session.scalars(select(ProbeAgent).where(ProbeAgent.revoked_at.is_(None))).all()
    opened = resolved = silent = 0
    owned = None
    for agent in agents:
        quiet = agent.last_push_at is not None and now - agent.last_push_at > window
        if quiet:
            silent += 1
            if agent.silent_since is None:
                agent.silent_since = now
                if owned is None:
                    owned = owners(session)
                ids = [d for d, a in owned.items() if a == agent.id]
                _mark_unknown(session, ids, agent.last_push_at)
                events.emit(session, "probe_agent_silent", agent=agent.name, agent_id=agent.id,
                            last_seen_at=agent.last_push_at, devices=len(ids))
                opened += 1
        elif agent.silent_since is not None:
            agent.silent_since = None
            events.emit(session, "probe_agent_back", agent=agent.name, agent_id=agent.id)
            resolved += 1
    # A revoked agent's silence is no longer anyone's concern.
    for agent in session.scalars(select(ProbeAgent).where(ProbeAgent.revoked_at.is_not(None),
                                                          ProbeAgent.silent_since.is_not(None))):
        agent.silent_since = None
        events.emit(session, "probe_agent_back", agent=agent.name, agent_id=agent.id)
        resolved += 1
    return {"silent": silent, "opened": opened, "resolved": resolved}


def _mark_unknown(session: Session, device_ids: list[int], since: datetime) -> None:
    """Its devices' state is unknown from the agent's last push (a plain UPDATE, as monitoring writes status)."""
    table = Device.__table__
    stmt = (update(table).where(table.c.id == bindparam("did"), table.c.status != DeviceStatus.UNKNOWN.value)
            .values(status=DeviceStatus.UNKNOWN.value, status_since=bindparam("since")))
    session.flush()
    for chunk in chunks(device_ids, 2000):
        session.connection().execute(stmt, [{"did": d, "since": since} for d in chunk])
