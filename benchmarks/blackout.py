"""Benchmark: a blackout at scale (issue 14, U5) — 500 devices at 100 sites go dark in one poll cycle; the ingest of
that cycle opens the 100 site incidents, their 100 site tickets and 100 grouped site alerts in ONE transaction.
Target: under 5 s on PostgreSQL. Prints seconds, SQL statements (round trips) and what was opened.

    .venv/bin/python benchmarks/blackout.py [--sites 100] [--per-site 5] [--healthy 2000]
        [--pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres] [--no-sqlite] [--code=DIR]

Everything goes through the real path: `ingest_results` with the subscribers of `fleetops.wiring` connected
(tickets, alerts routed to a webhook channel — nothing is delivered). `--healthy` devices elsewhere answer in the
same cycles, as a city's fleet would. Cycles: three all-up cycles (the devices' state), then the sites stop
answering; with the default `down_after` of 3 the third dark cycle is the one that detects the blackout (timed).
PostgreSQL runs in a fresh database created and dropped on that server; pass --pg '' to skip it.
"""
import argparse
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
# --code=DIR measures another checkout (e.g. main, for the figure before issue 14); read before the imports below.
CODE = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--code=")),
            str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, CODE)

from sqlalchemy import event, func, select  # noqa: E402
from sqlalchemy.orm import sessionmaker  # noqa: E402

from fleetops import wiring  # noqa: E402
from fleetops.db import make_engine  # noqa: E402
from fleetops.models import Base, Cabinet, Depot, Device, Site, User  # noqa: E402
from fleetops.models.alerts import Alert, AlertDelivery  # noqa: E402
from fleetops.models.monitoring import Outage, SiteIncident  # noqa: E402
from fleetops.models.tickets import Ticket  # noqa: E402
from fleetops.services import alerts, tickets  # noqa: E402
from fleetops.services.monitoring import IngestConfig, ingest_results  # noqa: E402
from _common import scratch_postgres  # noqa: E402

QUALIFIED = True
DISTRICTS = ["天山区", "沙依巴克区", "新市区", "水磨沟区"]
UTC = timezone.utc


def build(S, n_sites: int, per_site: int, healthy: int) -> tuple[list[str], list[str]]:
    with S() as s:
        depot = Depot(name="一号驻点", latitude=43.8, longitude=87.6)
        s.add(depot)
        s.flush()
        admin = User(username="admin", password_hash="x", role="admin")
        s.add(admin)
        crew = [User(username=f"crew{i}", password_hash="x", role="crew", district=DISTRICTS[i % 4],
                     depot_id=depot.id) for i in range(8)]
        s.add_all(crew)
        s.flush()
        if QUALIFIED:  # as a real crew: the certificates a checkpoint job needs (T8), else every ticket escalates
            for member in crew:
                for kind in ("work_at_height", "electrician"):
                    tickets.add_qualification(s, member.id, kind, date(2099, 1, 1), valid_from=date(2020, 1, 1))
        sites = [Site(code=f"K{i:04d}", name=f"卡口{i}", district=DISTRICTS[i % 4], latitude=43.8 + i / 1000,
                      longitude=87.6, depot_id=depot.id) for i in range(n_sites + max(1, healthy // 5))]
        s.add_all(sites)
        s.flush()
        cabs = [Cabinet(site_id=site.id, code=f"{site.code}-CAB") for site in sites]
        s.add_all(cabs)
        s.flush()
        dark, up = [], []
        for i, (site, cab) in enumerate(zip(sites, cabs)):
            n = per_site if i < n_sites else 5
            for j in range(n):
                code = f"{site.code}-CAM{j + 1}"
                if i >= n_sites and len(up) >= healthy:
                    break
                s.add(Device(code=code, kind="checkpoint_camera", site_id=site.id, cabinet_id=cab.id,
                             lifecycle="online"))
                (dark if i < n_sites else up).append(code)
        s.flush()
        ch = alerts.save_channel(s, admin, name="crew-group", kind="webhook",
                                 settings={"url": "http://127.0.0.1:9/hook"})
        alerts.save_route(s, admin, channel_id=ch.id)
        s.commit()
    return dark, up


def run(label: str, url: str, n_sites: int, per_site: int, healthy: int) -> dict:
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    S = sessionmaker(bind=engine)
    dark, up = build(S, n_sites, per_site, healthy)
    statements = [0]

    @event.listens_for(engine, "before_cursor_execute")
    def _count(*_a, **_k):
        statements[0] += 1

    t0 = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=10)
    timing = {}
    for k in range(6):
        at = t0 + timedelta(minutes=k)
        is_dark = k >= 3
        batch = [{"device": c, "probe": "ping", "ok": not is_dark, "at": at.isoformat(), "metrics": {}}
                 for c in dark] + [{"device": c, "probe": "ping", "ok": True, "at": at.isoformat(),
                                    "metrics": {"rtt_ms": 1.0}} for c in up]
        statements[0] = 0
        with S() as s:
            t, c = time.perf_counter(), time.process_time()
            summary = ingest_results(s, batch, IngestConfig(), now=at + timedelta(seconds=5))
            s.commit()
            secs, cpu = time.perf_counter() - t, time.process_time() - c
        timing[k] = (secs, statements[0], summary, cpu)
    secs, n_sql, summary, cpu = timing[5]
    with S() as s:
        counts = {
            "outages": s.scalar(select(func.count()).select_from(Outage)),
            "site incidents": s.scalar(select(func.count()).select_from(SiteIncident)),
            "site tickets": s.scalar(select(func.count()).select_from(Ticket).where(Ticket.incident_id.is_not(None))),
            "device tickets": s.scalar(select(func.count()).select_from(Ticket).where(Ticket.device_id.is_not(None))),
            "site alerts": s.scalar(select(func.count()).select_from(Alert).where(Alert.kind == "site_dark")),
            "device alerts": s.scalar(select(func.count()).select_from(Alert).where(Alert.kind != "site_dark")),
            "messages queued": s.scalar(select(func.count()).select_from(AlertDelivery)
                                        .where(AlertDelivery.state == "pending")),
        }
    engine.dispose()
    quiet_cycle = timing[4]
    print(f"[{label}] {len(dark)} devices at {n_sites} sites dark, {len(up)} healthy devices beside them")
    print(f"[{label}]   a dark cycle before detection: {quiet_cycle[0]:.2f} s, {quiet_cycle[1]} statements")
    print(f"[{label}]   the detecting cycle (one transaction): {secs:.2f} s (CPU {cpu:.2f} s), {n_sql} SQL statements "
          f"({n_sql / max(1, n_sites):.1f} per site); incidents opened {summary.incidents_opened}, "
          f"outages {summary.outages_opened}")
    print(f"[{label}]   " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return {"secs": secs, "sql": n_sql, **counts}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sites", type=int, default=100)
    ap.add_argument("--per-site", type=int, default=5)
    ap.add_argument("--healthy", type=int, default=2000)
    ap.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--no-sqlite", action="store_true")
    ap.add_argument("--unqualified-crew", action="store_true",
                    help="crew without the job's certificates: every ticket escalates (one more alert each)")
    ap.add_argument("--code", default=CODE, help="the checkout measured (give it as --code=DIR)")
    args = ap.parse_args()
    global QUALIFIED
    QUALIFIED = not args.unqualified_crew
    print(f"blackout benchmark: code from {CODE}; crew {'without' if args.unqualified_crew else 'with'} the "
          f"job's certificates")
    wiring.wire()
    out = {}
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            out["SQLite"] = run("sqlite", f"sqlite:///{tmp}/bench.sqlite3", args.sites, args.per_site, args.healthy)
    if args.pg:
        with scratch_postgres(args.pg) as url:
            out["PostgreSQL"] = run("postgresql", url, args.sites, args.per_site, args.healthy)
    for db, r in out.items():
        verdict = "PASS" if r["secs"] < 5 and r["site tickets"] == args.sites and r["site alerts"] == args.sites \
            else "FAIL"
        print(f"{db}: blackout of {args.sites} sites in {r['secs']:.2f} s, {r['sql']} statements "
              f"(target < 5 s on PostgreSQL, one site ticket and one site alert each) → {verdict}")


if __name__ == "__main__":
    main()
