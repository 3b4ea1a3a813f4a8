"""Which in-service devices each active probe agent owns (issue 14).

An agent's scope is districts (the site's district) and/or CIDR ranges (the device's address). A device in the
scope of several agents belongs to the oldest of them, so exactly one program probes it: that agent — and never
the central poll (`monitoring/poll` skips every owned device)."""
import ipaddress
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleetops.domain.choices import IN_SERVICE
from fleetops.models import Device, Site
from fleetops.models.agents import ProbeAgent


@dataclass(frozen=True)
class Scope:
    agent_id: int
    districts: frozenset
    networks: tuple

    def contains(self, district: str, address: str) -> bool:
        if district in self.districts:
            return True
        if not self.networks or not address:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self.networks)


def active_scopes(session: Session) -> list[Scope]:
    """The scopes of the active (not revoked) agents, oldest first."""
    out = []
    for a in session.scalars(select(ProbeAgent).where(ProbeAgent.revoked_at.is_(None)).order_by(ProbeAgent.id)):
        nets = []
        for c in a.cidrs or ():
            try:
                nets.append(ipaddress.ip_network(c, strict=False))
            except ValueError:  # checked when stored; an edited row must not stop the poll
                continue
        out.append(Scope(a.id, frozenset(a.districts or ()), tuple(nets)))
    return out


def owners(session: Session, agent_id: int | None = None) -> dict[int, int]:
    """device id → the id of the agent that probes it (in-service devices with an address); only `agent_id`'s
    devices when given. Empty when no agent is registered (the central poll then probes everything)."""
    scopes = active_scopes(session)
    if not scopes:
        return {}
    q = (select(Device.id, Device.ip_address, Site.district).join(Site, Site.id == Device.site_id)
         .where(Device.lifecycle.in_([x.value for x in IN_SERVICE]), Device.ip_address.is_not(None),
                Device.ip_address != ""))
    out = {}
    for did, address, district in session.execute(q):
        for sc in scopes:
            if sc.contains(district or "", address):
                if agent_id is None or sc.agent_id == agent_id:
                    out[did] = sc.agent_id
                break
    return out


def devices_in_scope(session: Session) -> dict[int, int]:
    """Per agent id, how many devices it probes."""
    counts: dict[int, int] = {}
    for agent_id in owners(session).values():
        counts[agent_id] = counts.get(agent_id, 0) + 1
    return counts
