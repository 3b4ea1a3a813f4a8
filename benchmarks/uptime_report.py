"""Benchmark: the uptime report over one year for 10,000 devices with a realistic outage history (target < 2 s on
SQLite and on PostgreSQL), and ingesting one poll cycle of 10,000 results. Prints seconds.

    .venv/bin/python benchmarks/uptime_report.py [--devices 10000]
        [--pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

PostgreSQL runs in a fresh database created and dropped on that server; pass --pg '' to skip it.
"""
import argparse
import math
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, insert, text  # noqa: E402
from sqlalchemy.orm import sessionmaker  # noqa: E402

from fleetops.models import Base, Device, Site  # noqa: E402
from fleetops.models.monitoring import Outage, StatusInterval  # noqa: E402
from fleetops.models.service import ServicePeriod  # noqa: E402
from fleetops.config import DEFAULTS  # noqa: E402
from fleetops.services.monitoring import IngestConfig, ingest_results, uptime_rows  # noqa: E402
from _common import scratch_postgres  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

UTC = timezone.utc
YEAR = (datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))
KINDS = ["checkpoint_camera"] * 4 + ["epolice_camera"] * 2 + ["security_checkpoint", "speed_camera",
                                                               "fill_light", "switch"]
DISTRICTS = ["天山区", "沙依巴克区", "新市区", "水磨沟区", "头屯河区", "达坂城区", "米东区", "乌鲁木齐县"]


def epoch(dt: datetime) -> int:
    return int(dt.timestamp())


def build_history(engine, n_devices: int, seed: int = 7) -> dict:
    """Sites, devices (each one period in service), outages and status intervals for one year: ~10 outages per device (lognormal, median
    ~1.5 h), 15 % of them power/network (excluded), a few monitoring gaps, 5 % installed mid-year."""
    rng = random.Random(seed)
    Base.metadata.create_all(engine)
    n_sites = max(1, n_devices // 7)
    with engine.begin() as c:
        c.execute(insert(Site), [{"id": i + 1, "code": f"S{i + 1:05d}", "name": f"点位 {i + 1}",
                                  "district": DISTRICTS[i % len(DISTRICTS)], "latitude": 43.8, "longitude": 87.6,
                                  "road": "", "direction": "", "key_site": False, "timezone": DEFAULTS["TIMEZONE"],
                                  "notes": "", "version": 1, "created_at": YEAR[0]} for i in range(n_sites)])
        devices = []
        for i in range(n_devices):
            mid = rng.random() < 0.05
            devices.append({"id": i + 1, "code": f"D{i + 1:06d}", "name": "", "kind": KINDS[i % len(KINDS)],
                            "site_id": i % n_sites + 1, "lifecycle": "online",
                            "in_service_from": YEAR[0] + timedelta(days=rng.randint(30, 300)) if mid else None,
                            "created_at": YEAR[0], "version": 1, "status": "up", "notes": "", "vendor": "",
                            "model": "", "serial": "", "liveness_probe": "ping", "snmp_version": "",
                            "snmp_port": 161, "snmp_community": "", "snmp_v3_user": "",
                            "snmp_v3_auth_protocol": "", "snmp_v3_auth_key": "", "snmp_v3_priv_protocol": "",
                            "snmp_v3_priv_key": "", "snapshot_url": "", "snapshot_username": "",
                            "snapshot_password": ""})
        for chunk in range(0, len(devices), 2000):
            c.execute(insert(Device), devices[chunk:chunk + 2000])
        # Core inserts bypass the ORM flush hook: one open period in service per device, as the hook writes it.
        c.execute(insert(ServicePeriod), [{"device_id": d["id"], "start_at": d["in_service_from"], "end_at": None}
                                          for d in devices])
        outages, intervals, oid = [], [], 0
        y0, y1 = epoch(YEAR[0]), epoch(YEAR[1])
        for d in devices:
            t = epoch(d["in_service_from"]) if d["in_service_from"] else y0
            while t < y1:
                gap_up = int(rng.expovariate(1 / (36.5 * 86400)))
                up_end = min(y1, t + gap_up)
                if rng.random() < 0.1:  # a monitoring gap inside the up stretch: unknown time
                    g0 = t + (up_end - t) // 2
                    intervals.append({"device_id": d["id"], "start_s": t, "end_s": g0, "state": "up"})
                    intervals.append({"device_id": d["id"], "start_s": g0 + 1800, "end_s": up_end, "state": "up"})
                else:
                    intervals.append({"device_id": d["id"], "start_s": t, "end_s": up_end, "state": "up"})
                if up_end >= y1:
                    break
                down = max(180, int(rng.lognormvariate(math.log(5400), 1.0)))
                oid += 1
                cause = rng.choices(["device_fault", "power_utility", "network_provider", "unknown"],
                                    [80, 10, 5, 5])[0]
                end = min(y1, up_end + down)
                outages.append({"id": oid, "device_id": d["id"], "started_at": datetime.fromtimestamp(up_end, UTC),
                                "detected_at": datetime.fromtimestamp(up_end + 120, UTC),
                                "ended_at": datetime.fromtimestamp(end, UTC), "cause": cause,
                                "cause_reason": "通知" if cause in ("power_utility", "network_provider") else "",
                                "evidence_path": "", "cause_set_by": ""})
                intervals.append({"device_id": d["id"], "start_s": up_end, "end_s": end, "state": "down",
                                  "outage_id": oid})
                t = end
        for chunk in range(0, len(outages), 5000):
            c.execute(insert(Outage), outages[chunk:chunk + 5000])
        if c.dialect.name == "postgresql":  # ids were given explicitly: move the sequences past them
            for table in ("sites", "devices", "outages"):
                c.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                               f"(SELECT max(id) FROM {table}))"))
        for chunk in range(0, len(intervals), 10000):
            c.execute(insert(StatusInterval), [dict(outage_id=None, **iv) if "outage_id" not in iv else iv
                                               for iv in intervals[chunk:chunk + 10000]])
    return {"sites": n_sites, "devices": n_devices, "outages": len(outages), "intervals": len(intervals)}


def time_reports(engine) -> dict:
    Session = sessionmaker(bind=engine)
    out = {}
    with Session() as s:
        for by in ("fleet", "kind", "district", "site", "device"):
            t = time.perf_counter()
            rows = uptime_rows(s, *YEAR, by=by)
            out[by] = (time.perf_counter() - t, len(rows))
    return out


def time_ingest(engine, n_devices: int) -> list[float]:
    """Three poll cycles of n results each (1 % of devices failing), the way the scheduler sends them."""
    Session = sessionmaker(bind=engine)
    now = datetime.now(UTC).replace(microsecond=0)
    rng = random.Random(3)
    dead = set(rng.sample(range(1, n_devices + 1), max(1, n_devices // 100)))
    times = []
    for cycle in range(3):
        at = now - timedelta(minutes=3 - cycle)
        batch = [{"device": f"D{i:06d}", "probe": "ping", "ok": i not in dead, "at": at.isoformat(),
                  "metrics": {"rtt_ms": 0.5}} for i in range(1, n_devices + 1)]
        with Session() as s:
            t = time.perf_counter()
            ingest_results(s, batch, IngestConfig(), now=now)
            s.commit()
            times.append(time.perf_counter() - t)
    return times


def run(label: str, url: str, n: int) -> None:
    engine = create_engine(url)
    t = time.perf_counter()
    sizes = build_history(engine, n)
    print(f"[{label}] history built in {time.perf_counter() - t:.1f} s: {sizes}")
    for by, (secs, rows) in time_reports(engine).items():
        flag = "ok" if secs < 2 else "SLOW"
        print(f"[{label}] uptime report 1 year by={by:<8} rows={rows:<6} {secs:.3f} s  (target < 2 s: {flag})")
    cycles = time_ingest(engine, n)
    print(f"[{label}] ingest of one poll cycle of {n} results: " +
          ", ".join(f"{x:.2f} s" for x in cycles) + " (first cycle creates the per-device state)")
    engine.dispose()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=10_000)
    ap.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run("sqlite", f"sqlite:///{tmp}/bench.sqlite3", args.devices)
    if args.pg:
        with scratch_postgres(args.pg) as url:
            run("postgresql", url, args.devices)


if __name__ == "__main__":
    main()
