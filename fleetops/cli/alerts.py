"""`fleetops alerts …`: deliver the outbox once, run the periodic alert checks, list open alerts, add a channel."""
import click

from fleetops.cli import echo_json, fail, get_app, session
from fleetops.domain.text import Msg


@click.group("alerts")
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
    from fleetops.services.inventory import certificates
    from fleetops.services.monitoring import detectors

    with session() as s:
        out = {"repeat": alerts.repeat_and_escalate(s), "no_data": detectors.check_no_data(s),
               "certificates": certificates.check_certificates(s)}
    echo_json(out)


@alerts_group.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include resolved alerts.")
def list_alerts(show_all):
    """Open (or all) alerts as JSON."""
    from fleetops.services import alerts

    with session() as s:
        echo_json([alerts.alert_dict(a) for a in alerts.latest_alerts(s, include_resolved=show_all)])


@alerts_group.command("add-channel")
@click.argument("name")
@click.option("--kind", type=click.Choice(["email", "webhook", "dingtalk", "wecom", "mqtt"]), required=True)
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help="A setting, e.g. --set url=http://127.0.0.1:8088/hook (repeatable).")
@click.option("--secret", "secret_keys", multiple=True, metavar="KEY",
              help="A secret to be asked for without echo, e.g. --secret access_token (repeatable).")
@click.option("--route/--no-route", default=True, show_default=True,
              help="Also add a rule sending every alert (any district, kind, role) to it.")
def add_channel(name, kind, settings, secret_keys, route):
    """Add an alert channel (secrets are prompted for, never taken from the command line)."""
    from fleetops.services import alerts

    values = {}
    for item in settings:
        key, sep, value = item.partition("=")
        if not sep:
            fail(Msg("--set needs KEY=VALUE, not %(item)s", item=repr(item)))
        values[key.strip()] = value
    unknown = sorted(set(values) - set(alerts.PLAIN_FIELDS[kind]))
    if unknown:
        fail(Msg("%(kind)s has no setting %(keys)s; known: %(known)s", kind=kind, keys=", ".join(unknown),
                 known=", ".join(alerts.PLAIN_FIELDS[kind])))
    secrets = {}
    for key in secret_keys:
        if key not in alerts.SECRET_FIELDS[kind]:
            fail(Msg("%(kind)s has no secret %(key)s; known: %(known)s", kind=kind, key=key,
                     known=", ".join(alerts.SECRET_FIELDS[kind])))
        secrets[key] = click.prompt(key, hide_input=True)
    if "starttls" in values:
        values["starttls"] = values["starttls"].lower() in ("1", "true", "yes", "on")
    with session() as s:
        channel_id = alerts.add_channel(s, "cli", name=name, kind=kind, settings=values, secrets=secrets,
                                        catch_all_route=route)
    if route:
        click.echo(str(Msg("channel %(name)s (%(kind)s) saved as #%(id)s with a catch-all route", name=name,
                           kind=kind, id=channel_id)))
    else:
        click.echo(str(Msg("channel %(name)s (%(kind)s) saved as #%(id)s", name=name, kind=kind, id=channel_id)))
