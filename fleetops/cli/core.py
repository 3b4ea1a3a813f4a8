"""`fleetops db upgrade|check`, `fleetops create-user`, `fleetops create-token`, `fleetops rotate-secret-key`."""
import click

from fleetops.cli import get_app, say, session
from fleetops.domain.text import Msg


@click.group()
def db():
    """Database schema (Alembic)."""


def alembic_config():
    from alembic.config import Config

    from fleetops.config import PROJECT_ROOT

    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    cfg.attributes["database_url"] = get_app().config["DATABASE_URL"]
    return cfg


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision):
    """Bring the schema up to REVISION (default: head)."""
    from alembic import command

    command.upgrade(alembic_config(), revision)
    say(Msg("schema at %(revision)s", revision=revision))


@db.command("check")
def db_check():
    """Fail when the models differ from the migrations."""
    from alembic import command

    command.check(alembic_config())


@click.command("create-user")
@click.argument("username")
@click.option("--role", type=click.Choice(["admin", "supervisor", "crew"]), required=True)
@click.option("--password", envvar="FLEETOPS_NEW_PASSWORD", default=None,
              help="Default: a random one, printed once. Or set FLEETOPS_NEW_PASSWORD.")
@click.option("--district", default="", help="A crew's district (default: all).")
@click.option("--name", "display_name", default="", help="Display name.")
def create_user(username, role, password, district, display_name):
    """Create a user with a role (admin, supervisor, crew)."""
    from fleetops.services import accounts

    with session() as s:
        _user, pw = accounts.create_user(s, username, role, password, display_name=display_name,
                                         district=district, actor="cli")
    say(Msg("created %(role)s %(name)s", role=role, name=username))
    if not password:
        say(Msg("password (shown once): %(password)s", password=pw))


@click.command("create-token")
@click.argument("username")
@click.option("--name", default="cli", help="What the token is for.")
def create_token(username, name):
    """Print a new API token for USERNAME (shown once; only its hash is stored)."""
    from fleetops.services import accounts

    with session() as s:
        _row, token = accounts.create_token(s, username, name, actor="cli")
    click.echo(token)


@click.command("rotate-secret-key")
def rotate_secret_key():
    """Encrypt every stored secret (SNMP communities and keys, camera, SMTP and webhook passwords) with a new key."""
    from pathlib import Path

    from fleetops.platform.secretkeys import rotate_secret_key as rotate

    app = get_app()
    with session() as s:
        say(rotate(s, app.config, Path(app.instance_path)))
