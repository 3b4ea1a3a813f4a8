"""Benchmark: the inventory at 10,000 devices — list queries (filters, search, deep pages), import and export.

    .venv/bin/python benchmarks/inventory.py [--devices 10000] [--database-url URL]

Without --database-url a temporary SQLite file is used. With a PostgreSQL URL a fresh database
is created on that server and dropped afterwards. Prints one line per measurement (median of runs).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from fleetops.db import make_engine, make_sessionmaker  # noqa: E402
from fleetops.models import Base  # noqa: E402
from fleetops.services import inventory  # noqa: E402
from fleetops.services.inventory.demo import fleet_rows, generate_fleet, write_fleet  # noqa: E402
from fleetops.services.inventory import export_inventory, import_inventory  # noqa: E402


def timed(fn, runs=5):
    times, out = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000, out


def fresh_database(url: str | None, tmp: Path):
    if not url:
        return f"sqlite:///{tmp / 'bench.sqlite3'}", lambda: None
    name = f"fleetops_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    base, _, _ = url.rpartition("/")

    def drop():
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return f"{base}/{name}", drop


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--devices", type=int, default=10_000)
    ap.add_argument("--database-url", default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url, drop = fresh_database(args.database_url, Path(tmp))
        engine = make_engine(url)
        try:
            Base.metadata.create_all(engine)
            Session = make_sessionmaker(engine)
            fleet = generate_fleet(args.devices, seed=1)
            print(f"database={engine.dialect.name} devices={len(fleet.devices)} sites={len(fleet.sites)}")
            with Session() as s:
                t0 = time.perf_counter()
                write_fleet(s, fleet)
                s.commit()
                print(f"write_fleet_s={time.perf_counter() - t0:.2f}")
            with Session() as s:
                cases = {
                    "list_page1": dict(),
                    "list_last_page": dict(page=10**6),
                    "filter_kind_district": dict(kind="checkpoint_camera", district="克拉玛依区"),
                    "filter_key_site_lifecycle": dict(key_site="yes", lifecycle="online"),
                    "filter_status": dict(status="down"),
                    "search_text": dict(q="世纪大道"),
                    "search_ip": dict(q="127.20.17.33"),
                }
                for name, f in cases.items():
                    ms, page = timed(lambda: inventory.list_devices(s, per_page=50, **f))
                    print(f"{name}_ms={ms:.1f} total={page.total}")
                ms, page = timed(lambda: inventory.list_sites(s, per_page=50, district="克拉玛依区"))
                print(f"sites_district_ms={ms:.1f} total={page.total}")
                for fmt in ("csv", "xlsx"):
                    ms, data = timed(lambda: export_inventory(s, fmt), runs=1)
                    print(f"export_{fmt}_ms={ms:.0f} bytes={len(data)}")
                    ms, result = timed(lambda: import_inventory(s, data, f"x.{fmt}", "bench", dry_run=False), runs=1)
                    s.rollback()
                    print(f"reimport_{fmt}_unchanged_ms={ms:.0f} unchanged={result.unchanged} errors={len(result.errors)}")
        finally:
            engine.dispose()
            drop()
        # A first import of a 10,000-row CSV into an empty inventory.
        url, drop = fresh_database(args.database_url, Path(tmp) / "..")
        if not args.database_url:
            url = f"sqlite:///{Path(tmp) / 'bench2.sqlite3'}"
        engine = make_engine(url)
        try:
            Base.metadata.create_all(engine)
            Session = make_sessionmaker(engine)
            import csv
            import io
            rows = fleet_rows(fleet)
            buf = io.StringIO()
            w = csv.DictWriter(buf, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
            data = buf.getvalue().encode("gb18030")
            with Session() as s:
                ms, result = timed(lambda: import_inventory(s, data, "fleet.csv", "bench", dry_run=True), runs=1)
                print(f"first_import_dry_run_ms={ms:.0f} rows={result.rows} errors={len(result.errors)}")
                t0 = time.perf_counter()
                result = import_inventory(s, data, "fleet.csv", "bench")
                s.commit()
                print(f"first_import_ms={(time.perf_counter() - t0) * 1000:.0f} created={result.created}")
        finally:
            engine.dispose()
            drop()


if __name__ == "__main__":
    main()
