"""`fleetops discover CIDR… [--json]` (issue 12, F4), `fleetops traps` (the trap receiver) and `fleetops trap-list`
(issue 17)."""
import sys

import click

from fleetops.cli import echo_json, get_app, say, session
from fleetops.domain.text import Msg


@click.command("discover")
@click.argument("cidrs", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
def discover_cmd(cidrs, as_json):
    """Sweep allowed ranges (SNMP and ICMP) for unmanaged, never-online and mismatching devices.

    Only ranges inside the camera networks (contract parameter camera_networks) are swept. The sweep and its rows
    are saved (the discovery page lists them); progress is shown on stderr."""
    from fleetops.services import discovery

    app = get_app()
    with session() as s:
        sweep = discovery.create_sweep(s, list(cidrs), "cli", conf=app.config)
        sweep_id = sweep.id

    def progress(done, total, answered):
        sys.stderr.write("\r" + str(Msg("sweep %(id)s: %(done)s/%(total)s addresses, %(answered)s answered",
                                        id=sweep_id, done=done, total=total, answered=answered)))
        sys.stderr.flush()

    rows = discovery.run_sweep(app.extensions["fleetops.sessionmaker"], sweep_id, app.config, progress)
    sys.stderr.write("\n")
    if as_json:
        echo_json([discovery.json_row(r) for r in rows])
        return
    for r in rows:
        say(f"{r['status']:<13} {r['address']:<15} {r['device'] or '-':<16} {r['sys_name'] or '-'}  "
            f"{(r['sys_descr'] or '')[:60]}")
    say(Msg("%(n)s rows (sweep %(id)s)", n=len(rows), id=sweep_id))


@click.command("traps")
@click.option("--host", default=None, help="Address to listen on (default: the TRAP_BIND setting, 0.0.0.0).")
@click.option("--port", default=None, type=int, help="UDP port (default: TRAP_PORT, else 162 as root, 1162 not).")
def traps_cmd(host, port):
    """Receive SNMP traps (v1, v2c, v3) and store every one; mains failure, cold start and link down act at once."""
    from fleetops.services import traps

    app = get_app()
    receiver = traps.TrapReceiver(app.extensions["fleetops.sessionmaker"], app.config,
                                  host=host or app.config.get("TRAP_BIND") or "0.0.0.0", port=port)
    try:
        receiver.start()
    except OSError as err:
        say(Msg("cannot listen on UDP port %(port)s: %(error)s", port=receiver.port, error=err.strerror or str(err)),
            err=True)
        sys.exit(1)
    say(Msg("traps: listening on UDP %(host)s:%(port)s", host=receiver.host, port=receiver.port))
    try:
        receiver.wait()
    except KeyboardInterrupt:
        receiver.stop()


@click.command("trap-list")
@click.option("--site", default="", help="Site code.")
@click.option("--device", default="", help="Device code.")
@click.option("--kind", "meaning", default="", help="Meaning key (e.g. mains_failure) or 'unknown'.")
@click.option("--limit", default=100, show_default=True, type=int)
@click.option("--json", "as_json", is_flag=True)
def trap_list_cmd(site, device, meaning, limit, as_json):
    """The received traps, newest first."""
    from fleetops.services import traps

    with session() as s:
        rows = traps.list_traps(s, site=site, device=device, meaning=meaning, limit=limit,
                                extra_definitions=get_app().config.get("TRAP_DEFINITIONS_FILE", "") or "")
    if as_json:
        echo_json([{**{k: v for k, v in r.items() if k != "label"},
                    "label": str(r["label"]) if r["label"] else None} for r in rows])
        return
    for r in rows:
        say(f"{r['received_at']:%Y-%m-%d %H:%M:%S} {r['source_address']:<15} {r['device'] or '-':<14} "
            f"{str(r['label']) if r['label'] else r['trap_oid']}")
