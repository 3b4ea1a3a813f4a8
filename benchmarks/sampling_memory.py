"""Benchmark: memory of one scheduled snapshot-sampling run (the `quality_sample` job: up to 200 cameras),
the cause of the demo scheduler's 1–1.6 GB RSS. Prints peak traced memory (tracemalloc, numpy included) and
the process's peak RSS.

    .venv/bin/python benchmarks/sampling_memory.py [--cameras 200] [--width 1920 --height 1080]

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
    args = ap.parse_args()

    from fleetops import create_app, wiring
    from fleetops.db import session_scope
    from fleetops.models import Base, Device, Site
    from fleetops.services.quality.sampling import sample_cameras

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
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    tracemalloc.start()
    started = time.monotonic()
    with session_scope(app.extensions["fleetops.sessionmaker"]) as s:
        devices = s.query(Device).all()
        counts = sample_cameras(s, devices, store_dir=str(folder / "uploads"))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"cameras={args.cameras} frame={args.width}x{args.height} jpeg_kb={len(data) // 1024} "
          f"sampled={counts['sampled']} failed={counts['failed']} duration_s={time.monotonic() - started:.1f}")
    print(f"peak traced MB={peak / 2**20:.0f}  peak RSS MB={rss:.0f} (before sampling {rss0:.0f})")
    server.shutdown()


if __name__ == "__main__":
    main()
