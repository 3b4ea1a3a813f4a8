"""`fleetops inspections …` (P1–P3): load a contract preset of plans, list the plans, generate the due orders now."""
import click

from fleetops.cli import echo_json, session, say
from fleetops.domain import inspections as rules
from fleetops.domain.inputs import parse_time
from fleetops.domain.text import Msg
from fleetops.platform.clock import local_zone


@click.group("inspections")
def inspections_group():
    """Inspection and preventive-maintenance plans and their orders."""


@inspections_group.command("preset")
@click.argument("name", type=click.Choice(sorted(rules.PRESETS)))
def preset_cmd(name):
    """Add the plans of a contract preset (plans already loaded, and edits made to them, are kept)."""
    from fleetops.services import inspections

    with session() as s:
        out = inspections.load_preset(s, name, actor="cli")
    say(Msg("preset %(name)s: %(created)s plans added, %(kept)s already there", name=name,
            created=len(out["created"]), kept=len(out["kept"])))


@inspections_group.command("plans")
def plans_cmd():
    """Every plan as JSON."""
    from fleetops.services import inspections

    with session() as s:
        echo_json([{"id": p.id, "key": p.key, **inspections.plan_dict(p)} for p in inspections.list_plans(s)])


@inspections_group.command("generate")
@click.option("--at", "at", default=None, help="As if it were this time (ISO 8601; local time when no offset).")
def generate_cmd(at):
    """Make the orders of the current periods now (what the scheduler's job does; repeated runs add nothing)."""
    from fleetops.services import inspections

    now = parse_time(at, "--at", local_zone()) if at else None
    with session() as s:
        made = inspections.generate_due(s, now=now)
        overdue = inspections.check_overdue(s, now=now)
    echo_json({**made, "overdue_groups": overdue})
