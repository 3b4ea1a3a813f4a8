"""Benchmark: one full poll cycle (ping + one SNMP GET of every device) of 10,000 simulated devices, 5 % dead.

    sudo .venv/bin/python benchmarks/poll_cycle.py [--devices 10000] [--dead-pct 5] [--timeout 1.0]

Everything runs inside a network namespace this script creates and always deletes: the simulator
(its own process, nftables drops for the dead devices), our probes (probes.ping.ping_many and
probes.snmp get_many), then the peers on the same addresses: `fping -i 1` and net-snmp `snmpget`
run in parallel with `xargs -P`. Prints wall time, rates and CPU seconds (getrusage) for each.
"""
from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FIRST = ipaddress.IPv4Address("127.20.0.1")


def addresses(n: int) -> list[str]:
    """127.20.0.1 onwards, skipping .0 and .255 (like the demo fleet)."""
    out, a = [], int(FIRST)
    while len(out) < n:
        last = a & 0xFF
        if last not in (0, 255):
            out.append(str(ipaddress.IPv4Address(a)))
        a += 1
    return out


def fleet(n: int, dead_pct: float) -> tuple[list[dict], list[str]]:
    devices = [{"code": f"B{i:05d}-CAM1", "site": f"B{i // 4:05d}", "address": addr, "community": f"bench{i:05d}",
                "kind": "checkpoint_camera"} for i, addr in enumerate(addresses(n))]
    step = max(1, round(100 / dead_pct)) if dead_pct > 0 else 0
    dead = [d["code"] for i, d in enumerate(devices) if step and i % step == step // 2]
    return devices, dead


def cpu_self() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


# --- the simulator, in its own process --------------------------------------------------------
def serve(spec_path: str) -> None:
    from fleetops.simulator import Simulator
    from fleetops.simulator.agents import SimDevice

    spec = json.loads(Path(spec_path).read_text())
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, len(spec["devices"]) + 512), hard))
    devices = [SimDevice(d["code"], d["site"], d["address"], kind=d["kind"], community=d["community"])
               for d in spec["devices"]]
    sim = Simulator(devices, firewall=True, table="fleetops_bench", control_port=None, tick_s=5)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    sim.start()
    try:
        for code in spec["dead"]:
            sim.book.add("dead", device=code)
        sim.sync()
        print("ready", flush=True)
        while not stop:
            time.sleep(0.2)
    finally:
        sim.stop()
        r = resource.getrusage(resource.RUSAGE_SELF)
        print(json.dumps({"cpu_s": r.ru_utime + r.ru_stime, "answered": sim.fleet.answered}), flush=True)


# --- measurements -----------------------------------------------------------------------------
def measure(fn):
    c0, w0 = cpu_self(), time.monotonic()
    out = fn()
    return out, time.monotonic() - w0, cpu_self() - c0


def ours(devices, timeout, ping_conc, snmp_conc):
    from probes.ping import ping_many
    from probes.snmp import SnmpPoller, SnmpTarget

    targets = [(d["code"], d["address"]) for d in devices]
    snmp_targets = [SnmpTarget(d["code"], d["address"], community=d["community"], kind=d["kind"]) for d in devices]
    pings, ping_wall, ping_cpu = measure(lambda: ping_many(targets, timeout, ping_conc))

    async def snmp_cycle():
        poller = SnmpPoller()
        try:
            return await poller.get_many(snmp_targets, timeout=timeout, concurrency=snmp_conc)
        finally:
            poller.close()

    gets, snmp_wall, snmp_cpu = measure(lambda: asyncio.run(snmp_cycle()))
    oids = len(snmp_targets[0].oids())
    return {"ping": (pings, ping_wall, ping_cpu), "snmp": (gets, snmp_wall, snmp_cpu), "oids": oids}


def run_peer(argv, **kw):
    c0, w0 = cpu_children(), time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, **kw)
    return proc, time.monotonic() - w0, cpu_children() - c0


def fping_peer(devices, timeout, workdir):
    hosts = Path(workdir, "hosts.txt")
    hosts.write_text("\n".join(d["address"] for d in devices) + "\n")
    proc, wall, cpu = run_peer(["fping", "-a", "-q", "-i", "1", "-r", "0", "-t", str(int(timeout * 1000)),
                                "-f", str(hosts)])
    alive = len(proc.stdout.split())
    return alive, wall, cpu


def snmpget_peer(devices, timeout, oids, parallel, workdir):
    pairs = Path(workdir, "pairs.txt")
    pairs.write_text("".join(f"{d['community']} {d['address']}\n" for d in devices))
    script = (f"snmpget -v2c -t {timeout:g} -r 0 -On -Oq -c \"$0\" \"$1\" {' '.join(oids)} >/dev/null 2>&1 "
              "&& echo ok")
    env = dict(os.environ, MIBS="", MIBDIRS="")  # do not parse MIB files 10,000 times
    proc, wall, cpu = run_peer(["xargs", "-P", str(parallel), "-n", "2", "sh", "-c", script], stdin=open(pairs),
                               env=env)
    return proc.stdout.count("ok"), wall, cpu


def inside(args) -> None:
    from probes.snmp import SnmpTarget

    devices, dead = fleet(args.devices, args.dead_pct)
    n, n_dead = len(devices), len(dead)
    with tempfile.TemporaryDirectory(prefix="fo-bench-") as workdir:
        spec = Path(workdir, "spec.json")
        spec.write_text(json.dumps({"devices": devices, "dead": dead}))
        t0 = time.monotonic()
        sim = subprocess.Popen([sys.executable, __file__, "--serve", str(spec)], stdout=subprocess.PIPE, text=True,
                               cwd=ROOT)
        try:
            line = sim.stdout.readline().strip()
            if line != "ready":
                raise SystemExit(f"simulator did not start: {line!r}")
            start_s = time.monotonic() - t0
            r = ours(devices, args.timeout, args.ping_concurrency, args.snmp_concurrency)
            oids = SnmpTarget("x", "127.0.0.1", community="x", kind="checkpoint_camera").oids()
            peers = {}
            if shutil.which("fping"):
                peers["fping"] = fping_peer(devices, args.timeout, workdir)
            if shutil.which("snmpget") and not args.skip_snmpget:
                peers["snmpget"] = snmpget_peer(devices, args.timeout, oids, args.parallel, workdir)
        finally:
            sim.send_signal(signal.SIGTERM)
            rest = sim.communicate(timeout=60)[0].strip().splitlines()
        sim_stats = json.loads(rest[-1]) if rest else {}

    pings, ping_wall, ping_cpu = r["ping"]
    gets, snmp_wall, snmp_cpu = r["snmp"]
    cycle_wall, cycle_cpu = ping_wall + snmp_wall, ping_cpu + snmp_cpu
    ping_ok, snmp_ok = sum(x.ok for x in pings), sum(x.ok for x in gets)
    print(f"\npoll cycle benchmark: {n} simulated devices on 127.20.0.0/16…, {n_dead} dead "
          f"({args.dead_pct:g} %, dropped by nftables), timeout {args.timeout:g} s, one attempt each")
    print(f"simulator: started in {start_s:.1f} s, {sim_stats.get('cpu_s', float('nan')):.1f} CPU s in total "
          f"(its own process, not counted below)\n")
    print(f"{'':44}{'wall s':>8}{'per s':>10}{'CPU s':>8}{'cores':>7}  ok / expected")
    row = "{:44}{:8.2f}{:10.0f}{:8.2f}{:7.2f}  {} / {}"
    print(row.format(f"fleetops ping_many (c={args.ping_concurrency})", ping_wall, n / ping_wall, ping_cpu,
                     ping_cpu / ping_wall, ping_ok, n - n_dead))
    print(row.format(f"fleetops SNMP get_many (c={args.snmp_concurrency}, {r['oids']} OIDs)", snmp_wall,
                     n / snmp_wall, snmp_cpu, snmp_cpu / snmp_wall, snmp_ok, n - n_dead))
    print(row.format("fleetops full cycle (ping, then SNMP)", cycle_wall, 2 * n / cycle_wall, cycle_cpu,
                     cycle_cpu / cycle_wall, ping_ok + snmp_ok, 2 * (n - n_dead)))
    if "fping" in peers:
        alive, wall, cpu = peers["fping"]
        print(row.format("peer: fping -i 1 -r 0", wall, n / wall, cpu, cpu / wall, alive, n - n_dead))
    if "snmpget" in peers:
        okc, wall, cpu = peers["snmpget"]
        print(row.format(f"peer: snmpget via xargs -P {args.parallel}", wall, n / wall, cpu, cpu / wall, okc,
                         n - n_dead))
    verdict = "PASS" if cycle_wall < 60 and cycle_cpu / cycle_wall <= 1.0 else "FAIL"
    print(f"\ntarget: full cycle < 60 s using <= 1 core on average → {verdict} "
          f"({cycle_wall:.1f} s, {cycle_cpu / cycle_wall:.2f} cores)")
    if ping_ok != n - n_dead or snmp_ok != n - n_dead:
        print("WARNING: ok counts differ from the expected live devices (see above)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--devices", type=int, default=10000)
    ap.add_argument("--dead-pct", type=float, default=5.0)
    ap.add_argument("--timeout", type=float, default=1.0)
    ap.add_argument("--ping-concurrency", type=int, default=1000)
    ap.add_argument("--snmp-concurrency", type=int, default=1000)
    ap.add_argument("--parallel", type=int, default=64, help="snmpget processes at once (xargs -P)")
    ap.add_argument("--skip-snmpget", action="store_true", help="skip the (slow) net-snmp peer")
    ap.add_argument("--serve", help=argparse.SUPPRESS)
    ap.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        return serve(args.serve)
    if args.inside:
        return inside(args)
    if os.geteuid() != 0 or not shutil.which("nft") or not shutil.which("ip"):
        raise SystemExit("needs root with `ip` and `nft`: the benchmark runs in a network namespace it creates")
    from fleetops.simulator.faults import NetNamespace

    argv = [a for a in sys.argv[1:]]
    with NetNamespace("fo-bench") as ns:  # deleted on exit, Ctrl-C included
        print(f"network namespace {ns.name} (removed at the end)", flush=True)
        proc = subprocess.run(ns.argv(sys.executable, __file__, "--inside", *argv), cwd=ROOT)
    sys.exit(proc.returncode)


if __name__ == "__main__":
    main()
