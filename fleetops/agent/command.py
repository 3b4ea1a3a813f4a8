"""`fleetops agent --server URL --token TOKEN [--spool FILE] [--once]` (added to the `fleetops` command by
wiring). Messages to the operator are in Chinese by default; English with `--lang en` or LANG=en_…"""
import os
import signal
import sys

import click

from fleetops.domain.text import Msg
from fleetops.platform.i18n import use_locale


@click.command("agent")
@click.option("--server", required=True, help="The centre's address, e.g. https://fleetops.example:8443")
@click.option("--token", envvar="FLEETOPS_AGENT_TOKEN", required=True,
              help="This agent's token (from `fleetops create-agent`), or FLEETOPS_AGENT_TOKEN.")
@click.option("--spool", "spool_path", default="fleetops-agent-spool.sqlite3", show_default=True,
              type=click.Path(dir_okay=False), help="The local SQLite spool file.")
@click.option("--spool-max", default=1_000_000, show_default=True, type=click.IntRange(1, 10**9),
              help="At most this many results kept in the spool (the oldest are dropped first).")
@click.option("--once", is_flag=True, help="One cycle: push (or spool), then exit 0.")
@click.option("--cycles", default=None, type=click.IntRange(1, 10**9), help="Stop after this many cycles.")
@click.option("--lang", default=None, help="Language of the messages: zh (default) or en.")
@click.option("--insecure", is_flag=True, help="Do not verify the centre's TLS certificate.")
def agent_cmd(server, token, spool_path, spool_max, once, cycles, lang, insecure):
    """Run a probe agent: fetch the device list from the centre, probe on its schedule, push results."""
    from fleetops.agent.client import Centre
    from fleetops.agent.runner import Agent, TokenRefused
    from fleetops.agent.spool import Spool

    locale = lang or os.environ.get("LC_ALL") or os.environ.get("LANG") or "zh"
    with use_locale(locale):
        def say(msg):
            click.echo(str(msg))

        try:
            spool = Spool(spool_path, spool_max)
        except Exception as err:  # sqlite3.Error, OSError: name the file, not a traceback
            click.echo(str(Msg("Error: %(message)s", message=Msg("cannot open the spool %(path)s (%(error)s)",
                                                                     path=spool_path, error=type(err).__name__))),
                       err=True)
            sys.exit(1)
        centre = Centre(server, token, verify=not insecure)
        stopping = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stopping.append(1))
        agent = Agent(centre, spool, say)
        try:
            agent.run(lambda: bool(stopping), cycles=1 if once else cycles)
        except TokenRefused:
            click.echo(str(Msg("Error: %(message)s", message=Msg(
                "the centre refused this agent's token (revoked or wrong); spooled results are kept"))), err=True)
            sys.exit(2)
        finally:
            centre.close()
            spool.close()
