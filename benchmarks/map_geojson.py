"""Benchmark (issue 13): the fleet map's reads at 10,000 devices — GET /api/v1/sites.geojson's query (one
aggregate SELECT), the tile-less layers and the wall screen's JSON — beside the 500 ms page budget of the
crawler check. Prints seconds (best of 5).

    .venv/bin/python benchmarks/map_geojson.py [--sites 2000] [--per-site 5] [--pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

PostgreSQL runs in a fresh database created and dropped on that server; pass --pg '' to skip it.
"""
import argparse
import random
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy.orm import sessionmaker  # noqa: E402

from fleetops.db import make_engine  # noqa: E402
from fleetops.models import Base, Device, Site  # noqa: E402
from fleetops.models.base import utcnow  # noqa: E402
from fleetops.models.monitoring import Outage  # noqa: E402
from fleetops.models.tickets import Ticket  # noqa: E402
from fleetops.platform import parameters  # noqa: E402
from fleetops.services import monitoring, reports  # noqa: E402
from fleetops.services.reports import geo  # noqa: E402
from _common import scratch_postgres  # noqa: E402

DISTRICTS = ["克拉玛依区", "独山子区", "白碱滩区", "乌尔禾区"]
ROADS = ["世纪大道", "迎宾大道", "准噶尔路", "友谊路", "昆仑路", "南新路"]
KINDS = ["checkpoint_camera", "epolice_camera", "fill_light", "switch", "cabinet"]
BUDGET_S = 0.5


def best(label, fn, n=5):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    print(f"  {label:<46} {min(times):7.3f} s   (page budget {BUDGET_S:.1f} s)")
    return out


def run(url: str, n_sites: int, per_site: int) -> None:
    parameters.register_defaults(monitoring.PARAMETERS)
    parameters.register_defaults(reports.PARAMETERS)
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    S = sessionmaker(bind=engine, expire_on_commit=False)
    rng = random.Random(13)
    now = utcnow()
    with S() as s:
        sites = [Site(code=f"K-{i:05d}", name=f"{rng.choice(ROADS)}与{rng.choice(ROADS)}路口{i}", road=rng.choice(ROADS),
                      district=DISTRICTS[i % 4], latitude=45.3 + rng.random() * 0.6,
                      longitude=84.6 + rng.random() * 0.9) for i in range(n_sites)]
        s.add_all(sites)
        s.flush()
        devices = []
        for i, site in enumerate(sites):
            for k in range(per_site):
                status = "down" if rng.random() < 0.02 else "up"
                devices.append(Device(code=f"K{i:05d}-{k}", kind=KINDS[k % len(KINDS)], site_id=site.id,
                                      ip_address=f"10.{i // 250}.{i % 250}.{k + 1}", lifecycle="online",
                                      status=status, status_since=now - timedelta(minutes=rng.randint(1, 600))))
        s.add_all(devices)
        s.flush()
        for d in devices:
            if d.status == "down":
                s.add(Outage(device_id=d.id, started_at=d.status_since, detected_at=d.status_since))
                s.add(Ticket(site_id=d.site_id, device_id=d.id, source="outage", category="offline", state="dispatched",
                             arrive_by=now - timedelta(minutes=rng.randint(-60, 60))))
        s.commit()
        print(f"  {len(sites)} sites, {len(devices)} devices, {sum(d.status == 'down' for d in devices)} down")
    with S() as s:
        best("sites.geojson (one aggregate query)", lambda: geo.sites_geojson(s))
        best("tile-less layers (hulls + road chains)", lambda: geo.map_layers(s))
        best("wall screen JSON (tiles, outages, overdue, sites)", lambda: geo.wall_data(s))
    engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sites", type=int, default=2000)
    ap.add_argument("--per-site", type=int, default=5)
    ap.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print("SQLite")
        run(f"sqlite:///{tmp}/bench.sqlite3", a.sites, a.per_site)
    if a.pg:
        print("PostgreSQL")
        with scratch_postgres(a.pg) as url:
            run(url, a.sites, a.per_site)


if __name__ == "__main__":
    main()
