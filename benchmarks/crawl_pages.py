"""Benchmark: every page a person reaches, as each role, on the demo-sized fleet (issue 13: "every page under
500 ms at the demo's size") — the crawl of tests/e2e/test_crawl_pages.py, timed here because tests never time.

    .venv/bin/python benchmarks/crawl_pages.py [--pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

The demo fleet (600 devices) with five cameras down for 40 minutes (outages, tickets, alerts), in a fresh SQLite
file (and a scratch PostgreSQL database with --pg). Each role signs in; the crawl visits one page per kind of URL
from the menu and the links on each page, twice (the first visit warms templates and caches); the second visit's
time per page is printed: the slowest pages, the median, and how many are over the 500 ms budget. In-process
(the Flask test client): the app's own time, without a network hop.
"""
import argparse
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BUDGET_S = 0.5
PASSWORD = "bench-Pw-2026"


class TimedClient:
    """A Flask test client that remembers how long each GET took."""

    def __init__(self, client):
        self.client, self.times, self.ok = client, {}, 0

    def get(self, url, **kw):
        t = time.perf_counter()
        resp = self.client.get(url, **kw)
        self.times[url] = time.perf_counter() - t
        self.ok += resp.status_code == 200
        return resp


def build(url: str, instance: str):
    from sqlalchemy import select

    from fleetops import create_app
    from fleetops.models import Base, Device
    from fleetops.models.base import utcnow
    from fleetops.models.tickets import Ticket
    from fleetops.services import accounts
    from fleetops.services.inventory import demo
    from fleetops.services.monitoring import ingest_results

    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": instance, "SECRET_KEY": "bench",
                      "WTF_CSRF_ENABLED": False, "UPLOAD_DIR": instance + "/uploads"})
    Base.metadata.create_all(app.extensions["fleetops.engine"])
    with app.extensions["fleetops.sessionmaker"]() as s:
        demo.load_demo_fleet(s)
        s.commit()
        down = list(s.scalars(select(Device).where(Device.kind == "checkpoint_camera").order_by(Device.code).limit(5)))
        for role in ("admin", "supervisor", "crew"):
            accounts.create_user(s, role, role, PASSWORD, district=down[0].site.district if role == "crew" else "")
        now = utcnow().replace(microsecond=0)
        rows = [{"device": d.code, "probe": "ping", "ok": i < 10, "at": (now - timedelta(minutes=50 - i)).isoformat(),
                 "metrics": {"rtt_ms": 2.0} if i < 10 else {}, "detail": ""} for d in down for i in range(15)]
        ingest_results(s, rows)
        s.commit()
        ticket_id = s.scalar(select(Ticket.id).order_by(Ticket.id))
    return app, ticket_id


def measure(label: str, url: str, instance: str) -> None:
    from tests.e2e.test_crawl_pages import ROLES, ROUND_PAGES, crawl

    app, ticket_id = build(url, instance)
    times, ok = {}, 0
    for role in ROLES:
        client = app.test_client()
        client.post("/login", data={"username": role, "password": PASSWORD})
        start = ["/", f"/tickets/{ticket_id}", "/account", *ROUND_PAGES[role]]
        crawl(client, start)  # warm
        timed = TimedClient(client)
        crawl(timed, start)
        times.update({f"[{role}] {u}": t for u, t in timed.times.items()})
        ok += timed.ok
    ordered = sorted(times.items(), key=lambda kv: -kv[1])
    over = [k for k, t in ordered if t > BUDGET_S]
    print(f"{label}: {len(times)} pages (role × kind of page, {ok} answered 200, the rest redirects); median {statistics.median(times.values()) * 1000:.0f} ms, "
          f"slowest {ordered[0][1] * 1000:.0f} ms; over the {BUDGET_S * 1000:.0f} ms budget: {len(over)}")
    for key, t in ordered[:8]:
        print(f"    {t * 1000:6.0f} ms  {key}")
    app.extensions["fleetops.engine"].dispose()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pg", default="", help="also on a scratch database of this PostgreSQL server")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        measure("SQLite", f"sqlite:///{tmp}/crawl.db", tmp)
    if args.pg:
        from _common import scratch_postgres  # benchmarks/ is on sys.path when run as a script

        with tempfile.TemporaryDirectory() as tmp, scratch_postgres(args.pg) as url:
            measure("PostgreSQL", url, tmp)


if __name__ == "__main__":
    main()
