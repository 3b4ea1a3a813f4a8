"""`fleetops alerts …`: deliver the outbox once, run the periodic alert checks, list open alerts."""
import click

from fleetops.cli import echo_json, get_app, main, session


@main.group("alerts")
def alerts_group():
    """Alerts: outbox delivery, checks, the open list."""


@alerts_group.command("deliver-once")
@click.option("--limit", default=100, show_default=True, help="At most this many messages.")
def deliver_once(limit):
    """Send every due message in the outbox once (retries back off; nothing is lost)."""
    from fleetops.services import alerts

    app = get_app()
    with session() as s:
        stats = alerts.deliver_due(s, limit=limit, base_s=float(app.config.get("ALERT_RETRY_BASE_S", 30)),
                                   max_s=float(app.config.get("ALERT_RETRY_MAX_S", 3600)))
    click.echo(f"sent={stats['sent']} failed={stats['failed']}")


@alerts_group.command("check")
def check():
    """Run the periodic checks now: repeats/escalations, "online but no data" (U7), certificates (F5)."""
    from fleetops.services import alerts

    with session() as s:
        out = {"repeat": alerts.repeat_and_escalate(s), "no_data": alerts.check_no_data(s),
               "certificates": alerts.check_certificates(s)}
    echo_json(out)


@alerts_group.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include resolved alerts.")
def list_alerts(show_all):
    """Open (or all) alerts as JSON."""
    from sqlalchemy import select

    from fleetops.models.alerts import Alert
    from fleetops.services import alerts

    with session() as s:
        q = select(Alert).order_by(Alert.opened_at.desc()).limit(500)
        if not show_all:
            q = q.where(Alert.open_key.is_not(None))
        echo_json([alerts.alert_dict(a) for a in s.scalars(q)])
