"""What every browser test shares: Debian's Chromium and its flags, the app served on a free loopback port, a
persistent browser profile per test, and the folder screenshots go to (FLEETOPS_ARTEFACTS, else the test's tmp)."""
from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"  # Debian's package: no browser is downloaded
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync"]
needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium package is not installed")


@contextmanager
def serving(app):
    """The app served by werkzeug in a thread on 127.0.0.1 and a free port; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)


def persistent_context(pw, profile: Path, width: int = 1280, height: int = 800, **options):
    """A headless Chromium with a fresh profile folder, Chinese locale and touch (a crew tablet by default)."""
    return pw.chromium.launch_persistent_context(
        str(profile), executable_path=CHROMIUM, headless=True, args=ARGS,
        viewport={"width": width, "height": height}, locale="zh-CN", has_touch=True, **options)


def artefacts_folder(tmp_path: Path, sub: str = "") -> Path:
    folder = Path(os.environ.get("FLEETOPS_ARTEFACTS") or tmp_path / "artefacts") / sub
    folder.mkdir(parents=True, exist_ok=True)
    return folder
