"""Fetch one snapshot from a camera: HTTP (digest or basic auth, ISAPI/Dahua style), RTSP (one frame), or an upload folder."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from requests.auth import HTTPBasicAuth, HTTPDigestAuth

from probes import imaging

MAX_SNAPSHOT_BYTES = 20 * 1024 * 1024
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


@dataclass
class SnapshotResult:
    """One attempt: `data` holds the JPEG/PNG bytes when ok; `detail` says why not, in words (never a secret)."""

    target: str
    ok: bool
    detail: str = ""
    data: bytes = b""
    elapsed_ms: float = 0.0
    source_name: str = ""  # the file taken from an upload folder

    def __repr__(self) -> str:  # never dump image bytes into a log
        return f"SnapshotResult(target={self.target!r}, ok={self.ok}, detail={self.detail!r}, bytes={len(self.data)})"


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

    def result(ok, detail="", data=b""):
        return SnapshotResult(target, ok, detail, data, round((time.monotonic() - start) * 1000, 1))

    auth = HTTPDigestAuth(username, password) if username else None
    try:
        with requests.Session() as http:
            resp = http.get(url, auth=auth, timeout=timeout_s, stream=True)
            challenge = resp.headers.get("WWW-Authenticate", "")
            if resp.status_code == 401 and username and challenge.lower().startswith("basic"):
                resp.close()
                resp = http.get(url, auth=HTTPBasicAuth(username, password), timeout=timeout_s, stream=True)
            if resp.status_code == 401:
                return result(False, "认证失败 (用户名或密码错误) / authentication failed: wrong user name or password")
            if resp.status_code != 200:
                return result(False, f"HTTP {resp.status_code} from {_safe_url(url)}")
            declared = resp.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                return result(False, f"图片过大 / snapshot too large ({int(declared) / 1e6:.1f} MB)")
            chunks, size = [], 0
            deadline = start + timeout_s
            for chunk in resp.iter_content(65536):
                size += len(chunk)
                if size > max_bytes:
                    return result(False, f"图片过大 / snapshot larger than {max_bytes / 1e6:.0f} MB")
                if time.monotonic() > deadline:
                    return result(False, f"超时 / timeout after {timeout_s:g} s while reading")
                chunks.append(chunk)
    except requests.exceptions.Timeout:
        return result(False, f"超时 / timeout after {timeout_s:g} s")
    except requests.exceptions.ConnectionError:
        return result(False, f"无法连接 / cannot connect to {_safe_url(url)}")
    except requests.exceptions.RequestException as err:
        return result(False, f"请求失败 / request failed: {type(err).__name__}")
    data = b"".join(chunks)
    if not data:
        return result(False, "相机返回空图片 / the camera returned an empty body")
    return result(True, "", data)


def fetch_folder(target: str, folder: str, max_bytes: int = MAX_SNAPSHOT_BYTES) -> SnapshotResult:
    """The newest image a camera uploaded into `folder` (FTP drop)."""
    start = time.monotonic()
    try:
        entries = [e for e in os.scandir(folder) if e.is_file() and e.name.lower().endswith(IMAGE_SUFFIXES)]
    except OSError as err:
        return SnapshotResult(target, False, f"无法读取上传目录 / cannot read the upload folder: {err.strerror}")
    if not entries:
        return SnapshotResult(target, False, "上传目录中没有图片 / no image in the upload folder")
    newest = max(entries, key=lambda e: (e.stat().st_mtime, e.name))
    if newest.stat().st_size > max_bytes:
        return SnapshotResult(target, False, f"图片过大 / {newest.name} is larger than {max_bytes / 1e6:.0f} MB")
    try:
        with open(newest.path, "rb") as fh:
            data = fh.read()
    except OSError as err:
        return SnapshotResult(target, False, f"无法读取 {newest.name} / cannot read it: {err.strerror}")
    return SnapshotResult(target, True, "", data, round((time.monotonic() - start) * 1000, 1), newest.name)


def fetch_rtsp(target: str, url: str, timeout_s: float = 5.0) -> SnapshotResult:
    start = time.monotonic()
    try:
        frame = imaging.grab_rtsp_frame(url, timeout_s)
        data = imaging.encode_jpeg(frame, 90)
    except imaging.ImageError as err:
        return SnapshotResult(target, False, f"{err} ({_safe_url(url)})")
    return SnapshotResult(target, True, "", data, round((time.monotonic() - start) * 1000, 1))


def fetch_snapshot(target: str, source: str, username: str = "", password: str = "", timeout_s: float = 5.0,
                   max_bytes: int = MAX_SNAPSHOT_BYTES) -> SnapshotResult:
    """One attempt at a snapshot from `source` (http(s)://, rtsp://, file:// or a folder path); never raises."""
    if not source:
        return SnapshotResult(target, False, "未配置抓拍地址 / no snapshot source configured")
    scheme = urlsplit(source).scheme.lower()
    if scheme in ("http", "https"):
        return fetch_http(target, source, username, password, timeout_s, max_bytes)
    if scheme in ("rtsp", "rtsps"):
        return fetch_rtsp(target, source, timeout_s)
    if scheme == "file":
        return fetch_folder(target, urlsplit(source).path, max_bytes)
    if scheme == "" and source.startswith("/"):
        return fetch_folder(target, source, max_bytes)
    return SnapshotResult(target, False, f"不支持的抓拍地址 / unsupported snapshot source scheme {scheme!r}")
