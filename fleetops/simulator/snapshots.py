"""The simulated cameras' snapshot server: ISAPI-style pictures behind HTTP digest auth, real images, injectable image faults."""
from __future__ import annotations

import argparse
import hashlib
import logging
import random
import re
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np

from fleetops.config import PROJECT_ROOT
from probes.vision import imaging

log = logging.getLogger(__name__)

SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"
REALM = "fleetops-sim"
PATH_RE = re.compile(r"^/cam/(?P<code>[^/]+)/ISAPI/Streaming/channels/101/picture$")
FAULTS = ("blur", "dark", "glare", "colour_cast", "shifted", "frozen")  # image faults a camera can be given
# Real front views where the plate is legible and the front-seat faces visible under light jitter (checked with
# probes.vision.imaging), so a healthy simulated camera raises no finding by day or at night (Q2).
SCENES = ("faces/toll_front_01.png", "faces/toll_front_02.png", "faces/toll_front_03.png")
# Brightness steps between frames (consecutive frames always differ, so a healthy camera never looks frozen). Each
# scene at each step scores with its plate legible and its faces visible (tests/probes/test_snapshot_http.py
# checks every step), so the demo never raises a finding for a healthy camera.
JITTER_LEVELS = tuple(level for level in range(-8, 9) if level)


def degrade(bgr: np.ndarray, fault: str) -> np.ndarray:
    """A synthetic image fault (test helper, used by the snapshot server and the imaging tests): blur (dirty lens), dark (dead fill light), glare, cast, shifted."""
    if fault == "blur":
        k = max(5, (bgr.shape[1] // 40) | 1)
        return cv2.GaussianBlur(bgr, (k, k), 0)
    if fault == "dark":
        return cv2.convertScaleAbs(bgr, alpha=0.08, beta=0)
    if fault == "glare":
        out = bgr.astype(np.float32)
        h, w = bgr.shape[:2]
        yy, xx = np.mgrid[0:h, 0:w]
        blob = np.exp(-(((xx - w * 0.5) / (w * 0.35)) ** 2 + ((yy - h * 0.6) / (h * 0.35)) ** 2))
        out += (blob * 400.0)[:, :, None]
        return np.clip(out, 0, 255).astype(np.uint8)
    if fault == "colour_cast":
        out = bgr.astype(np.int16)
        out[:, :, 2] += 70  # red/magenta cast
        out[:, :, 1] -= 40
        return np.clip(out, 0, 255).astype(np.uint8)
    if fault == "shifted":
        h, w = bgr.shape[:2]
        m = cv2.getRotationMatrix2D((w / 2, h / 2), 12, 1.3)
        m[0, 2] += w * 0.2
        m[1, 2] += h * 0.15
        return cv2.warpAffine(bgr, m, (w, h), borderMode=cv2.BORDER_REFLECT)
    raise ValueError(f"unknown fault {fault!r}")




def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - RFC 2617 digest is MD5 by definition


def _parse_digest(header: str) -> dict:
    return {k: (v1 or v2) for k, v1, v2 in re.findall(r'(\w+)=(?:"([^"]*)"|([^\s,]+))', header)}


class SnapshotServer:
    """`SnapshotServer({"K105-CAM1": ("admin", "pw")}).start()`; `.set_fault(code, "blur")`; `.stop()`."""

    def __init__(self, devices: dict[str, tuple[str, str]], host: str = "127.0.0.1", port: int = 5082,
                 data_dir: Path | None = None):
        self.devices = dict(devices)
        self.host, self.port = host, port
        self.data_dir = Path(data_dir or SHARED_DATA)
        self.faults: dict[str, str] = {}
        self.requests = 0
        self._nonces: set[str] = set()
        self._last: dict[str, bytes] = {}
        self._levels: dict[str, int] = {}
        self._scenes: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- control
    def start(self) -> "SnapshotServer":
        self._server = ThreadingHTTPServer((self.host, self.port), self._handler_class())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]  # port 0 → the one the OS chose
        self._thread = threading.Thread(target=self._server.serve_forever, name="snapshot-server", daemon=True)
        self._thread.start()
        log.info("snapshot server on http://%s:%d devices=%d", self.host, self.port, len(self.devices))
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def url_for(self, code: str) -> str:
        return f"http://{self.host}:{self.port}/cam/{code}/ISAPI/Streaming/channels/101/picture"

    def set_fault(self, code: str, fault: str | None) -> None:
        if fault is not None and fault not in FAULTS:
            raise ValueError(f"unknown image fault {fault!r}; one of {', '.join(FAULTS)}")
        with self._lock:
            if fault is None:
                self.faults.pop(code, None)
            else:
                self.faults[code] = fault

    def add_device(self, code: str, username: str, password: str) -> None:
        with self._lock:
            self.devices[code] = (username, password)

    # -- images
    def _scene(self, code: str) -> np.ndarray:
        """The camera's view: one of the real images, chosen by its code; decoded once per image, not per camera."""
        rel = SCENES[int(hashlib.sha1(code.encode()).hexdigest(), 16) % len(SCENES)]
        with self._lock:
            if rel not in self._scenes:
                self._scenes[rel] = imaging.read_image_file(str(self.data_dir / rel))
            return self._scenes[rel]

    def picture(self, code: str) -> bytes:
        """A new frame: the camera's scene with light jitter (a live camera never repeats a frame) and its fault."""
        fault = self.faults.get(code)
        if fault == "frozen" and code in self._last:
            return self._last[code]
        # Light changes between frames; never the same level twice in a row, or the frame would really repeat.
        level = random.choice([v for v in JITTER_LEVELS if v != self._levels.get(code)])
        self._levels[code] = level
        frame = self._scene(code).astype(np.int16) + level
        frame = np.clip(frame, 0, 255).astype(np.uint8)
        if fault and fault != "frozen":
            frame = degrade(frame, fault)
        data = imaging.encode_jpeg(frame, 88)
        self._last[code] = data
        return data

    # -- HTTP
    def _check_auth(self, code: str, header: str, method: str, path: str) -> bool:
        if not header.lower().startswith("digest "):
            return False
        fields = _parse_digest(header[7:])
        user, pw = self.devices[code]
        if fields.get("username") != user or fields.get("nonce") not in self._nonces or fields.get("uri") != path:
            return False
        ha1 = _md5(f"{user}:{REALM}:{pw}")
        ha2 = _md5(f"{method}:{path}")
        if fields.get("qop") == "auth":
            expected = _md5(f"{ha1}:{fields['nonce']}:{fields.get('nc', '')}:{fields.get('cnonce', '')}:auth:{ha2}")
        else:
            expected = _md5(f"{ha1}:{fields['nonce']}:{ha2}")
        return secrets.compare_digest(expected, fields.get("response", ""))

    def _handler_class(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):  # quiet: the simulator logs summaries, not every GET
                return

            def handle(self):
                # A client that gives up (its timeout, a closed tab) mid-response is normal: one debug line,
                # no traceback on the console.
                try:
                    super().handle()
                except (ConnectionError, TimeoutError) as err:
                    self.close_connection = True
                    log.debug("snapshot client %s went away: %s", self.client_address[0], type(err).__name__)

            def _send(self, status: int, body: bytes, ctype: str = "text/plain; charset=utf-8", headers=None):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):  # noqa: N802 - http.server naming
                server.requests += 1
                match = PATH_RE.match(self.path)
                if not match or match["code"] not in server.devices:
                    return self._send(404, b"no such camera")
                code = match["code"]
                if not server._check_auth(code, self.headers.get("Authorization", ""), "GET", self.path):
                    nonce = secrets.token_hex(16)
                    with server._lock:
                        server._nonces.add(nonce)
                        if len(server._nonces) > 10000:
                            server._nonces.clear()
                            server._nonces.add(nonce)
                    challenge = f'Digest realm="{REALM}", qop="auth", nonce="{nonce}", algorithm=MD5'
                    return self._send(401, b"Unauthorized", headers={"WWW-Authenticate": challenge})
                return self._send(200, server.picture(code), "image/jpeg")

        return Handler


def main(argv=None) -> None:
    """Run the snapshot server alone: --device CODE:USER:PASSWORD (repeatable), --fault CODE:FAULT."""
    ap = argparse.ArgumentParser(description="Simulated camera snapshots (ISAPI picture URL, digest auth).")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=5082)
    ap.add_argument("--device", action="append", default=[], metavar="CODE:USER:PASSWORD")
    ap.add_argument("--fault", action="append", default=[], metavar="CODE:FAULT")
    args = ap.parse_args(argv)
    devices = {}
    for spec in args.device:
        code, _, rest = spec.partition(":")
        user, _, pw = rest.partition(":")
        if not (code and user and pw):
            ap.error(f"--device {spec!r}: expected CODE:USER:PASSWORD")
        devices[code] = (user, pw)
    server = SnapshotServer(devices, args.host, args.port)
    for spec in args.fault:
        code, _, fault = spec.partition(":")
        try:
            server.set_fault(code, fault)
        except ValueError as err:
            ap.error(str(err))
    server.start()
    print(f"serving {len(devices)} camera(s) on http://{args.host}:{server.port}/cam/<code>/ISAPI/Streaming/channels/101/picture",
          flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
