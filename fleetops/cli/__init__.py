"""The `fleetops` command: the root group and the helpers every command module uses.

Each area's commands live in a module of this package (core.py: db, create-user, create-token);
`fleetops.wiring.CLI_COMMANDS` adds them to `main`. A line a person reads is a `Msg`, shown in Chinese
(the default language) with English as the fallback."""
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


def fail(message, code: int = 1):
    """Print `message` (a Msg or text) as an error and exit with `code`."""
    click.echo(str(Msg("Error: %(message)s", message=message)), err=True)
    sys.exit(code)


def say(message, err: bool = False) -> None:
    """Print one line a person reads (a Msg rendered in the current language, or text)."""
    click.echo(str(message), err=err)


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
