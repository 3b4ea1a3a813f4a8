"""An agent's result batch at the centre (issue 14): scope-limited, applied once, with the agent's health.

Every result goes through the monitoring area's one ingest path (`monitoring.ingest_results`). A result for a
device outside the agent's scope is refused on its own line with the reason (it never touches that device's
results). The batch id is claimed first (`platform/idempotency`): a batch the agent sends again — its answer was
lost on the way back, or it replays its spool — is applied once."""
import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleetops.domain import inputs
from fleetops.domain.errors import ValidationFailed
from fleetops.domain.text import Msg
from fleetops.models import Device
from fleetops.models.agents import ProbeAgent
from fleetops.models.base import utcnow
from fleetops.platform import audit
from fleetops.platform.idempotency import claim_request
from fleetops.services.agents.scope import owners
from fleetops.services.monitoring import IngestConfig, IngestSummary, ingest_results
from fleetops.services.monitoring.settings import chunks

log = logging.getLogger(__name__)

OUT_OF_SCOPE = "device %(code)s is not in this agent's scope"


def batch_key(agent: ProbeAgent, batch_id) -> str:
    """The idempotency key of one batch: the agent's id and its own batch id (checked: ≤ 48 characters)."""
    batch_id = inputs.text(batch_id, "batch_id", max_length=48, required=True).strip()
    return f"agent:{agent.id}:{batch_id}"


def read_health(health) -> dict:
    """The agent's report sent with each batch: spool depth, lag, version, results dropped from a full spool."""
    if health is None:
        health = {}
    if not isinstance(health, dict):
        raise ValidationFailed(Msg("'agent' must be an object"), field="agent")
    out = {"spool_depth": inputs.whole_number(health.get("spool_depth", 0), "agent.spool_depth", 0, 10**12),
           "version": inputs.text(health.get("version", ""), "agent.version", 40)}
    lag = health.get("lag_s")
    out["lag_s"] = None if lag is None else inputs.number(lag, "agent.lag_s", 0, 10**10)
    dropped = health.get("dropped") or {}
    if not isinstance(dropped, dict):
        raise ValidationFailed(Msg("'agent.dropped' must be an object"), field="agent.dropped")
    out["dropped"] = inputs.whole_number(dropped.get("results", 0), "agent.dropped.results", 0, 10**12)
    out["dropped_from"] = inputs.text(dropped.get("from", "") or "", "agent.dropped.from", 40)
    out["dropped_to"] = inputs.text(dropped.get("to", "") or "", "agent.dropped.to", 40)
    return out


def record_health(session: Session, agent: ProbeAgent, health: dict, now: datetime | None = None) -> None:
    now = now or utcnow()
    agent.last_push_at = now
    agent.last_contact_at = now
    agent.spool_depth = health["spool_depth"]
    agent.lag_s = health["lag_s"]
    if health["version"]:
        agent.version = health["version"]
    if health["dropped"]:
        agent.dropped_results = (agent.dropped_results or 0) + health["dropped"]
        audit.record(session, "agent:" + agent.name, "agent_spool_dropped", "probe_agent", agent.id,
                     summary=Msg("Probe agent %(name)s dropped %(n)s results from its full spool (%(start)s – "
                                 "%(end)s)", name=agent.name, n=health["dropped"], start=health["dropped_from"],
                                 end=health["dropped_to"]))
        log.warning("agent=%s spool_dropped=%d from=%s to=%s", agent.name, health["dropped"],
                    health["dropped_from"], health["dropped_to"])


def ingest_batch(session: Session, agent: ProbeAgent, items: list, batch_id, health: dict,
                 config: IngestConfig | None = None, now: datetime | None = None) -> IngestSummary:
    """Apply one batch once: claim its id, refuse out-of-scope lines, ingest the rest, note the health.
    Raises DuplicateRequest (nothing changed) for a batch already applied. The caller commits."""
    claim_request(session, batch_key(agent, batch_id), "agent_batch", agent.id)
    owned = _owned_codes(session, agent)
    mine, refused = [], []
    for index, item in enumerate(items, start=1):
        code = item.get("device") if isinstance(item, dict) else None
        if isinstance(code, str) and code.strip() in owned:
            mine.append((index, item))
        else:
            refused.append({"index": index, "device": code if isinstance(code, str) else "",
                            "reason": Msg(OUT_OF_SCOPE, code=repr(code) if not isinstance(code, str) else code)})
    summary = ingest_results(session, [item for _i, item in mine], config, now=now)
    for r in summary.rejected:  # the ingest counted lines of `mine`: back to positions in the batch
        r["index"] = mine[r["index"] - 1][0]
    summary.received += len(refused)
    summary.rejected = sorted(summary.rejected + refused, key=lambda r: r["index"])
    record_health(session, agent, health, now)
    return summary


def _owned_codes(session: Session, agent: ProbeAgent) -> set[str]:
    ids = sorted(owners(session, agent.id))
    codes = set()
    for chunk in chunks(ids):
        codes.update(session.scalars(select(Device.code).where(Device.id.in_(chunk))))
    return codes
