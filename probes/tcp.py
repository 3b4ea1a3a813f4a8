"""TCP connect probes: liveness where ICMP is not allowed (no root, no ping_group_range, or blocked on the way).

A device is alive when its port (e.g. HTTP 80, RTSP 554) completes the TCP handshake; the connection is closed at
once, nothing is sent. Thousands at once on non-blocking sockets with a bounded window, one thread. Each ok result
says how it was measured in `metrics["method"]` ("tcp:554"). Needs no privilege.
"""
from __future__ import annotations

import errno
import selectors
import socket
import time
from datetime import datetime, timezone

from probes.base import ConfigError, ProbeResult, failed
from probes.ping import validate_address

PROBE = "tcp"


def validate_port(port) -> int:
    try:
        value = int(port)
    except (TypeError, ValueError):
        value = 0
    if isinstance(port, bool) or not 1 <= value <= 65535:
        raise ConfigError("bad_port", f"not a TCP port (1-65535): {port!r}", port=str(port))
    return value


def method(port: int) -> str:
    return f"tcp:{port}"


def _failure(key: str, at: datetime, port: int, err: int, probe: str) -> ProbeResult:
    text = f"connect to port {port} failed: {errno.errorcode.get(err, err)}"
    if err == errno.ECONNREFUSED:
        return failed(key, probe, "refused", text, at, port=port)
    if err == errno.ENETUNREACH:
        return failed(key, probe, "no_route", text, at, port=port)
    if err in (errno.EHOSTUNREACH, errno.EHOSTDOWN):
        return failed(key, probe, "unreachable", text, at, port=port)
    if err in (errno.EACCES, errno.EPERM):
        return failed(key, probe, "not_permitted", text, at, port=port)
    if err == errno.ETIMEDOUT:
        return failed(key, probe, "timeout", text, at, port=port)
    return failed(key, probe, "socket_error", text, at, error=errno.errorcode.get(err, str(err)), port=port)


def connect_many(targets: list[tuple[str, str, int]], timeout_s: float = 1.0, concurrency: int = 256,
                 probe: str = PROBE) -> list[ProbeResult]:
    """One TCP connect to each (key, address, port), at most `concurrency` in flight; results in `targets` order.

    A refused port is `refused`, silence is `timeout`; an address that is not IPv4 or a bad port fails that
    target only (`bad_address`, `bad_port`). `probe` names the results (a ping-liveness device measured by TCP
    keeps its "ping" results)."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    results: list[ProbeResult | None] = [None] * len(targets)
    checked: list[tuple[str, int] | None] = []
    now_utc = datetime.now(timezone.utc)
    for i, (key, addr, port) in enumerate(targets):
        try:
            checked.append((validate_address(addr), validate_port(port)))
        except ConfigError as err:
            checked.append(None)
            results[i] = failed(key, probe, err.code, str(err), now_utc, **err.params)
    wall0, mono0 = time.time(), time.monotonic()

    def stamp(mono: float) -> datetime:
        return datetime.fromtimestamp(wall0 + (mono - mono0), timezone.utc)

    sel = selectors.DefaultSelector()
    inflight: dict[int, tuple[int, socket.socket, float]] = {}  # fd → (index, socket, sent)
    next_index = 0
    try:
        while next_index < len(targets) or inflight:
            while next_index < len(targets) and len(inflight) < concurrency:
                i = next_index
                next_index += 1
                if checked[i] is None:
                    continue
                key, (addr, port) = targets[i][0], checked[i]
                sent = time.monotonic()
                try:
                    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                except OSError as err:  # EMFILE and the like: this host's problem
                    results[i] = _failure(key, stamp(sent), port, err.errno or 0, probe)
                    continue
                sock.setblocking(False)
                err = sock.connect_ex((addr, port))
                if err == 0:
                    results[i] = ProbeResult(key, probe, True, stamp(sent), _ok_metrics(sent, port), "")
                    sock.close()
                elif err in (errno.EINPROGRESS, errno.EAGAIN):
                    inflight[sock.fileno()] = (i, sock, sent)
                    sel.register(sock, selectors.EVENT_WRITE)
                else:
                    results[i] = _failure(key, stamp(sent), port, err, probe)
                    sock.close()
            if not inflight:
                continue
            oldest = min(sent for _i, _s, sent in inflight.values())
            wait = max(0.0, oldest + timeout_s - time.monotonic())
            for sk, _ev in sel.select(wait):
                i, sock, sent = inflight.pop(sk.fd)
                sel.unregister(sock)
                err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                port = checked[i][1]
                if err == 0:
                    results[i] = ProbeResult(targets[i][0], probe, True, stamp(sent), _ok_metrics(sent, port), "")
                else:
                    results[i] = _failure(targets[i][0], stamp(sent), port, err, probe)
                sock.close()
            now = time.monotonic()
            for fd, (i, sock, sent) in list(inflight.items()):
                if now - sent >= timeout_s:
                    del inflight[fd]
                    sel.unregister(sock)
                    sock.close()
                    results[i] = failed(targets[i][0], probe, "timeout", f"timeout after {timeout_s:g} s",
                                        stamp(sent), timeout_s=timeout_s)
    finally:
        for _i, sock, _sent in inflight.values():
            sock.close()
        sel.close()
    return results  # type: ignore[return-value]


def _ok_metrics(sent: float, port: int) -> dict:
    return {"rtt_ms": round((time.monotonic() - sent) * 1000, 3), "method": method(port)}
