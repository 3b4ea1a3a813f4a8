"""Benchmark: tickets at fleet scale — opening N tickets from outage events, the supervisors' list, a crew's list,
one deadline sweep, and issuing parts one by one. Prints seconds.

    .venv/bin/python benchmarks/tickets.py [--tickets 2000] [--pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

PostgreSQL runs in a fresh database created and dropped on that server; pass --pg '' to skip it.
"""
import argparse
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy.orm import sessionmaker  # noqa: E402

from fleetops.db import make_engine  # noqa: E402
from fleetops.models import Base, Depot, Device, Site, User  # noqa: E402
from fleetops.models.base import utcnow  # noqa: E402
from fleetops.platform import events  # noqa: E402
from fleetops.services import spares, tickets  # noqa: E402
from _common import scratch_postgres  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

DISTRICTS = ["天山区", "沙依巴克区", "新市区", "水磨沟区"]


def timed(label, fn):
    t = time.perf_counter()
    out = fn()
    print(f"  {label:<44} {time.perf_counter() - t:7.3f} s")
    return out


def run(url: str, n: int) -> None:
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    S = sessionmaker(bind=engine, expire_on_commit=False)
    with S() as s:
        depot = Depot(name="一号驻点", latitude=43.8, longitude=87.6)
        s.add(depot)
        s.flush()
        crews = [User(username=f"crew{i}", password_hash="x", role="crew", district=DISTRICTS[i % 4],
                      depot_id=depot.id) for i in range(8)]
        s.add_all(crews)
        sites = [Site(code=f"K-{i:05d}", name=f"卡口{i}", district=DISTRICTS[i % 4], latitude=43.8 + (i % 50) / 100,
                      longitude=87.6 + (i % 70) / 100, key_site=i % 10 == 0, depot_id=depot.id) for i in range(n)]
        s.add_all(sites)
        s.flush()
        devices = [Device(code=f"K{i:05d}-CAM1", kind="checkpoint_camera", site_id=sites[i].id) for i in range(n)]
        s.add_all(devices)
        s.commit()
        ids = [d.id for d in devices]
        crew_id = crews[0].id
    now = utcnow()

    def open_all():
        with S() as s:
            for i, dev_id in enumerate(ids):
                at = now - timedelta(minutes=(i % 300))
                events.emit(s, "outage_opened", outage_id=i + 1, device_id=dev_id, started_at=at, detected_at=at)
            s.commit()

    timed(f"open {n} tickets from outage_opened", open_all)
    with S() as s:
        rows = timed("supervisors' list (all, overdue first)", lambda: tickets.list_tickets(s, limit=n))
        assert len(rows) == n
    with S() as s:
        crew = s.get(User, crew_id)
        mine = timed("one crew's list (my tickets)", lambda: tickets.my_tickets(s, crew))
        print(f"    ({len(mine)} tickets in the crew's district)")
    with S() as s:
        timed("ticket rows as JSON (fleetops tickets --json)",
              lambda: [tickets.ticket_row(t) for t in tickets.list_tickets(s, limit=n)])
    with S() as s:
        counts = timed("deadline sweep (check_deadlines)", lambda: tickets.check_deadlines(s, now=now + timedelta(hours=2)))
        s.commit()
        print(f"    ({counts})")
    with S() as s:
        pt = spares.create_part_type(s, "FL-01", "补光灯", actor="bench")
        loc = spares.create_location(s, "WH", "仓库", actor="bench")
        spares.receive(s, pt.id, loc.id, 10_000, actor="bench")
        s.commit()
        t_ids = [t.id for t in tickets.list_tickets(s, limit=200)]
        for tid in t_ids:
            t = tickets.get_ticket(s, tid)
            t.state = "repairing"
        s.commit()
        pt_id, loc_id = pt.id, loc.id

    def issue():
        for tid in t_ids:
            with S() as s:
                spares.issue_to_ticket(s, tid, pt_id, loc_id, 1, actor="bench", request_id=uuid.uuid4().hex)
                s.commit()

    timed(f"issue {len(t_ids)} parts, one transaction each", issue)
    engine.dispose()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tickets", type=int, default=2000)
    ap.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(f"SQLite, {args.tickets} sites/tickets")
        run(f"sqlite:///{tmp}/bench.sqlite3", args.tickets)
    if args.pg:
        with scratch_postgres(args.pg) as url:
            print(f"PostgreSQL, {args.tickets} sites/tickets")
            run(url, args.tickets)


if __name__ == "__main__":
    main()
