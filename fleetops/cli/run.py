"""`fleetops run` (web UI + scheduler + simulated fleet, one command), `fleetops scheduler`, `fleetops set-password`."""
import logging
import os
import signal
import subprocess
import sys
import time

import click

from fleetops.cli import get_app, say, session
from fleetops.cli.core import db_upgrade
from fleetops.domain.text import Msg

log = logging.getLogger(__name__)


def ensure_admin() -> None:
    """First start: create `admin` with a random password and print it once (never logged)."""
    from fleetops.services import accounts

    with session() as s:
        password = accounts.create_first_admin(s)
    if password is None:
        return
    banner = "=" * 64
    lines = (Msg("admin account: %(name)s", name="admin"),
             Msg("password (shown once): %(password)s", password=password),
             Msg("Change it with: %(command)s", command="fleetops set-password admin"))
    say("\n".join(["", banner, *(f"  {line}" for line in lines), banner, ""]))


def print_host_capabilities():
    """Three lines: root or not, how liveness is checked (ICMP mode), which ports — with the command to enable more."""
    from fleetops.services.monitoring.host import capability_lines, host_capabilities

    cap = host_capabilities()
    for line in capability_lines(cap):
        say(line)
    return cap


def ensure_demo_fleet(seed: int, liveness: str = "ping") -> None:
    from fleetops.services.inventory.demo import load_demo_fleet

    with session() as s:
        summary = load_demo_fleet(s, seed=seed, liveness=liveness)
    if summary:
        say(Msg("demo fleet loaded: %(sites)s sites, %(devices)s devices, %(certificates)s certificates",
                sites=summary.get("sites", 0), devices=summary.get("devices", 0),
                certificates=summary.get("certificates", 0)))
        if summary.get("crew"):
            say(Msg("demo crew (one per district, qualified for every job): %(names)s; set a password with "
                    "`fleetops set-password NAME` to sign in as one", names=", ".join(summary["crew"])))


def _wait_for_simulator(proc, url: str = "http://127.0.0.1:5081/faults", timeout_s: float = 60) -> None:
    import requests

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if requests.get(url, timeout=1).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    if proc.poll() is not None:
        say(Msg("simulator stopped at start-up (see its message above); continuing without it"), err=True)
    else:
        say(Msg("simulator not answering yet; starting the scheduler anyway"), err=True)


@click.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--demo/--no-demo", default=True, show_default=True, help="Load the demo fleet into an empty database.")
@click.option("--simulator/--no-simulator", default=True, show_default=True,
              help="Serve the fleet's devices from loopback (fleetops simulate).")
@click.option("--scheduler/--no-scheduler", default=True, show_default=True, help="Start the polling scheduler.")
@click.option("--seed", default=7, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
@click.pass_context
def run(ctx, host, port, demo, simulator, scheduler, seed, threads):
    """Set up the database and run the web UI with the scheduler and the simulated fleet."""
    from waitress import serve

    cap = print_host_capabilities()
    ctx.invoke(db_upgrade, revision="head")
    ensure_admin()
    if demo:
        # Without nftables the simulator cannot silence ICMP, so a demo loaded then is checked by TCP connect:
        # a simulated dead device closes its port and goes red, as it does with ping as root.
        ensure_demo_fleet(seed, "ping" if cap.nft else "tcp")
    children = []
    exe = [sys.executable, "-m", "fleetops.cli"]
    env = dict(os.environ)
    if simulator:
        children.append(subprocess.Popen(exe + ["simulate"]))
        # Poll only once the simulated agents answer, or the first cycle reports the whole fleet down.
        _wait_for_simulator(children[-1])
        if demo and "FLEETOPS_POLL_INTERVAL_S" not in env:
            # The demo polls every 30 s so a killed device shows as down within ~1.5 min (U2: the
            # contract allows 30 min; production keeps the 60 s default).
            env["FLEETOPS_POLL_INTERVAL_S"] = "30"
            say(Msg("demo: polling every 30 s (set FLEETOPS_POLL_INTERVAL_S to change)"))
    if scheduler:
        children.append(subprocess.Popen(exe + ["scheduler"], env=env))
    if get_app().config.get("TRAP_RECEIVER"):  # issue 17: the SNMP trap receiver, when configured
        children.append(subprocess.Popen(exe + ["traps"], env=env))

    def stop(*_):
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()

    signal.signal(signal.SIGTERM, lambda *_: (stop(), sys.exit(0)))
    say(Msg("fleetops: %(url)s  (Ctrl-C stops the web UI, scheduler and simulator)", url=f"http://{host}:{port}/"))
    try:
        app = get_app()
        app.config["BIND_HOST"] = host  # /metrics is served without a token only on a loopback address
        serve(app, host=host, port=port, threads=threads, ident="fleetops")
    except KeyboardInterrupt:
        pass
    finally:
        stop()


@click.command("scheduler")
def scheduler_cmd():
    """Run the scheduled jobs (polling, uptime sampling, SLA clocks, alerts) in this process."""
    from fleetops.scheduler import SingleSchedulerLock, build_scheduler, collect_jobs

    app = get_app()
    lock = SingleSchedulerLock(app)
    lock.acquire()
    sched = build_scheduler(app, lock)
    say(Msg("scheduler: %(jobs)s", jobs=", ".join(j.id for j in collect_jobs(app))))
    signal.signal(signal.SIGTERM, lambda *_: sched.shutdown(wait=False))
    try:
        sched.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        lock.release()


@click.command("set-password")
@click.argument("username")
@click.password_option(envvar="FLEETOPS_NEW_PASSWORD")
def set_password(username, password):
    """Set a user's password (asked twice, or FLEETOPS_NEW_PASSWORD)."""
    from fleetops.services import accounts

    with session() as s:
        accounts.set_password_of(s, username, password, actor="cli")
    say(Msg("password changed for %(name)s", name=username))
