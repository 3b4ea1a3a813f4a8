"""`fleetops simulate` (serve the fleet's devices from loopback) and `fleetops fault …` (its control API)."""
import json
import resource
import signal
import threading
import urllib.error
import urllib.request

import click

from fleetops.cli import echo_json, fail, session

FAULT_ACTIONS = ("dead", "hung", "reboot", "flap", "link-down", "power-cut", "network-cut", "snapshot",
                 "clear", "list")


def _raise_fd_limit(needed: int) -> None:
    """One socket per device: lift the soft open-files limit towards the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = needed + 256
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard) if hard != resource.RLIM_INFINITY else want, hard))


def _snapshot_server(devices, port: int):
    """The imaging helper's snapshot server for the cameras that have snapshot credentials, if it exists."""
    try:
        from fleetops.simulator.snapshots import SnapshotServer
    except ModuleNotFoundError:
        return None
    from fleetops.models import Device
    from sqlalchemy import select

    with session() as s:
        creds = {d.code: (d.snapshot_username, d.snapshot_password) for d in s.scalars(
            select(Device).where(Device.code.in_([x.code for x in devices]), Device.snapshot_url != ""))
            if d.snapshot_username and d.snapshot_password}
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
def simulate(host_range, control_port, snapshot_port, firewall):
    """Serve every device of the database from loopback until Ctrl-C / SIGTERM (real SNMP, real ICMP)."""
    from fleetops.simulator import Simulator, load_devices
    from fleetops.simulator.faults import nft_available

    try:
        with session() as s:
            devices = load_devices(s, host_range)
    except ValueError as err:
        fail(str(err))
    if not devices:
        fail(f"数据库中没有 {host_range} 内的设备 / no devices with an address in {host_range} "
             "(load the demo fleet or import an inventory first)")
    if firewall and not nft_available():
        fail("--firewall 需要 root 和 nft / --firewall needs root and the nft command")
    _raise_fd_limit(len(devices))
    snaps = _snapshot_server(devices, snapshot_port) if snapshot_port else None
    sim = Simulator(devices, firewall=firewall, control_port=control_port, snapshot_server=snaps)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        if snaps is not None:
            try:
                snaps.start()
            except OSError as err:
                click.echo(f"snapshot server not started ({err.strerror}); image faults are unavailable", err=True)
                sim.snapshots = snaps = None
        try:
            sim.start()
        except OSError as err:
            fail(f"无法启动模拟器 / cannot start the simulator: {err.strerror or err} "
                 "(is another `fleetops simulate` running?)")
        if sim.mode != "nftables":
            click.echo("注意 / note: not root (or --no-firewall): faults are SNMP-only; "
                       "a dead device still answers ping", err=True)
        click.echo(f"simulating {len(devices)} devices ({len(sim.fleet.bound)} SNMP agents), mode={sim.mode}, "
                   f"control http://127.0.0.1:{sim.control_port}/faults"
                   + (f", snapshots http://127.0.0.1:{snaps.port}/" if snaps else ""), err=False)
        while not stop.wait(1.0):
            pass
    finally:
        sim.stop()  # removes the nft table, also on SIGTERM
        if snaps is not None:
            snaps.stop()
    click.echo("simulator stopped")


def _call(method: str, path: str, port: int, body: dict | None = None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        try:
            message = json.loads(err.read()).get("error", err.reason)
        except (ValueError, AttributeError):
            message = err.reason
        fail(str(message))
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        fail(f"模拟器未运行 / no simulator answers on 127.0.0.1:{port} (start it with `fleetops simulate`)")


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
    """Inject a fault into the running simulator: dead|hung|reboot|flap|link-down DEVICE, power-cut|network-cut
    SITE, snapshot DEVICE --image blur, clear DEVICE|SITE|all, list."""
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
        fail(f"`fleetops fault {action}` 需要设备或点位编号 / needs a device or site code")
    if action == "clear":
        key = "" if target == "all" else "/" + urllib.request.quote(target, safe="")
        data = _call("DELETE", f"/faults{key}", control_port)
        return echo_json(data) if as_json else click.echo(f"cleared {len(data['removed'])} fault(s)")
    body = {"kind": action.replace("-", "_")}
    body["site" if action in ("power-cut", "network-cut") else "device"] = target
    for name, value in (("period_s", period_s), ("down_s", down_s), ("interface", interface),
                        ("fault", image_fault)):
        if value is not None:
            body[name] = value
    data = _call("POST", "/faults", control_port, body)
    if as_json:
        return echo_json(data)
    click.echo(f"fault {data['fault']['id']} injected (mode={data['mode']})")
