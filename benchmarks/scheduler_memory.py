"""Benchmark: the scheduler's memory over many poll cycles — 10,000 simulated devices (5 % dead), every job of
`fleetops.wiring.JOBS` run through `fleetops.scheduler.run_job` once per cycle, RSS printed after each cycle.

    sudo .venv/bin/python benchmarks/scheduler_memory.py [--devices 10000] [--cycles 30] [--dead-pct 5]

Needs root, like poll_cycle.py: everything runs inside a network namespace this script creates and deletes (the
simulator in its own process with nftables drops for the dead devices, SNMP agents on 127.20.0.1…). The database
is SQLite in a temp folder (the namespace has no route to the PostgreSQL server). Cycles run back to back (the
scheduler would wait POLL_INTERVAL_S between them; waiting changes nothing in what is kept). The target: RSS under
400 MB and flat (the last ten cycles within 5 % of the tenth).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from poll_cycle import fleet  # noqa: E402  (the same simulated fleet and addresses)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build_app(folder: Path, devices: list[dict], interval_s: int):
    from fleetops import create_app, wiring
    from fleetops.db import session_scope
    from fleetops.models import Base, Device, Site

    wiring.wire()
    app = create_app({"DATABASE_URL": f"sqlite:///{folder / 'db.sqlite3'}", "INSTANCE_PATH": str(folder),
                      "SECRET_KEY": "bench", "UPLOAD_DIR": str(folder / "uploads"),
                      "POLL_INTERVAL_S": interval_s})
    Base.metadata.create_all(app.extensions["fleetops.engine"])
    with session_scope(app.extensions["fleetops.sessionmaker"]) as s:
        sites = {}
        for d in devices:
            if d["site"] not in sites:
                sites[d["site"]] = Site(code=d["site"], name=f"{d['site']} 北门卡口", district="天山区",
                                        latitude=45.6, longitude=84.9)
                s.add(sites[d["site"]])
        s.flush()
        for d in devices:
            s.add(Device(code=d["code"], kind=d["kind"], site_id=sites[d["site"]].id, lifecycle="online",
                         ip_address=d["address"], snmp_version="v2c", snmp_community=d["community"]))
    return app


def inside(args) -> None:
    from fleetops.scheduler import collect_jobs, run_job

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("fleetops.services.monitoring.poll").setLevel(logging.INFO)  # its one line per cycle
    devices, dead = fleet(args.devices, args.dead_pct)
    with tempfile.TemporaryDirectory(prefix="fo-schedmem-") as workdir:
        folder = Path(workdir)
        spec = folder / "spec.json"
        spec.write_text(json.dumps({"devices": devices, "dead": dead}))
        sim = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "poll_cycle.py"), "--serve", str(spec)],
                               stdout=subprocess.PIPE, text=True, cwd=ROOT)
        try:
            if (line := sim.stdout.readline().strip()) != "ready":
                raise SystemExit(f"simulator did not start: {line!r}")
            app = build_app(folder, devices, args.interval)
            jobs = collect_jobs(app)
            print(f"\nscheduler memory: {len(devices)} devices ({len(dead)} dead), {args.cycles} cycles, "
                  f"jobs per cycle: {', '.join(j.id for j in jobs)}")
            print(f"before the first cycle: RSS {rss_mb():.0f} MB\n")
            print(f"{'cycle':>5}{'poll s':>8}{'other s':>9}{'RSS MB':>8}{'peak MB':>9}")
            series = []
            for cycle in range(1, args.cycles + 1):
                times = {}
                for job in jobs:
                    t0 = time.monotonic()
                    run_job(app, job)
                    times[job.id] = time.monotonic() - t0
                rss = rss_mb()
                series.append(rss)
                print(f"{cycle:5d}{times.get('poll', 0):8.1f}{sum(times.values()) - times.get('poll', 0):9.1f}"
                      f"{rss:8.0f}{peak_mb():9.0f}", flush=True)
        finally:
            sim.send_signal(signal.SIGTERM)
            sim.communicate(timeout=60)
    settled = series[min(9, len(series) - 1)]
    growth = (max(series[9:]) - settled) / settled * 100 if len(series) > 10 else float("nan")
    verdict = "PASS" if max(series) < 400 and growth < 5 else "FAIL"
    print(f"\ntarget: RSS < 400 MB and flat → {verdict} (max {max(series):.0f} MB, peak {peak_mb():.0f} MB; "
          f"cycles 10–{len(series)} grew {growth:+.1f} % over cycle 10's {settled:.0f} MB)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--devices", type=int, default=10000)
    ap.add_argument("--cycles", type=int, default=30)
    ap.add_argument("--dead-pct", type=float, default=5.0)
    ap.add_argument("--interval", type=int, default=60, help="POLL_INTERVAL_S the jobs see")
    ap.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.inside:
        return inside(args)
    if os.geteuid() != 0 or not shutil.which("nft") or not shutil.which("ip"):
        raise SystemExit("needs root with `ip` and `nft`: the benchmark runs in a network namespace it creates")
    from fleetops.simulator.faults import NetNamespace

    with NetNamespace("fo-schedmem") as ns:
        print(f"network namespace {ns.name} (removed at the end)", flush=True)
        proc = subprocess.run(ns.argv(sys.executable, __file__, "--inside", *sys.argv[1:]), cwd=ROOT)
    sys.exit(proc.returncode)


if __name__ == "__main__":
    main()
