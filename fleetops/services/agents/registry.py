"""Registering probe agents (issue 14): name, scope (districts and/or CIDR ranges) and a token shown once.

Only the token's SHA-256 is stored (the accounts area's hashing); the token itself is never stored or logged."""
import ipaddress
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleetops.domain import inputs
from fleetops.domain.errors import NotFound, ValidationFailed
from fleetops.domain.text import Msg
from fleetops.models.agents import ProbeAgent
from fleetops.models.base import utcnow
from fleetops.platform import audit
from fleetops.services.accounts.tokens import hash_token

AGENT_TOKEN_PREFIX = "fa_"  # an agent's token; a person's API token starts with "fo_"
MAX_SCOPE_ITEMS = 200


def _clean_districts(districts) -> list[str]:
    out = []
    for d in districts or ():
        d = inputs.text(d, "district", max_length=100).strip()
        if d and d not in out:
            out.append(d)
    return out


def _clean_cidrs(cidrs) -> list[str]:
    out = []
    for c in cidrs or ():
        c = str(c or "").strip()
        if not c:
            continue
        try:
            net = ipaddress.ip_network(c, strict=False)
        except ValueError:
            raise ValidationFailed(Msg("cidr: %(value)s is not a network such as 10.1.0.0/16", value=c[:60]),
                                   field="cidr") from None
        if str(net) not in out:
            out.append(str(net))
    return out


def create_agent(session: Session, name: str, districts=(), cidrs=(), actor=None) -> tuple[ProbeAgent, str]:
    """Register an agent; returns (agent, token). The token is returned once and never stored in clear."""
    name = inputs.text(name, "name", max_length=100, required=True).strip()
    districts, cidrs = _clean_districts(districts), _clean_cidrs(cidrs)
    if not districts and not cidrs:
        raise ValidationFailed(Msg("scope: give at least one district or CIDR range"), field="scope")
    if len(districts) + len(cidrs) > MAX_SCOPE_ITEMS:
        raise ValidationFailed(Msg("scope: at most %(n)s districts and ranges", n=MAX_SCOPE_ITEMS), field="scope")
    if session.scalar(select(ProbeAgent.id).where(ProbeAgent.name == name)) is not None:
        raise ValidationFailed(Msg("name: an agent named %(name)s already exists", name=name), field="name")
    token = AGENT_TOKEN_PREFIX + secrets.token_urlsafe(32)
    agent = ProbeAgent(name=name, districts=districts, cidrs=cidrs, token_hash=hash_token(token),
                       prefix=token[:10], created_by=audit_name(actor), spool_depth=0, version="",
                       config_version="", dropped_results=0)
    session.add(agent)
    session.flush()
    audit.record(session, actor, "agent_created", "probe_agent", agent.id,
                 summary=Msg("Probe agent %(name)s registered (scope: %(scope)s)", name=name,
                             scope=", ".join(districts + cidrs)))
    return agent, token


def audit_name(actor) -> str:
    return getattr(actor, "username", None) or (actor if isinstance(actor, str) else "") or "system"


def agent_for_token(session: Session, token: str) -> ProbeAgent | None:
    """The active agent holding `token` (its last contact noted), or None (unknown or revoked)."""
    if not token or not token.startswith(AGENT_TOKEN_PREFIX):
        return None
    agent = session.scalar(select(ProbeAgent).where(ProbeAgent.token_hash == hash_token(token)))
    if agent is None or agent.revoked_at is not None:
        return None
    agent.last_contact_at = utcnow()
    return agent


def get_agent(session: Session, agent_id: int) -> ProbeAgent:
    agent = session.get(ProbeAgent, agent_id)
    if agent is None:
        raise NotFound(Msg("No such probe agent."))
    return agent


def revoke_agent(session: Session, agent_id: int, actor=None) -> ProbeAgent:
    """Revoke an agent's token: its requests are refused (401) from now on; its devices return to the central
    poll. Audited."""
    agent = get_agent(session, agent_id)
    if agent.revoked_at is None:
        agent.revoked_at = utcnow()
        audit.record(session, actor, "agent_revoked", "probe_agent", agent.id,
                     summary=Msg("Probe agent %(name)s revoked", name=agent.name))
    return agent
