"""Benchmark: a probe agent's memory over many cycles — 10,000 simulated devices (5 % dead), each cycle the
agent's own loop (flush the spool, refresh the device list by ETag, ping + SNMP every device, push the batch),
RSS printed after each cycle. Issue 14 part 5: under 400 MB and flat over 30 cycles.

    sudo .venv/bin/python benchmarks/agent_memory.py [--devices 10000] [--cycles 30] [--cut 11-13]

Needs root, like poll_cycle.py: everything runs inside a network namespace this script creates and deletes: the
simulator in its own process (SNMP agents on 127.20.0.1…, nftables drops for the dead devices), the centre in its
own process (a real fleetops app on waitress with SQLite in a temp folder, the devices and the agent registered),
and the agent in this process (`fleetops.agent.runner.Agent`, what `fleetops agent` runs), so the RSS measured is
the agent's alone. During the `--cut` cycles the centre is unreachable (connection refused): the agent spools to
its SQLite file, then flushes when the centre is back. Cycles run back to back (the agent would wait
POLL_INTERVAL_S between them; waiting changes nothing in what is kept).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from poll_cycle import fleet  # noqa: E402  (the same simulated fleet and addresses)
from scheduler_memory import build_app, peak_mb, rss_mb  # noqa: E402


# --- the centre, in its own process ----------------------------------------------------------------------
def serve_centre(spec_path: str) -> None:
    import waitress

    from fleetops.db import session_scope
    from fleetops.services import agents

    spec = json.loads(Path(spec_path).read_text())
    folder = Path(spec["folder"])
    app = build_app(folder, spec["devices"], spec["interval"])
    with session_scope(app.extensions["fleetops.sessionmaker"]) as s:
        _a, token = agents.create_agent(s, "bench", districts=["天山区"], actor="bench")
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
    print(json.dumps({"port": server.effective_port, "token": token}), flush=True)
    signal.signal(signal.SIGTERM, lambda *_: server.close())
    try:
        server.run()
    except (OSError, ValueError):  # closed by SIGTERM
        pass


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cut_range(text: str) -> set[int]:
    if not text:
        return set()
    lo, _, hi = text.partition("-")
    return set(range(int(lo), int(hi or lo) + 1))


def inside(args) -> None:
    from fleetops import wiring
    from fleetops.agent.client import Centre
    from fleetops.agent.runner import Agent
    from fleetops.agent.spool import Spool

    wiring.wire()
    devices, dead = fleet(args.devices, args.dead_pct)
    cut = cut_range(args.cut)
    with tempfile.TemporaryDirectory(prefix="fo-agentmem-") as workdir:
        folder = Path(workdir)
        spec = folder / "spec.json"
        spec.write_text(json.dumps({"devices": devices, "dead": dead, "folder": str(folder),
                                    "interval": args.interval}))
        sim = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "poll_cycle.py"), "--serve", str(spec)],
                               stdout=subprocess.PIPE, text=True, cwd=ROOT)
        centre = subprocess.Popen([sys.executable, __file__, "--serve-centre", str(spec)], stdout=subprocess.PIPE,
                                  text=True, cwd=ROOT)
        try:
            if (line := sim.stdout.readline().strip()) != "ready":
                raise SystemExit(f"simulator did not start: {line!r}")
            hello = json.loads(centre.stdout.readline())
            url = f"http://127.0.0.1:{hello['port']}"
            client = Centre(url, hello["token"], timeout_s=600)
            spool = Spool(str(folder / "agent-spool.sqlite3"))
            said = []
            agent = Agent(client, spool, lambda m: said.append(str(m)))
            print(f"\nagent memory: {len(devices)} devices ({len(dead)} dead), {args.cycles} cycles, centre "
                  f"unreachable in cycles {args.cut or 'none'}")
            print(f"before the first cycle: RSS {rss_mb():.0f} MB\n")
            print(f"{'cycle':>5}{'cycle s':>9}{'results':>9}{'pushed':>8}{'spooled':>9}{'flushed':>9}{'spool':>8}"
                  f"{'RSS MB':>8}{'peak MB':>9}")
            series = []
            for cycle in range(1, args.cycles + 1):
                client.base = f"http://127.0.0.1:{closed_port()}" if cycle in cut else url
                t0 = time.monotonic()
                r = agent.cycle()
                took = time.monotonic() - t0
                rss = rss_mb()
                series.append(rss)
                print(f"{cycle:5d}{took:9.1f}{r['probed']:9d}{r['pushed']:8d}{r['spooled']:9d}{r['flushed']:9d}"
                      f"{r['depth']:8d}{rss:8.0f}{peak_mb():9.0f}", flush=True)
            client.close()
            spool.close()
        finally:
            for p in (sim, centre):
                p.send_signal(signal.SIGTERM)
                try:
                    p.communicate(timeout=60)
                except subprocess.TimeoutExpired:
                    p.kill()
    settled = series[min(9, len(series) - 1)]
    growth = (max(series[9:]) - settled) / settled * 100 if len(series) > 10 else float("nan")
    last = series[-10:]
    end_growth = (max(last) - settled) / settled * 100 if len(series) > 10 else float("nan")
    verdict = "PASS" if max(series) < 400 and end_growth < 5 else "FAIL"
    print(f"\ntarget: RSS < 400 MB and flat → {verdict} (max {max(series):.0f} MB, peak {peak_mb():.0f} MB; "
          f"the last ten cycles are {end_growth:+.1f} % over cycle 10's {settled:.0f} MB; the highest of cycles "
          f"10–{len(series)}, while the spool filled, {growth:+.1f} %)")
    print("peer: the scheduler at the same fleet (benchmarks/scheduler_memory.py), same target")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--devices", type=int, default=10000)
    ap.add_argument("--cycles", type=int, default=30)
    ap.add_argument("--dead-pct", type=float, default=5.0)
    ap.add_argument("--interval", type=int, default=60, help="POLL_INTERVAL_S the centre hands the agent")
    ap.add_argument("--cut", default="11-13", help="cycles during which the centre is unreachable (e.g. 11-13)")
    ap.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--serve-centre", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve_centre:
        return serve_centre(args.serve_centre)
    if args.inside:
        return inside(args)
    if os.geteuid() != 0 or not shutil.which("nft") or not shutil.which("ip"):
        raise SystemExit("needs root with `ip` and `nft`: the benchmark runs in a network namespace it creates")
    from fleetops.simulator.faults import NetNamespace

    with NetNamespace("fo-agentmem") as ns:
        print(f"network namespace {ns.name} (removed at the end)", flush=True)
        proc = subprocess.run(ns.argv(sys.executable, __file__, "--inside", *sys.argv[1:]), cwd=ROOT)
    sys.exit(proc.returncode)


if __name__ == "__main__":
    main()
