"""Probe agent commands at the centre (issue 14): `fleetops create-agent NAME [--district D]… [--cidr C]…`
(prints its token once), `fleetops agents` (each with its health), `fleetops revoke-agent NAME`.
The agent program itself is `fleetops agent` (fleetops/agent/)."""
import click

from fleetops.cli import echo_json, fail, say, session
from fleetops.domain.text import Msg


@click.command("create-agent")
@click.argument("name")
@click.option("--district", "districts", multiple=True, help="A district it probes (repeatable).")
@click.option("--cidr", "cidrs", multiple=True, help="An address range it probes, e.g. 10.1.0.0/16 (repeatable).")
def create_agent_cmd(name, districts, cidrs):
    """Register a probe agent for districts and/or address ranges; its token is printed once."""
    from fleetops.services import agents

    with session() as s:
        agent, token = agents.create_agent(s, name, districts, cidrs, actor="cli")
        scope = ", ".join(agent.districts + agent.cidrs)
    say(Msg("registered probe agent %(name)s (scope: %(scope)s)", name=name, scope=scope))
    say(Msg("token (shown once): %(token)s", token=token))


@click.command("agents")
@click.option("--json", "as_json", is_flag=True, help="As JSON.")
def list_agents_cmd(as_json):
    """List the probe agents with their health: last push, spool depth, lag, version, devices in scope."""
    from fleetops.services import agents

    with session() as s:
        rows = agents.list_agents(s)
    data = [{"name": a.name, "state": a.state, "districts": a.districts, "cidrs": a.cidrs, "devices": a.devices,
             "last_push_at": a.last_push_at.isoformat() if a.last_push_at else None, "spool_depth": a.spool_depth,
             "lag_s": a.lag_s, "version": a.version, "dropped_results": a.dropped_results} for a in rows]
    if as_json:
        echo_json(data)
        return
    if not data:
        say(Msg("No probe agents yet."))
    for a in data:
        say(f"{a['name']}\t{a['state']}\t{a['devices']}\t{a['last_push_at'] or '-'}\t{a['spool_depth']}\t"
            f"{a['lag_s'] if a['lag_s'] is not None else '-'}\t{a['version'] or '-'}")


@click.command("revoke-agent")
@click.argument("name")
def revoke_agent_cmd(name):
    """Revoke a probe agent's token (its devices go back to the central poll)."""
    from fleetops.services import agents

    with session() as s:
        match = [a for a in agents.list_agents(s) if a.name == name]
        if not match:
            fail(Msg("No such probe agent."))
        agents.revoke_agent(s, match[0].id, actor="cli")
    say(Msg("revoked probe agent %(name)s", name=name))
