"""Benchmark: central ingest — replay poll cycles of a 10,000- and a 100,000-device fleet through `ingest_results`
on SQLite and on PostgreSQL, and print results/s (issue 14: ≥ 10,000 results/s on PostgreSQL, ≥ 5× the
ORM-per-result ingest it replaced).

    .venv/bin/python benchmarks/ingest.py [--devices 10000 100000] [--cycles 4] [--snmp-pct 20] [--flip-pct 0.1]
        [--pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres] [--code DIR] [--two]

One cycle = one ping result per device, plus an SNMP result (with sysUpTime) for `--snmp-pct` % of them, as the
scheduler or an agent sends them. 1 % of the devices are dead from the start (their outages open in cycle 3), and
in every cycle `--flip-pct` (0.1 %) of the devices change state (a live one fails, a failing one answers) — every
device about once a day, far more than a real fleet — so the change path runs beside the steady one. Cycle 1
creates every device's state and is shown apart; the figure is the median of the later cycles. `--code DIR` runs
the same harness against another checkout (e.g. main, for today's figure). Wall seconds and the ingest process's
CPU seconds are both printed, and on a local PostgreSQL the CPU seconds of the server process serving the ingest
(from /proc): on a shared machine the CPU figures are the steadier ones. `--two` adds a row for two
ingest processes at once on PostgreSQL, each with the devices of half the districts (as two agents push them):
they take turns only where their batches share a site (`services/monitoring/locks.py`), so here never.
PostgreSQL runs in a fresh database created and dropped on that server; pass --pg '' to skip it.
"""
import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
UTC = timezone.utc
KINDS = ["checkpoint_camera"] * 4 + ["epolice_camera"] * 2 + ["security_checkpoint", "speed_camera",
                                                               "fill_light", "switch"]
DISTRICTS = ["天山区", "沙依巴克区", "新市区", "水磨沟区", "头屯河区", "达坂城区", "米东区", "乌鲁木齐县"]


def build_fleet(engine, n: int, snmp_pct: float, seed: int = 14) -> set[int]:
    """n devices at n/7 sites (Core inserts); returns the ids of the devices that answer SNMP."""
    from sqlalchemy import insert

    from fleetops.models import Base, Device, Site

    rng = random.Random(seed)
    Base.metadata.create_all(engine)
    n_sites = max(1, n // 7)
    snmp = {i for i in range(1, n + 1) if rng.random() * 100 < snmp_pct}
    with engine.begin() as c:
        for lo in range(0, n_sites, 5000):
            c.execute(insert(Site), [{"id": i + 1, "code": f"S{i + 1:06d}", "name": f"点位 {i + 1}",
                                      "district": DISTRICTS[i % len(DISTRICTS)], "latitude": 43.8,
                                      "longitude": 87.6} for i in range(lo, min(n_sites, lo + 5000))])
        for lo in range(0, n, 5000):
            c.execute(insert(Device), [{"id": i, "code": f"D{i:06d}", "kind": KINDS[i % len(KINDS)],
                                        "site_id": (i - 1) % n_sites + 1, "lifecycle": "online",
                                        "liveness_probe": "ping", "snmp_version": "v2c" if i in snmp else "",
                                        "status": "unknown"} for i in range(lo + 1, min(n, lo + 5000) + 1)])
    return snmp


def cycles(n: int, snmp: set[int], count: int, start: datetime, flip_pct: float = 0.1, seed: int = 3):
    """Yield (cycle number, results) — the dicts the API and file replay send."""
    rng = random.Random(seed)
    failing = set(rng.sample(range(1, n + 1), max(1, n // 100)))
    boot = {i: rng.randint(1000, 10 ** 6) for i in snmp}
    for k in range(count):
        if k:
            for i in rng.sample(range(1, n + 1), max(1, round(n * flip_pct / 100))):
                failing ^= {i}
        at = start + timedelta(seconds=60 * k)
        stamp = at.isoformat()
        batch = []
        for i in range(1, n + 1):
            ok = i not in failing
            batch.append({"device": f"D{i:06d}", "probe": "ping", "ok": ok, "at": stamp,
                          "metrics": {"rtt_ms": 0.4} if ok else {}, "detail": "" if ok else "timeout"})
            if i in snmp:
                batch.append({"device": f"D{i:06d}", "probe": "snmp", "ok": ok, "at": stamp,
                              "metrics": {"sys_uptime_s": boot[i] + 60.0 * k} if ok else {}})
        yield k + 1, batch


def _backend_pid(session) -> int | None:
    """PostgreSQL on this machine: the server process serving the session, whose CPU time /proc tells (steadier than
    wall time on a shared machine); None elsewhere."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    pid = session.connection().connection.dbapi_connection.info.backend_pid
    return pid if os.path.exists(f"/proc/{pid}/stat") else None


def _cpu_of(pid: int | None) -> float:
    if not pid:
        return 0.0
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def run(label: str, url: str, n: int, count: int, snmp_pct: float, flip_pct: float) -> dict:
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    from fleetops.services.monitoring import IngestConfig, ingest_results

    from sqlalchemy import event

    engine = create_engine(url)
    t = time.perf_counter()
    snmp = build_fleet(engine, n, snmp_pct)
    sql = [0, 0.0]  # statements, seconds waiting for them (the database's share of the wall time)

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn, cursor, statement, params, context, executemany):
        conn.info["t0"] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn, cursor, statement, params, context, executemany):
        sql[0] += 1
        sql[1] += time.perf_counter() - conn.info.pop("t0", time.perf_counter())
    print(f"[{label} {n:,}] fleet built in {time.perf_counter() - t:.1f} s ({len(snmp):,} answer SNMP)", flush=True)
    Session = sessionmaker(bind=engine)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=count + 1)
    rates, firsts = [], None
    for k, batch in cycles(n, snmp, count, start, flip_pct):
        with Session() as s:
            sql[:] = [0, 0.0]
            pid = _backend_pid(s)
            t, c, db0 = time.perf_counter(), time.process_time(), _cpu_of(pid)
            summary = ingest_results(s, batch, IngestConfig(), now=start + timedelta(seconds=60 * k))
            s.commit()
            secs, cpu = time.perf_counter() - t, time.process_time() - c
            db_cpu = f", database CPU {_cpu_of(pid) - db0:.2f} s" if pid else ""
        rate = len(batch) / secs
        print(f"[{label} {n:,}] cycle {k}: {len(batch):,} results in {secs:.2f} s (ingest CPU {cpu:.2f} s{db_cpu}; "
              f"{sql[0]} statements, {sql[1]:.2f} s in them) = "
              f"{rate:,.0f} results/s "
              f"(stored {summary.stored:,}, outages opened {summary.outages_opened}, closed "
              f"{summary.outages_closed}, site incidents {summary.incidents_opened})", flush=True)
        if k == 1:
            firsts = rate
        else:
            rates.append(rate)
    engine.dispose()
    return {"first": firsts, "median": statistics.median(rates) if rates else float("nan"),
            "min": min(rates, default=float("nan")), "max": max(rates, default=float("nan"))}


def _half_worker(url: str, n: int, count: int, snmp_pct: float, flip_pct: float, half: int, start: datetime,
                 barrier, out, code: str) -> None:
    """One of two ingest processes: each cycle, the results of its half of the districts (as two agents would
    push them), started together with the other process at a barrier."""
    sys.path.insert(0, code)
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    from fleetops.services.monitoring import IngestConfig, ingest_results

    rng = random.Random(14)
    n_sites = max(1, n // 7)
    snmp = {i for i in range(1, n + 1) if rng.random() * 100 < snmp_pct}  # as build_fleet draws them
    mine = {f"D{i:06d}" for i in range(1, n + 1) if ((i - 1) % n_sites) % len(DISTRICTS) % 2 == half}
    engine = create_engine(url)
    Session = sessionmaker(bind=engine)
    for k, batch in cycles(n, snmp, count, start, flip_pct):
        batch = [r for r in batch if r["device"] in mine]
        barrier.wait()
        with Session() as s:
            t, c = time.perf_counter(), time.process_time()
            ingest_results(s, batch, IngestConfig(), now=start + timedelta(seconds=60 * k))
            s.commit()
            out.put((k, half, len(batch), time.perf_counter() - t, time.process_time() - c))
    engine.dispose()


def run_two(label: str, url: str, n: int, count: int, snmp_pct: float, flip_pct: float, code: str) -> dict:
    """Two ingest processes at once, each with the devices of half the districts (disjoint sites)."""
    import multiprocessing as mp

    from sqlalchemy import create_engine

    engine = create_engine(url)
    build_fleet(engine, n, snmp_pct)
    engine.dispose()
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=count + 1)
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_half_worker, args=(url, n, count, snmp_pct, flip_pct, h, start, barrier, out,
                                                    code)) for h in (0, 1)]
    for p in procs:
        p.start()
    got: dict[int, list] = {}
    for _ in range(2 * count):
        k, half, size, secs, cpu = out.get()
        got.setdefault(k, []).append((size, secs, cpu))
    for p in procs:
        p.join()
    rates = []
    for k in sorted(got):
        size = sum(x[0] for x in got[k])
        secs = max(x[1] for x in got[k])  # both started at the barrier: the cycle ends with the slower one
        rate = size / secs
        print(f"[{label} {n:,}] cycle {k}: {size:,} results by two processes in {secs:.2f} s (ingest CPU "
              f"{' + '.join(f'{x[2]:.2f}' for x in got[k])} s) = {rate:,.0f} results/s", flush=True)
        if k > 1:
            rates.append(rate)
    return {"first": sum(x[0] for x in got[1]) / max(x[1] for x in got[1]),
            "median": statistics.median(rates) if rates else float("nan"),
            "min": min(rates, default=float("nan")), "max": max(rates, default=float("nan"))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--cycles", type=int, default=4)
    ap.add_argument("--snmp-pct", type=float, default=20.0)
    ap.add_argument("--flip-pct", type=float, default=0.1, help="devices changing state per cycle, %%")
    ap.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--no-sqlite", action="store_true")
    ap.add_argument("--two", action="store_true",
                    help="also two ingest processes at once on PostgreSQL, each half the districts")
    ap.add_argument("--code", default=str(HERE.parent), help="the checkout whose ingest is measured")
    args = ap.parse_args()
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, os.path.abspath(args.code))
    from _common import scratch_postgres

    print(f"ingest benchmark: code from {os.path.abspath(args.code)}")
    table = []
    for n in args.devices:
        if not args.no_sqlite:
            with tempfile.TemporaryDirectory() as tmp:
                table.append(("SQLite", n, run("sqlite", f"sqlite:///{tmp}/bench.sqlite3", n, args.cycles,
                                               args.snmp_pct, args.flip_pct)))
        if args.pg:
            with scratch_postgres(args.pg) as url:
                table.append(("PostgreSQL", n, run("postgresql", url, n, args.cycles, args.snmp_pct,
                                                   args.flip_pct)))
            if args.two:
                with scratch_postgres(args.pg) as url:
                    table.append(("PG ×2 proc", n, run_two("postgresql ×2", url, n, args.cycles, args.snmp_pct,
                                                           args.flip_pct, os.path.abspath(args.code))))
    print(f"\n{'database':<12}{'devices':>9}{'cycle 1 /s':>12}{'steady /s (median)':>20}{'range':>20}")
    for db, n, r in table:
        print(f"{db:<12}{n:>9,}{r['first']:>12,.0f}{r['median']:>20,.0f}{r['min']:>10,.0f}–{r['max']:<9,.0f}")
    print("target (issue 14): ≥ 10,000 results/s on PostgreSQL in the steady cycles")


if __name__ == "__main__":
    main()
