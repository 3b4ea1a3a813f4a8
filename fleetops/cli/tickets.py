"""Ticket and stock commands: `fleetops tickets [--json]`, `fleetops ticket-deadlines`, `fleetops stock [--json]`,
`fleetops add-qualification`."""
import click

from fleetops.cli import echo_json, fail, session


@click.command("tickets")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per ticket (id, device/site, state, clocks, breaches).")
@click.option("--state", default="", help="Only tickets in this state (new, dispatched, …, closed).")
@click.option("--open", "open_only", is_flag=True, help="Only open tickets.")
@click.option("--overdue", is_flag=True, help="Only tickets past their current deadline.")
@click.option("--district", default="", help="Only sites in this district.")
def tickets_cmd(as_json, state, open_only, overdue, district):
    """List tickets, overdue first."""
    from fleetops.domain.text import Msg
    from fleetops.domain.tickets import TicketState
    from fleetops.platform.i18n import translate
    from fleetops.services import tickets

    if state:
        try:
            state = TicketState.parse(state).value
        except ValueError:
            raise click.BadParameter(f"unknown state {state!r}; one of {', '.join(s.value for s in TicketState)}",
                                     param_hint="--state") from None
    with session() as s:
        rows = [tickets.ticket_row(t) for t in tickets.list_tickets(s, state=state, open_only=open_only,
                                                                     overdue_only=overdue, district=district)]
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        late = ",".join(b["which"] for b in r["breaches"]) or "-"
        click.echo(f"#{r['id']:<5} {r['state']:<11} {(r['device'] or r['site'] or ''):<14} {r['category']:<11} "
                   f"arrive_by={r['arrive_by'] or '-'} repair_by={r['repair_by'] or '-'} {r['day_night'] or '-'} "
                   f"km={r['distance_km'] if r['distance_km'] is not None else '-'} breaches={late}")
    click.echo(translate(Msg("%(count)s ticket(s)", count=len(rows))))


@click.command("ticket-deadlines")
def ticket_deadlines_cmd():
    """Check every running deadline once (the scheduler does this each minute) and auto-verify returned devices."""
    from fleetops.services import tickets

    with session() as s:
        counts = tickets.check_deadlines(s)
        verified = tickets.auto_verify(s)
    click.echo(f"approaching={counts['approaching']} breached={counts['breached']} "
               f"verified={verified['verified']} closed={verified['closed']}")


@click.command("stock")
@click.option("--json", "as_json", is_flag=True, help="JSON rows per part type.")
def stock_cmd(as_json):
    """Spare-part stock per part type, with the below-minimum ones flagged (S1)."""
    from fleetops.platform.i18n import translate
    from fleetops.services import spares

    with session() as s:
        keys = ("part_type", "name", "total", "minimum", "below_minimum")
        rows = [{k: r[k] for k in keys} for r in spares.stock_rows(s)]
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        flag = "  ← " + translate("below minimum") if r["below_minimum"] else ""
        click.echo(f"{r['part_type']:<12} {r['name']:<16} {r['total']:>4} / min {r['minimum']}{flag}")


@click.command("add-qualification")
@click.argument("username")
@click.argument("kind", type=click.Choice(["work_at_height", "electrician", "security_systems"]))
@click.option("--until", "valid_until", type=click.DateTime(["%Y-%m-%d"]), required=True, help="Last valid day.")
@click.option("--from", "valid_from", type=click.DateTime(["%Y-%m-%d"]), default=None, help="First valid day.")
@click.option("--number", default="", help="Certificate number.")
def add_qualification_cmd(username, kind, valid_until, valid_from, number):
    """T8: record a crew member's certificate (work at height, electrician, security systems)."""
    from fleetops.domain.text import Msg
    from fleetops.services import tickets

    with session() as s:
        user_id = tickets.user_id_by_name(s, username)
        if user_id is None:
            fail(Msg("No user %(username)s.", username=username))
        tickets.add_qualification(s, user_id, kind, valid_until.date(),
                                  valid_from=valid_from.date() if valid_from else None, certificate_no=number,
                                  actor="cli")
    click.echo(str(Msg("%(username)s: %(kind)s valid until %(day)s", username=username, kind=kind,
                       day=valid_until.date().isoformat())))
