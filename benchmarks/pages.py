"""Benchmark: the pages people open all day, at 10,000 devices, under load (issue 14 part 4).

Seeds a generated fleet of N devices (services/inventory/demo.py) with 40 days of outage history, 5 % of the
devices down now with their open tickets, closed tickets for the past outages and a day of online-rate samples,
then VACUUM ANALYZE on PostgreSQL (the seeding rewrites every device row three times; autovacuum keeps a live
database clean, so the dead rows left by seeding would measure the seeder, not the pages); starts the real server
(waitress, one process, 8 threads, on 127.0.0.1 with an ephemeral port); logs in each virtual user through the
login form (with its CSRF token) as the role the page is for; then, for each page, 20 concurrent users fetch it
--requests times each, in two ways, both printed:

- "people" — the line compared with the targets (p95 < 300 ms, app CPU < 25 ms per request): each user is a
  person who reads the page before opening the next one, a think time drawn uniformly from 1–3 s (Locust's
  `between(1, 3)`), and the 20 users start at random moments within the first 3 s instead of all at once. A
  supervisor or crew member looks at a page for longer than 3 s, so this is a busy office, not a quiet one:
  20 such users send about 10 requests a second.
- "stress" — the same 20 users with no pause at all (each fetches again the moment a page arrives): 20 requests
  always in flight. One Python process runs ~one core of Python (the GIL), so here p95 is about 20 × the CPU
  per request at best; it is printed beside the people line so nothing is hidden, not compared with the target.

Each line gives p50/p95/p99 latency and the server process's CPU per request (its utime+stime from /proc over the
run, divided by the requests), beside the figures measured before this work (PostgreSQL, 20 users back-to-back,
one waitress process, loopback): 总览 p95 3.1 s, 设备状态 4.1 s, ticket list 4.0 s, uptime by district 2.7 s,
uptime by device 2.9 s for one user (8 of 20 timed out under load).

    .venv/bin/python benchmarks/pages.py [--devices 10000] [--users 20] [--requests 10]
        [--pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres] [--no-sqlite] [--no-stress]
        [--pages uptime-district,uptime-device,...]   (short names: see --help)

PostgreSQL runs in a fresh database created and dropped on that server; pass --pg '' to skip it.
"""
import argparse
import math
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

UTC = timezone.utc
PASSWORD = "bench-pass-123"
HISTORY_DAYS = 40

# short name (for --pages) -> (label, path, role, the figure before this work: p95 at 20 users unless said otherwise)
PAGES = {
    "dashboard": ("总览 dashboard", "/reports/", "supervisor", "p95 3.1 s"),
    "status": ("设备状态 status", "/monitoring/", "supervisor", "p95 4.1 s"),
    "devices": ("device list", "/devices", "supervisor", "—"),
    "search": ("device search", "/devices?q=K1", "supervisor", "—"),
    "uptime-district": ("uptime by district", "/monitoring/uptime?by=district", "supervisor", "p95 2.7 s"),
    "uptime-device": ("uptime by device", "/monitoring/uptime?by=device", "supervisor",
                      "2.9 s (1 user); 8/20 timed out"),
    "uptime-device-p3": ("uptime by device p.3", "/monitoring/uptime?by=device&page=3", "supervisor", "—"),
    "mine": ("我的工单 my tickets", "/tickets/mine", "crew", "—"),
    "tickets": ("ticket list", "/tickets/", "supervisor", "p95 4.0 s"),
}


# ------------------------------------------------------------------------------------------ the data

def seed(url: str, instance: Path, n_devices: int, seed_: int = 7) -> dict:
    """The generated fleet through the demo's own writer, then history written with Core inserts."""
    from sqlalchemy import insert, select, update

    from fleetops import create_app
    from fleetops.models import Base, Device, Site
    from fleetops.models.monitoring import OnlineRateSample, Outage, StatusInterval
    from fleetops.models.service import ServicePeriod
    from fleetops.models.tickets import Ticket
    from fleetops.services import accounts
    from fleetops.services.inventory import demo

    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(instance), "SECRET_KEY": "bench"})
    engine = app.extensions["fleetops.engine"]
    Base.metadata.create_all(engine)
    rng = random.Random(seed_)
    now = datetime.now(UTC).replace(microsecond=0)
    h0 = now - timedelta(days=HISTORY_DAYS)
    S = app.extensions["fleetops.sessionmaker"]
    with S() as s:
        summary = demo.write_fleet(s, demo.generate_fleet(n_devices, seed_))
        s.commit()
        districts = sorted({d for (d,) in s.execute(select(Site.district))})
        accounts.create_user(s, "supervisor", "supervisor", PASSWORD, display_name="督导")
        crew, _tok = accounts.create_user(s, "crew", "crew", PASSWORD, display_name="王师傅", district=districts[0])
        s.commit()
        crew_id = crew.id
        s.execute(update(Device).where(Device.in_service_from.is_not(None)).values(in_service_from=h0))
        s.execute(update(ServicePeriod).values(start_at=h0))
        s.commit()
        devices = s.execute(select(Device.id, Device.site_id, Site.district).join(Site, Site.id == Device.site_id)
                            .where(Device.lifecycle != "planned")).all()

    outages, intervals, tickets, down_ids = [], [], [], []
    oid = 0
    t_end = int(now.timestamp())
    for dev_id, site_id, district in devices:
        t = int(h0.timestamp())
        down_now = rng.random() < 0.05
        while True:
            up_end = min(t_end, t + int(rng.expovariate(1 / (15 * 86400))))
            if down_now and up_end >= t_end:
                up_end = t_end - rng.randint(600, 6 * 3600)
            if rng.random() < 0.1 and up_end - t > 7200:  # a monitoring gap: unknown time
                g0 = t + (up_end - t) // 2
                intervals += [(dev_id, t, g0, "up", None), (dev_id, g0 + 1800, up_end, "up", None)]
            else:
                intervals.append((dev_id, t, up_end, "up", None))
            if up_end >= t_end:
                break
            oid += 1
            is_open = down_now and up_end > t_end - 6 * 3600 - 1
            end = t_end if is_open else min(t_end, up_end + max(180, int(rng.lognormvariate(math.log(5400), 1))))
            cause = rng.choices(["device_fault", "power_utility", "network_provider", "unknown"], [80, 10, 5, 5])[0]
            started = datetime.fromtimestamp(up_end, UTC)
            outages.append({"id": oid, "device_id": dev_id, "started_at": started,
                            "detected_at": started + timedelta(minutes=2),
                            "ended_at": None if is_open else datetime.fromtimestamp(end, UTC), "cause": cause})
            intervals.append((dev_id, up_end, end, "down", oid))
            state = rng.choice(["new", "dispatched", "on_the_way", "arrived", "repairing"]) if is_open else "closed"
            tickets.append({"device_id": dev_id, "site_id": site_id, "outage_id": oid, "source": "outage",
                            "category": "offline", "state": state, "opened_at": started + timedelta(minutes=2),
                            "detected_at": started, "notified_at": started + timedelta(minutes=3),
                            "arrive_by": started + timedelta(hours=2), "repair_by": started + timedelta(hours=6),
                            "arrived_at": started + timedelta(hours=1) if state in ("arrived", "repairing",
                                                                                    "closed") else None,
                            "closed_at": None if is_open else datetime.fromtimestamp(end, UTC),
                            "assignee_id": crew_id if (is_open and district == districts[0] and rng.random() < .5)
                            else None, "checklist": []})
            if is_open:
                down_ids.append((dev_id, started))
                break
            t = end
    with engine.begin() as c:
        for i in range(0, len(outages), 5000):
            c.execute(insert(Outage), outages[i:i + 5000])
        for i in range(0, len(intervals), 10000):
            c.execute(insert(StatusInterval), [{"device_id": d, "start_s": a, "end_s": b, "state": st,
                                                "outage_id": o} for d, a, b, st, o in intervals[i:i + 10000]])
        for i in range(0, len(tickets), 5000):
            c.execute(insert(Ticket), tickets[i:i + 5000])
        c.execute(update(Device).where(Device.lifecycle != "planned").values(status="up", status_since=h0))
        for dev_id, since in down_ids:
            c.execute(update(Device).where(Device.id == dev_id).values(status="down", status_since=since))
        n_in = len(devices)
        c.execute(insert(OnlineRateSample), [{"at": now - timedelta(minutes=5 * k), "in_service": n_in,
                                              "online": n_in - len(down_ids) - rng.randint(0, 20),
                                              "contract_in_service": n_in // 2,
                                              "contract_online": n_in // 2 - len(down_ids) // 2}
                                             for k in range(288)])
        if c.dialect.name == "postgresql":
            from sqlalchemy import text

            c.execute(text("SELECT setval(pg_get_serial_sequence('outages', 'id'), (SELECT max(id) FROM outages))"))
            c.execute(text("ANALYZE"))
    # The closed days rolled up as the scheduler's uptime_rollup job would have done them, day by day.
    from fleetops.services.monitoring.rollup import roll_up

    t = time.perf_counter()
    with app.app_context(), S() as s:
        rolled = roll_up(s)
        s.commit()
    print(f"rolled up {rolled.days} days, {rolled.rows} rows in {time.perf_counter() - t:.0f} s", flush=True)
    if engine.dialect.name == "postgresql":  # as autovacuum leaves a live database: no dead rows, fresh statistics
        from sqlalchemy import text

        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    return {**summary, "outages": len(outages), "intervals": len(intervals), "tickets": len(tickets),
            "down_now": len(down_ids)}


# ------------------------------------------------------------------------------------------ the server

def serve(url: str, instance: str, processes: int = 1) -> None:
    """The child process: the real app under waitress on 127.0.0.1, an ephemeral port printed on stdout. With
    `processes` > 1 the listening socket is bound first and shared by that many waitress processes (forked before
    the app exists, so each has its own engine and pool): the web processes are stateless (docs/scaling.md)."""
    import logging
    import signal
    import socket

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    children = []
    for _ in range(processes - 1):
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            _waitress(sock, url, instance)
            os._exit(0)
        children.append(pid)

    def stop(*_):
        for pid in children:
            os.kill(pid, signal.SIGTERM)
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    print(f"PORT {sock.getsockname()[1]} PIDS {' '.join(str(p) for p in [os.getpid(), *children])}", flush=True)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "Task queue depth" is the load we make on purpose
    _waitress(sock, url, instance)


def _waitress(sock, url: str, instance: str) -> None:
    import logging

    from waitress import create_server

    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    from fleetops import create_app

    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": instance, "SECRET_KEY": "bench"})
    app.config["BIND_HOST"] = "127.0.0.1"
    create_server(app, sockets=[sock], threads=8, ident="fleetops").run()


def cpu_s(pids) -> float:
    total = 0.0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


class DbCpu:
    """The CPU time of the PostgreSQL backends serving `url`'s database (the server on this machine: /proc), sampled
    every 0.1 s while running, so the pool's overflow connections that close mid-run are counted up to their last
    sample, and those opened during the run from their start. None for SQLite (the database runs inside the server process: its CPU is in CPU/req)."""

    def __init__(self, url: str):
        self.url = url if url.startswith("postgresql") else None

    def __enter__(self):
        self.first, self.last, self._stop = {}, {}, threading.Event()
        if self.url:
            from sqlalchemy import create_engine, text

            # autocommit: inside one transaction pg_stat_activity would repeat its first snapshot
            self._engine = create_engine(self.url, isolation_level="AUTOCOMMIT")
            self._conn = self._engine.connect()
            self._q = text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                           "AND pid <> pg_backend_pid()")
            self._sample(start=True)
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def _sample(self, start: bool = False):
        for (pid,) in self._conn.execute(self._q):
            try:
                c = cpu_s([pid])
            except (FileNotFoundError, ProcessLookupError):
                continue
            self.first.setdefault(pid, c if start else 0.0)  # a backend first seen later started during the run
            self.last[pid] = c

    def _run(self):
        while not self._stop.wait(0.1):
            self._sample()

    def __exit__(self, *exc):
        if self.url:
            self._stop.set()
            self._thread.join()
            self._sample()
            self._conn.close()
            self._engine.dispose()

    @property
    def seconds(self) -> float | None:
        return sum(self.last[p] - self.first[p] for p in self.last) if self.url else None


# ------------------------------------------------------------------------------------------ the load

def logged_in(base: str, role: str):
    import requests

    s = requests.Session()
    html = s.get(base + "/login", timeout=30).text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or \
        re.search(r'name="csrf_token" value="([^"]+)"', html)
    r = s.post(base + "/login", data={"username": role, "password": PASSWORD,
                                      "csrf_token": token.group(1) if token else ""},
               allow_redirects=False, timeout=30)
    assert r.status_code == 302, f"login as {role} failed: {r.status_code}"
    return s


THINK_S = (1.0, 3.0)  # a person's pause between two pages: uniform, as Locust's between(1, 3)


def load(base: str, sessions, path: str, per_user: int, timeout: float = 60,
         think: tuple[float, float] | None = None, rng_seed: int = 1) -> tuple[list[float], int]:
    """Each session (a user) fetches `path` per_user times; with `think`, it pauses uniformly within think[0]..[1]
    seconds between two fetches and starts at a random moment within the first think[1] seconds."""
    times, errors = [], [0]
    lock = threading.Lock()

    def user(s, rng):
        if think:
            time.sleep(rng.uniform(0, think[1]))
        for k in range(per_user):
            if think and k:
                time.sleep(rng.uniform(*think))
            t = time.perf_counter()
            try:
                r = s.get(base + path, timeout=timeout)
                ok = r.status_code == 200
            except Exception:  # a timeout counts as an error, not a latency
                ok = False
            dt = time.perf_counter() - t
            with lock:
                if ok:
                    times.append(dt)
                else:
                    errors[0] += 1

    threads = [threading.Thread(target=user, args=(s, random.Random(rng_seed * 1000 + i)))
               for i, s in enumerate(sessions)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return times, errors[0]


def q(sorted_times: list[float], p: float) -> float:
    if not sorted_times:
        return float("nan")
    return sorted_times[min(len(sorted_times) - 1, int(math.ceil(p / 100 * len(sorted_times))) - 1)]


def run(label: str, url: str, n: int, users: int, per_user: int, compare: str = "", stress: bool = True,
        processes: int = 1, pages: list[str] | None = None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        sizes = seed(url, Path(tmp), n)
        print(f"[{label}] seeded in {time.perf_counter() - t:.0f} s: {sizes}", flush=True)
        roots = [("", str(Path(__file__).resolve().parent.parent))]
        if compare:  # the same data served by another checkout (e.g. the code before this work), same conditions
            roots.append((f" (code of {compare})", compare))
        for suffix, root in roots:
            measure(label + suffix, url, tmp, root, users, per_user, stress, processes, pages)


def measure(label: str, url: str, tmp: str, root: str, users: int, per_user: int, stress: bool = True,
            processes: int = 1, pages: list[str] | None = None) -> None:
    proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--serve", url, tmp, root, str(processes)],
                            stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": root}, cwd=root)
    try:
        line = proc.stdout.readline().split()
        port, pids = int(line[1]), [int(p) for p in line[3:]]
        base = f"http://127.0.0.1:{port}"
        sessions = {role: [logged_in(base, role) for _ in range(users)] for role in ("supervisor", "crew")}
        print(f"[{label}] {'page':<22} {'load':<7} {'1 user':>8} {'p50':>8} {'p95':>8} {'p99':>8} {'CPU/req':>9}  "
              f"{'DB CPU/req':>10}  {'errors':>6}  before (PostgreSQL, 20 users back-to-back)")
        for name, path, role, before in (PAGES[p] for p in pages or PAGES):
            one, _e = load(base, sessions[role][:1], path, 2)  # warm up, and the one-user figure
            for mode in ("people", "stress") if stress else ("people",):
                c0 = cpu_s(pids)
                with DbCpu(url) as db:
                    times, errors = load(base, sessions[role], path, per_user,
                                         think=THINK_S if mode == "people" else None)
                c1 = cpu_s(pids)
                times.sort()
                done = len(times) + errors
                cpu_ms = 1000 * (c1 - c0) / max(1, done)
                if mode == "people":
                    flag = "ok" if times and q(times, 95) < 0.3 and cpu_ms < 25 else "SLOW"
                    verdict = f"{before}  (target p95 < 300 ms, CPU < 25 ms: {flag})"
                else:
                    verdict = "(no pause: not the target's load)"
                db_ms = "—" if db.seconds is None else f"{1000 * db.seconds / max(1, done):.1f}ms"
                print(f"[{label}] {name:<22} {mode:<7} {1000 * min(one or [math.nan]):7.0f}ms "
                      f"{1000 * q(times, 50):6.0f}ms {1000 * q(times, 95):6.0f}ms {1000 * q(times, 99):6.0f}ms "
                      f"{cpu_ms:7.1f}ms {db_ms:>10}  {errors:>6}  {verdict}", flush=True)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        if len(sys.argv) > 4:
            sys.path.insert(0, sys.argv[4])  # the checkout whose code serves (this one, or the one compared with)
        return serve(sys.argv[2], sys.argv[3], int(sys.argv[5]) if len(sys.argv) > 5 else 1)
    from _common import scratch_postgres  # benchmarks/ is on sys.path when run as a script

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=10_000)
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--requests", type=int, default=10, help="requests per user and page")
    ap.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--no-sqlite", action="store_true")
    ap.add_argument("--compare", default="", help="also serve the same data from this checkout (e.g. /work/main)")
    ap.add_argument("--no-stress", action="store_true", help="only the people line (think time), not back-to-back")
    ap.add_argument("--web-processes", type=int, default=1, help="waitress processes sharing the port (8 threads each)")
    ap.add_argument("--pages", default="", metavar="NAME,...",
                    help="only these pages, by short name: " + ", ".join(PAGES) + " (default: all)")
    args = ap.parse_args()
    pages = [p.strip() for p in args.pages.split(",") if p.strip()]
    unknown = [p for p in pages if p not in PAGES]
    if unknown:
        ap.error(f"unknown page(s) {', '.join(unknown)}; choose from {', '.join(PAGES)}")
    if args.pg:
        with scratch_postgres(args.pg) as url:
            run("postgresql", url, args.devices, args.users, args.requests, args.compare, not args.no_stress,
                args.web_processes, pages)
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            run("sqlite", f"sqlite:///{tmp}/bench.sqlite3", args.devices, args.users, args.requests, args.compare,
                not args.no_stress, args.web_processes, pages)


if __name__ == "__main__":
    main()
