"""Benchmark: the monthly acceptance report (A2) for 10,000 devices with a year of outage history — building the
figures, writing XLSX and PDF — plus the dashboard and /metrics. Prints seconds and sizes; asserts nothing.

    .venv/bin/python benchmarks/reports_monthly.py [--devices 10000] [--month 2025-06]
        [--pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

SQLite runs in a temporary file; PostgreSQL (optional) in a fresh database created and dropped on that server.
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sqlalchemy import create_engine  # noqa: E402
from sqlalchemy.orm import sessionmaker  # noqa: E402

from uptime_report import build_history  # noqa: E402  (the monitoring benchmark's year of history)

from fleetops import wiring  # noqa: E402
from fleetops.services import reports  # noqa: E402
from _common import scratch_postgres  # noqa: E402  (benchmarks/ is on sys.path when run as a script)


def run(label: str, url: str, n: int, month: str) -> None:
    wiring.wire()  # parameter defaults (uptime target, report_top_n …) and the translation catalogues
    engine = create_engine(url)
    t = time.perf_counter()
    sizes = build_history(engine, n)
    print(f"[{label}] history built in {time.perf_counter() - t:.1f} s: {sizes}")
    Session = sessionmaker(bind=engine)
    with Session() as s:
        t = time.perf_counter()
        report = reports.monthly_report(s, month)
        t_build = time.perf_counter() - t
        t = time.perf_counter()
        xlsx = reports.to_xlsx(report)
        t_xlsx = time.perf_counter() - t
        t = time.perf_counter()
        pdf = reports.to_pdf(report)
        t_pdf = time.perf_counter() - t
        rows = sum(len(sec.rows) for sec in report.sections)
        print(f"[{label}] monthly {month}: figures {t_build:.2f} s ({rows} rows in {len(report.sections)} sections), "
              f"XLSX {t_xlsx:.2f} s ({len(xlsx) / 1e6:.1f} MB), PDF {t_pdf:.2f} s ({len(pdf) / 1e3:.0f} kB)")
        t = time.perf_counter()
        reports.dashboard(s)
        t_dash = time.perf_counter() - t
        t = time.perf_counter()
        body = reports.metrics_text(s)
        t_metrics = time.perf_counter() - t
        print(f"[{label}] dashboard {t_dash:.3f} s, /metrics {t_metrics:.3f} s ({len(body)} bytes)")
    engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=10000)
    ap.add_argument("--month", default="2025-06")
    ap.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        run("sqlite", f"sqlite:///{d}/bench.sqlite3", args.devices, args.month)
    if args.pg:
        with scratch_postgres(args.pg) as url:
            run("postgresql", url, args.devices, args.month)


if __name__ == "__main__":
    main()
