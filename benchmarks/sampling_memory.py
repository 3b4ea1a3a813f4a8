"""Benchmark: one scheduled snapshot-sampling run (the `quality_sample` job as the scheduler runs it: up to 200
cameras). Prints peak traced memory (tracemalloc, numpy included) and the process's peak RSS — the cause of the demo
scheduler's 1–1.6 GB — and how long another job had to wait for SQLite's write lock meanwhile: a writer thread takes
the lock as the other jobs do (BEGIN IMMEDIATE, one UPDATE, commit) every `--writer-every` seconds during the run.

    .venv/bin/python benchmarks/sampling_memory.py [--cameras 200] [--width 1920 --height 1080]
        [--writer-every 0.2] [--code DIR]

`--code DIR`: import fleetops from DIR (e.g. /work/main, the code before a change) for a before/after pair.
A loopback HTTP server (127.0.0.1) serves one JPEG to every camera; the database is SQLite in a temp folder.
"""
import argparse
import resource
import sys
import tempfile
import threading
import time
import tracemalloc
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def jpeg(width: int, height: int) -> bytes:
    import cv2
    import numpy as np

    rng = np.random.default_rng(7)
    img = cv2.GaussianBlur(rng.integers(0, 255, (height, width, 3), dtype=np.uint8), (5, 5), 0)
    return cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes()


def serve(data: bytes) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cameras", type=int, default=200)
    ap.add_argument("--width", type=int, default=1920)
    ap.add_argument("--height", type=int, default=1080)
    ap.add_argument("--writer-every", type=float, default=0.2)
    ap.add_argument("--code", default=None, help="import fleetops from this folder (a before/after pair)")
    args = ap.parse_args()
    if args.code:
        sys.path.insert(0, str(Path(args.code).resolve()))

    from sqlalchemy import text

    from fleetops import create_app, wiring
    from fleetops.db import session_scope
    from fleetops.models import Base, Device, Site
    from fleetops.platform import netpolicy, parameters
    from fleetops.platform.jobs import JobContext
    from fleetops.services.quality.jobs import job_sample

    wiring.wire()
    folder = Path(tempfile.mkdtemp(prefix="fo-sampling-"))
    app = create_app({"DATABASE_URL": f"sqlite:///{folder / 'db.sqlite3'}", "INSTANCE_PATH": str(folder),
                      "SECRET_KEY": "bench", "UPLOAD_DIR": str(folder / "uploads")})
    Base.metadata.create_all(app.extensions["fleetops.engine"])
    data = jpeg(args.width, args.height)
    server = serve(data)
    url = f"http://127.0.0.1:{server.server_address[1]}/snap.jpg"
    with session_scope(app.extensions["fleetops.sessionmaker"]) as s:
        site = Site(code="B001", name="B001 北门卡口", district="天山区", latitude=43.8, longitude=87.6)
        s.add(site)
        s.flush()
        for i in range(args.cameras):
            s.add(Device(code=f"B001-CAM{i:03d}", kind="checkpoint_camera", site_id=site.id, lifecycle="online",
                         snapshot_url=url))
        # The camera served on loopback is allowed, as the demo's are (contract parameter camera_networks).
        parameters.set_value(s, netpolicy.CAMERAS, netpolicy.PRIVATE + netpolicy.LOOPBACK, "benchmark")
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    factory = app.extensions["fleetops.sessionmaker"]
    waits, refused, done = [], [], threading.Event()

    def writer():  # another job writing meanwhile, as alerts_repeat or stock_minimum do
        while not done.wait(args.writer_every):
            asked = time.monotonic()
            try:
                with session_scope(factory, write=True) as s:
                    s.execute(text("UPDATE sites SET name = name WHERE code = 'B001'"))
                waits.append(time.monotonic() - asked)
            except Exception as err:  # noqa: BLE001 - "database is locked" after the busy timeout
                refused.append(f"{type(err).__name__}: {str(err)[:80]}")

    other = threading.Thread(target=writer, daemon=True)
    tracemalloc.start()
    started = time.monotonic()
    other.start()
    with app.app_context():
        job_sample(JobContext.from_app(app))
    done.set()
    other.join()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with session_scope(factory) as s:
        sampled = s.scalar(text("SELECT count(*) FROM quality_samples WHERE ok"))
        failed = s.scalar(text("SELECT count(*) FROM quality_samples WHERE NOT ok"))
    import fleetops

    print(f"code={Path(fleetops.__file__).parents[1]} cameras={args.cameras} frame={args.width}x{args.height} "
          f"jpeg_kb={len(data) // 1024} sampled_ok={sampled} failed={failed} duration_s={time.monotonic() - started:.1f}")
    print(f"peak traced MB={peak / 2**20:.0f}  peak RSS MB={rss:.0f} (before sampling {rss0:.0f})")
    waits.sort()
    if waits:
        print(f"other writer: {len(waits)} writes, wait for the lock p50={waits[len(waits) // 2] * 1000:.0f} ms "
              f"max={waits[-1] * 1000:.0f} ms; refused={len(refused)} {refused[:1]}")
    else:
        print(f"other writer: no write got through; refused={len(refused)} {refused[:1]}")
    server.shutdown()


if __name__ == "__main__":
    main()
