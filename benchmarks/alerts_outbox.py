"""Benchmark: the alert outbox (A1) — raising N device-down alerts through the event path, then delivering them to a
webhook receiver on loopback while a second channel is dead (accepts, never answers; 1 s timeout). Prints alerts
raised per second, messages delivered per second, and how long the dead channel held each delivery round.

    .venv/bin/python benchmarks/alerts_outbox.py [--alerts 2000] [--workers 8]

Everything runs on 127.0.0.1 in a temporary SQLite database; asserts nothing.
"""
import argparse
import socket
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, func, select  # noqa: E402
from sqlalchemy.orm import sessionmaker  # noqa: E402

from fleetops import wiring  # noqa: E402
from fleetops.models import Base, Cabinet, Device, Site, User  # noqa: E402
from fleetops.models.alerts import AlertDelivery  # noqa: E402
from fleetops.platform import events, parameters  # noqa: E402
from fleetops.services import alerts  # noqa: E402


class _Hook(BaseHTTPRequestHandler):
    count = 0

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        _Hook.count += 1
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *_):
        pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--alerts", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=8)
    args = ap.parse_args()
    wiring.wire()  # the event subscriptions (outage_opened → alerts) are connected here, not by importing
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    silent = socket.socket()  # the dead channel: a listening socket that never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(4096)
    with tempfile.TemporaryDirectory() as d:
        engine = create_engine(f"sqlite:///{d}/bench.sqlite3")
        Base.metadata.create_all(engine)
        s = sessionmaker(bind=engine, expire_on_commit=False)()
        admin = User(username="admin", role="admin", password_hash="x")
        s.add(admin)
        ok = alerts.save_channel(s, admin, name="hook", kind="webhook",
                                 settings={"url": f"http://127.0.0.1:{server.server_address[1]}/h"})
        dead = alerts.save_channel(s, admin, name="dead", kind="webhook",
                                   settings={"url": f"http://127.0.0.1:{silent.getsockname()[1]}/h", "timeout_s": 1})
        for ch in (ok, dead):
            alerts.save_route(s, admin, channel_id=ch.id)
        parameters.set_value(s, "alerts.group_hold_s", 0, admin)
        sites = [Site(code=f"S{i:04d}", name=f"点位{i}", district="天山区", latitude=43.8, longitude=87.6)
                 for i in range(args.alerts // 4 + 1)]
        s.add_all(sites)
        s.flush()
        s.add_all([Cabinet(site_id=x.id, code=f"{x.code}-C") for x in sites])
        devices = [Device(code=f"D{i:05d}", kind="checkpoint_camera", site_id=sites[i // 4].id,
                          lifecycle="online", status="down") for i in range(args.alerts)]
        s.add_all(devices)
        s.commit()
        now = datetime.now(timezone.utc)
        t = time.perf_counter()
        for i, dev in enumerate(devices):
            events.emit(s, "outage_opened", outage_id=i + 1, device_id=dev.id, started_at=now, detected_at=now)
        s.commit()
        t_raise = time.perf_counter() - t
        print(f"raised {args.alerts} alerts ({2 * args.alerts} outbox messages) in {t_raise:.2f} s "
              f"= {args.alerts / t_raise:.0f} alerts/s")
        t = time.perf_counter()
        rounds, held = 0, []
        while _Hook.count < args.alerts:
            r0 = time.perf_counter()
            alerts.deliver_due(s, now=now + timedelta(seconds=1), limit=200, workers=args.workers)
            held.append(time.perf_counter() - r0)
            rounds += 1
        t_send = time.perf_counter() - t
        pending = s.scalar(select(func.count()).select_from(AlertDelivery).where(AlertDelivery.state == "pending"))
        print(f"delivered {_Hook.count} messages to the live webhook in {t_send:.2f} s over {rounds} rounds "
              f"= {_Hook.count / t_send:.0f} msg/s (workers={args.workers}); dead channel: {pending} pending, "
              f"backing off; a round took {min(held):.2f}–{max(held):.2f} s")
        s.close()
        engine.dispose()
    server.shutdown()
    silent.close()


if __name__ == "__main__":
    main()
