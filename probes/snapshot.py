"""Fetch one snapshot from a camera: HTTP (digest or basic auth, ISAPI/Dahua style), RTSP (one frame), or an upload folder."""
from __future__ import annotations

import os
import time
from urllib.parse import urlsplit

import requests
from requests.auth import HTTPBasicAuth, HTTPDigestAuth

from probes.base import ProbeResult
from probes.vision import imaging

MAX_SNAPSHOT_BYTES = 20 * 1024 * 1024
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


PROBE = "snapshot"
SnapshotResult = ProbeResult  # one result type for every probe (probes.base); `data` holds the image bytes


def _result(target: str, start: float, ok: bool, detail: str = "", data: bytes = b"", reason: str = "",
            source_name: str = "", **params) -> ProbeResult:
    metrics = {"elapsed_ms": round((time.monotonic() - start) * 1000, 1)}
    return ProbeResult(target, PROBE, ok, metrics=metrics, detail=detail, reason=reason, params=params, data=data,
                       source_name=source_name)


def _safe_url(url: str) -> str:
    """The URL without any user:password part, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def fetch_http(target: str, url: str, username: str = "", password: str = "", timeout_s: float = 5.0,
               max_bytes: int = MAX_SNAPSHOT_BYTES) -> SnapshotResult:
    """GET the snapshot URL; the server's 401 challenge decides digest or basic (one attempt, one answer)."""
    start = time.monotonic()

    def result(ok, detail="", data=b"", reason="", **params):
        return _result(target, start, ok, detail, data, reason, **params)

    auth = HTTPDigestAuth(username, password) if username else None
    try:
        with requests.Session() as http:
            # No redirects: the caller checked this URL's host, not wherever a 3xx would send us.
            resp = http.get(url, auth=auth, timeout=timeout_s, stream=True, allow_redirects=False)
            challenge = resp.headers.get("WWW-Authenticate", "")
            if resp.status_code == 401 and username and challenge.lower().startswith("basic"):
                resp.close()
                resp = http.get(url, auth=HTTPBasicAuth(username, password), timeout=timeout_s, stream=True,
                                allow_redirects=False)
            if resp.status_code == 401:
                return result(False, "authentication failed: wrong user name or password", reason="auth_failed")
            if resp.status_code != 200:
                return result(False, f"HTTP {resp.status_code} from {_safe_url(url)}", reason="http_error",
                              status=resp.status_code)
            declared = resp.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                return result(False, f"snapshot too large ({int(declared) / 1e6:.1f} MB)", reason="too_large",
                              mb=f"{max_bytes / 1e6:.0f}")
            chunks, size = [], 0
            deadline = start + timeout_s
            for chunk in resp.iter_content(65536):
                size += len(chunk)
                if size > max_bytes:
                    return result(False, f"snapshot larger than {max_bytes / 1e6:.0f} MB", reason="too_large",
                                  mb=f"{max_bytes / 1e6:.0f}")
                if time.monotonic() > deadline:
                    return result(False, f"timeout after {timeout_s:g} s while reading", reason="timeout",
                                  timeout_s=timeout_s)
                chunks.append(chunk)
    except requests.exceptions.Timeout:
        return result(False, f"timeout after {timeout_s:g} s", reason="timeout", timeout_s=timeout_s)
    except requests.exceptions.ConnectionError:
        return result(False, f"cannot connect to {_safe_url(url)}", reason="cannot_connect")
    except requests.exceptions.RequestException as err:
        return result(False, f"request failed: {type(err).__name__}", reason="request_failed", error=type(err).__name__)
    data = b"".join(chunks)
    if not data:
        return result(False, "the camera returned an empty body", reason="empty")
    return result(True, "", data)


def fetch_folder(target: str, folder: str, max_bytes: int = MAX_SNAPSHOT_BYTES) -> SnapshotResult:
    """The newest image a camera uploaded into `folder` (FTP drop)."""
    start = time.monotonic()
    try:
        entries = [e for e in os.scandir(folder) if e.is_file() and e.name.lower().endswith(IMAGE_SUFFIXES)]
    except OSError as err:
        return _result(target, start, False, f"cannot read the upload folder: {err.strerror}", reason="read_error",
                       error=str(err.strerror))
    if not entries:
        return _result(target, start, False, "no image in the upload folder", reason="no_image")
    newest = max(entries, key=lambda e: (e.stat().st_mtime, e.name))
    if newest.stat().st_size > max_bytes:
        return _result(target, start, False, f"{newest.name} is larger than {max_bytes / 1e6:.0f} MB", reason="too_large",
                       mb=f"{max_bytes / 1e6:.0f}")
    try:
        with open(newest.path, "rb") as fh:
            data = fh.read()
    except OSError as err:
        return _result(target, start, False, f"cannot read {newest.name}: {err.strerror}", reason="read_error",
                       error=f"{newest.name}: {err.strerror}")
    return _result(target, start, True, "", data, source_name=newest.name)


def fetch_rtsp(target: str, url: str, timeout_s: float = 5.0) -> SnapshotResult:
    start = time.monotonic()
    try:
        frame = imaging.grab_rtsp_frame(url, timeout_s)
        data = imaging.encode_jpeg(frame, 90)
    except imaging.ImageError as err:
        return _result(target, start, False, f"{err} ({_safe_url(url)})", reason=err.code, **err.params)
    return _result(target, start, True, "", data)


def fetch_snapshot(target: str, source: str, username: str = "", password: str = "", timeout_s: float = 5.0,
                   max_bytes: int = MAX_SNAPSHOT_BYTES) -> SnapshotResult:
    """One attempt at a snapshot from `source` (http(s)://, rtsp://, file:// or a folder path); never raises."""
    if not source:
        return _result(target, time.monotonic(), False, "no snapshot source configured", reason="no_source")
    scheme = urlsplit(source).scheme.lower()
    if scheme in ("http", "https"):
        return fetch_http(target, source, username, password, timeout_s, max_bytes)
    if scheme in ("rtsp", "rtsps"):
        return fetch_rtsp(target, source, timeout_s)
    if scheme == "file":
        return fetch_folder(target, urlsplit(source).path, max_bytes)
    if scheme == "" and source.startswith("/"):
        return fetch_folder(target, source, max_bytes)
    return _result(target, time.monotonic(), False, f"unsupported snapshot source scheme {scheme!r}",
                   reason="unsupported_source", scheme=scheme)
