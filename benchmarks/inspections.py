"""Benchmark: a monthly inspection plan over N devices — the first run of the generator makes N orders (each with
its ticket, history and audit rows), a repeated run finds them all; then one crew's route over the open orders.
Compared with the job's interval (600 s): the month's orders must appear well within one run. Prints seconds.

    .venv/bin/python benchmarks/inspections.py [--devices 2000] [--pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

PostgreSQL runs in a fresh database created and dropped on that server; pass --pg '' to skip it.
"""
import argparse
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy.orm import sessionmaker  # noqa: E402

from fleetops import wiring  # noqa: E402
from fleetops.db import make_engine  # noqa: E402
from fleetops.models import Base, Depot, Device, Site, User  # noqa: E402
from fleetops.services import inspections  # noqa: E402
from _common import scratch_postgres  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

JOB_INTERVAL_S = 600
AT = datetime(2026, 6, 2, 8, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def run(url: str, n: int) -> None:
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    S = sessionmaker(bind=engine, expire_on_commit=False)
    with S() as s:
        depot = Depot(name="一号驻点", district="天山区", latitude=43.8, longitude=87.6)
        s.add(depot)
        s.flush()
        crew = User(username="crew", password_hash="x", role="crew", district="天山区", depot_id=depot.id)
        s.add(crew)
        sites = [Site(code=f"K-{i:05d}", name=f"卡口{i}", district="天山区", latitude=43.8 + (i % 50) / 100,
                      longitude=87.6 + (i % 70) / 100, depot_id=depot.id) for i in range(max(1, n // 4))]
        s.add_all(sites)
        s.flush()
        s.add_all(Device(code=f"K{i:05d}-CAM", kind="checkpoint_camera", site_id=sites[i % len(sites)].id)
                  for i in range(n))
        inspections.load_preset(s, "checkpoint_om", actor="bench")
        s.commit()
        crew_id = crew.id
    for label in ("first run (makes the orders)", "repeated run (finds them)"):
        with S() as s:
            t = time.perf_counter()
            out = inspections.generate_due(s, now=AT)
            s.commit()
            took = time.perf_counter() - t
        print(f"  {label:<34} {took:7.2f} s  created={out['created']} existing={out['existing']}  "
              f"(job interval {JOB_INTERVAL_S} s)")
    with S() as s:
        t = time.perf_counter()
        route = inspections.my_route(s, s.get(User, crew_id), now=AT)
        print(f"  {'one crew route':<34} {time.perf_counter() - t:7.2f} s  stops={len(route['stops'])} "
              f"orders={route['count']}")
    engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--devices", type=int, default=2000)
    ap.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = ap.parse_args()
    wiring.wire()
    with tempfile.TemporaryDirectory() as d:
        print(f"SQLite, {args.devices} cameras, lens cleaning monthly:")
        run(f"sqlite:///{d}/bench.sqlite3", args.devices)
    if args.pg:
        with scratch_postgres(args.pg) as url:
            print(f"PostgreSQL, {args.devices} cameras:")
            run(url, args.devices)


if __name__ == "__main__":
    main()
