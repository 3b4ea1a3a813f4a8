"""The simulated integrated command platform (U7): an HTTP JSON endpoint on loopback serving pass-record counts per
camera per slot, as the real platform's statistics interface does, for the demo's connector to pull.

GET /api/pass-counts?from=ISO&to=ISO → {"data": [{"camera": code, "slot_start": ISO, "count": n}, …]} for every
complete slot in the window (at most 8 days). Counts are steady per camera and hour (so the same slot on earlier
days forms a baseline); a camera with a "no_data" fault (`fleetops fault no-data CODE`) reports 0 from the slot
before the fault on, so "online but no data" fires at the next pull. Optional basic auth."""
from __future__ import annotations

import base64
import json
import threading
import time
import zlib
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

MAX_WINDOW = timedelta(days=8, hours=2)


def count_for(code: str, slot_start: datetime) -> int:
    """A steady, camera- and hour-dependent count: 60–180 by day, a third of it at night (local hour, UTC+8)."""
    base = 60 + zlib.crc32(code.encode()) % 120
    hour = (slot_start.astimezone(timezone.utc).hour + 8) % 24
    return base if 7 <= hour < 22 else max(20, base // 3)


class PlatformServer:
    def __init__(self, cameras, no_data_since=lambda: {}, *, host: str = "127.0.0.1", port: int = 0,
                 interval_s: int = 3600, username: str = "", password: str = "", clock=time.time):
        self.cameras = sorted(cameras)
        self.no_data_since = no_data_since  # () -> {code: since (epoch s)}
        self.interval_s, self.username, self.password, self.clock = interval_s, username, password, clock
        self.httpd = ThreadingHTTPServer((host, port), _handler(self))
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/pass-counts"

    def start(self) -> "PlatformServer":
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="sim-platform", daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def counts(self, start: datetime, end: datetime) -> list[dict]:
        now = self.clock()
        end = min(end, datetime.fromtimestamp(now, timezone.utc))
        start = max(start, end - MAX_WINDOW)
        i = self.interval_s
        first = int(start.timestamp()) // i * i
        if first < start.timestamp():
            first += i
        silent = {code: int(since) // i * i - i for code, since in self.no_data_since().items()}
        out = []
        t = first
        while t + i <= end.timestamp():
            slot = datetime.fromtimestamp(t, timezone.utc)
            for code in self.cameras:
                n = 0 if code in silent and t >= silent[code] else count_for(code, slot)
                out.append({"camera": code, "slot_start": slot.isoformat(), "count": n})
            t += i
        return out


def _handler(server: PlatformServer):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_):
            pass

        def _send(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):  # noqa: N802
            parts = urlsplit(self.path)
            if parts.path != "/api/pass-counts":
                return self._send(404, {"error": "not found"})
            if server.username:
                want = "Basic " + base64.b64encode(f"{server.username}:{server.password}".encode()).decode()
                if self.headers.get("Authorization") != want:
                    return self._send(401, {"error": "unauthorised"})
            q = parse_qs(parts.query)
            try:
                start = datetime.fromisoformat(q["from"][0])
                end = datetime.fromisoformat(q["to"][0])
                if start.tzinfo is None or end.tzinfo is None:
                    raise ValueError
            except (KeyError, ValueError):
                return self._send(400, {"error": "from and to must be ISO times with a zone"})
            return self._send(200, {"data": server.counts(start, end)})

    return Handler
