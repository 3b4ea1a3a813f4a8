"""`fleetops simulate` (serve the fleet's devices from loopback) and `fleetops fault …` (its control API)."""
import json
import resource
import signal
import threading
import urllib.error
import urllib.request

import click

from fleetops.cli import echo_json, fail, say, session
from fleetops.domain.text import Msg

FAULT_ACTIONS = ("dead", "hung", "reboot", "flap", "link-down", "no-data", "power-cut", "network-cut", "snapshot",
                 "clear", "list")


def _raise_fd_limit(needed: int) -> None:
    """Lift the soft open-files limit towards the hard one: the listening sockets, plus the connections a poll
    cycle opens to all of them at once (a normal user's default of 1024 is not enough for the demo fleet)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 2 * needed + 512
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard) if hard != resource.RLIM_INFINITY else want, hard))


def _snapshot_server(devices, port: int):
    """The imaging helper's snapshot server for the cameras that have snapshot credentials, if it exists."""
    try:
        from fleetops.simulator.snapshots import SnapshotServer
    except ModuleNotFoundError:
        return None
    from fleetops.services.inventory import snapshot_credentials

    with session() as s:
        creds = snapshot_credentials(s, [x.code for x in devices])
    if not creds:
        return None
    return SnapshotServer(creds, "127.0.0.1", port)


@click.command("simulate")
@click.option("--host-range", default="127.0.0.0/8", show_default=True,
              help="Serve the devices whose address lies in this loopback range.")
@click.option("--control-port", default=5081, show_default=True, type=int, help="Fault API on 127.0.0.1.")
@click.option("--snapshot-port", default=5082, show_default=True, type=int,
              help="Camera snapshot server on 127.0.0.1 (0 = off).")
@click.option("--firewall/--no-firewall", default=None,
              help="Drop dead devices' ICMP+SNMP with nftables (default: when root).")
@click.option("--platform-port", default=5083, show_default=True, type=int,
              help="Simulated command platform (pass counts per camera) on 127.0.0.1 (0 = off).")
def simulate(host_range, control_port, snapshot_port, firewall, platform_port):
    """Serve every device of the database from loopback until Ctrl-C / SIGTERM (real SNMP, real ICMP)."""
    from fleetops.simulator import Simulator, load_devices
    from fleetops.simulator.faults import nft_available

    try:
        with session() as s:
            devices = load_devices(s, host_range)
    except ValueError as err:
        fail(str(err))
    if not devices:
        fail(Msg("no devices with an address in %(range)s (load the demo fleet or import an inventory first)",
                 range=host_range))
    if firewall and not nft_available():
        fail(Msg("--firewall needs root and the nft command"))
    _raise_fd_limit(2 * len(devices))  # an SNMP and a TCP socket per device
    snaps = _snapshot_server(devices, snapshot_port) if snapshot_port else None
    sim = Simulator(devices, firewall=firewall, control_port=control_port, snapshot_server=snaps,
                    warn_no_firewall=False)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        if snaps is not None:
            try:
                snaps.start()
            except OSError as err:
                say(Msg("snapshot server not started (%(error)s); image faults are unavailable", error=err.strerror),
                    err=True)
                sim.snapshots = snaps = None
        try:
            sim.start()
        except OSError as err:
            fail(Msg("cannot start the simulator: %(error)s (is another `fleetops simulate` running?)",
                     error=str(err.strerror or err)))
        if sim.mode != "nftables":
            say(Msg("note: without nftables (root) a dead device stops answering SNMP and TCP but still answers "
                    "ping"), err=True)
        _record_ports(sim)
        platform = _platform_server(devices, sim, platform_port) if platform_port else None
        say(Msg("simulating %(n)s devices (%(agents)s SNMP agents), mode=%(mode)s, control %(control)s%(snapshots)s",
                n=len(devices), agents=len(sim.fleet.bound), mode=sim.mode,
                control=f"http://127.0.0.1:{sim.control_port}/faults",
                snapshots=f", snapshots http://127.0.0.1:{snaps.port}/" if snaps else ""))
        while not stop.wait(1.0):
            pass
    finally:
        if "platform" in locals() and platform is not None:
            platform.stop()
        sim.stop()  # removes the nft table, also on SIGTERM
        if snaps is not None:
            snaps.stop()
    say(Msg("simulator stopped"))


def _platform_server(devices, sim, port: int):
    """U7: the simulated command platform serving pass counts per camera; the demo's connector is pointed at it."""
    from fleetops.domain.choices import CAMERA_KINDS
    from fleetops.services.platforms import ensure_simulated_connector
    from fleetops.simulator.platform import PlatformServer

    cams = [d.code for d in devices if d.kind in {k.value for k in CAMERA_KINDS}]
    try:
        server = PlatformServer(cams, sim.book.no_data_since, port=port).start()
    except OSError as err:
        say(Msg("platform simulator not started (%(error)s); no-data faults are unavailable", error=err.strerror),
            err=True)
        return None
    with session() as s:
        ensure_simulated_connector(s, server.url)
    say(Msg("platform simulator: pass counts for %(n)s cameras at %(url)s", n=len(cams), url=server.url))
    return server


def _record_ports(sim) -> None:
    """The inventory gets the ports really served (1161 instead of 161 without root), so polls ask there."""
    from fleetops.services.inventory import record_simulated_ports

    with session() as s:
        changed = record_simulated_ports(s, sim.ports_used())
    if sim.fleet.moved or changed:
        say(Msg("not root: ports below 1024 moved up by 1000 (SNMP 1161, RTSP 1554, HTTP 1080); "
                "%(n)s devices updated in the inventory", n=changed), err=True)


def _call(method: str, path: str, port: int, body: dict | None = None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        try:
            reply = json.loads(err.read())
            message = reply.get("message") or reply.get("error", err.reason)
        except (ValueError, AttributeError):
            message = err.reason
        fail(str(message))
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        fail(Msg("no simulator answers on 127.0.0.1:%(port)s (start it with `fleetops simulate`)", port=port))


@click.command("fault")
@click.argument("action", type=click.Choice(FAULT_ACTIONS))
@click.argument("target", required=False)
@click.option("--control-port", default=5081, show_default=True, type=int)
@click.option("--period-s", type=float, help="flap: seconds down, then seconds up (default 30).")
@click.option("--down-s", type=float, help="reboot: seconds dead before it comes back (default 0).")
@click.option("--interface", type=int, help="link-down: which ifIndex (default 2).")
@click.option("--image", "image_fault", help="snapshot: blur, dark, glare, colour_cast, shifted, frozen "
                                                "(omit to clear).")
@click.option("--json", "as_json", is_flag=True, help="Print the control API's JSON.")
def fault(action, target, control_port, period_s, down_s, interface, image_fault, as_json):
    """Inject a fault into the running simulator: dead|hung|reboot|flap|link-down|no-data DEVICE, power-cut|network-cut
    SITE, snapshot DEVICE --image blur, clear DEVICE|SITE|all, list."""
    # The status lines below echo the control API's ids and modes (scripts and tests read them): left as they are.
    if action == "list":
        data = _call("GET", "/faults", control_port)
        if as_json:
            return echo_json(data)
        click.echo(f"mode={data['mode']} devices={data['devices']} faults={len(data['faults'])}")
        for f in data["faults"]:
            extra = f.get("fault") or (f"period_s={f['period_s']}" if f["kind"] == "flap" else "")
            click.echo(f"  {f['id']}  {extra}".rstrip())
        return
    if not target:
        fail(Msg("`fleetops fault %(action)s` needs a device or site code", action=action))
    if action == "clear":
        key = "" if target == "all" else "/" + urllib.request.quote(target, safe="")
        data = _call("DELETE", f"/faults{key}", control_port)
        return echo_json(data) if as_json else say(Msg("cleared %(n)s fault(s)", n=len(data["removed"])))
    body = {"kind": action.replace("-", "_")}
    body["site" if action in ("power-cut", "network-cut") else "device"] = target
    for name, value in (("period_s", period_s), ("down_s", down_s), ("interface", interface),
                        ("fault", image_fault)):
        if value is not None:
            body[name] = value
    data = _call("POST", "/faults", control_port, body)
    if as_json:
        return echo_json(data)
    say(Msg("fault %(id)s injected (mode=%(mode)s)", id=data["fault"]["id"], mode=data["mode"]))
