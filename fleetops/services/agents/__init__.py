"""Probe agents (issue 14): programs near the devices that probe their scope and push results to the centre.

Modules:
  registry   create_agent (token shown once, only its hash stored), agent_for_token, revoke_agent
  scope      which agent owns which in-service device (districts and/or CIDR ranges; the oldest agent wins)
  config     the device list and probe settings an agent fetches, with its version (ETag)
  batches    an agent's result batch: scope-limited, applied once (idempotency key), with its health
  silence    a silent agent: one alert, its devices unknown; resolved when it is back
  probing    the agent side: the central poll's probes without the database
  queries    what the pages and the CLI read
"""
from fleetops.services.agents.batches import OUT_OF_SCOPE, ingest_batch, read_health, record_health
from fleetops.services.agents.config import agent_config
from fleetops.services.agents.queries import AgentRow, list_agents
from fleetops.services.agents.registry import (
    AGENT_TOKEN_PREFIX, agent_for_token, create_agent, get_agent, revoke_agent,
)
from fleetops.services.agents.scope import owners
from fleetops.services.agents.silence import check_agents

__all__ = ["AGENT_TOKEN_PREFIX", "AgentRow", "OUT_OF_SCOPE", "agent_config", "agent_for_token", "check_agents",
           "create_agent", "get_agent", "ingest_batch", "list_agents", "owners", "read_health", "record_health",
           "revoke_agent"]
