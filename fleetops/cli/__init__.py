"""The `fleetops` command: the root group, database and account commands, and helpers for the area modules.

Each area's commands live in a module of this package; `fleetops.wiring.CLI_COMMANDS` adds them to `main`."""
import json
import logging
import sys

import click

from fleetops.db import session_scope
from fleetops.domain.errors import FleetopsError
from fleetops.domain.text import Msg

_app = None


def get_app():
    """The application for this command, created once (honours FLEETOPS_DATABASE_URL)."""
    global _app
    if _app is None:
        from fleetops import create_app

        _app = create_app()
    return _app


def session():
    """`with session() as s:` — a committed-on-success session on the app's database."""
    return session_scope(get_app().extensions["fleetops.sessionmaker"])


def fail(message: str, code: int = 1):
    click.echo(str(Msg("Error: %(message)s", message=message)), err=True)
    sys.exit(code)


def echo_json(data) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


class FleetopsGroup(click.Group):
    """Turns a FleetopsError into a readable message and exit status 1, never a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except FleetopsError as err:
            fail(err.message)


@click.group(cls=FleetopsGroup)
@click.option("-v", "--verbose", is_flag=True, help="Log at DEBUG level.")
def main(verbose):
    """fleetops — traffic-enforcement camera fleet operations."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    for noisy in ("pysnmp", "pyasn1", "asyncio", "alembic.runtime.plugins"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@main.group()
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
    click.echo(f"schema at {revision}")


@db.command("check")
def db_check():
    """Fail when the models differ from the migrations."""
    from alembic import command

    command.check(alembic_config())


@main.command("create-user")
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
    click.echo(f"created {role} {username}")
    if not password:
        click.echo(f"password (shown once): {pw}")


@main.command("create-token")
@click.argument("username")
@click.option("--name", default="cli", help="What the token is for.")
def create_token(username, name):
    """Print a new API token for USERNAME (shown once; only its hash is stored)."""
    from fleetops.services import accounts

    with session() as s:
        _row, token = accounts.create_token(s, username, name, actor="cli")
    click.echo(token)
