"""ICMP echo probes: one device with ping3, thousands at once on one non-blocking socket.

The socket is, in order: raw ICMP (root or CAP_NET_RAW), else the kernel's unprivileged ICMP datagram socket
(when net.ipv4.ping_group_range includes our group). `icmp_method()` says which one this process gets; when
neither, every result is `not_permitted` (a local failure) and callers fall back to a TCP connect (probes.tcp).
Each ok result says how it was measured in `metrics["method"]` ("icmp" or "icmp-dgram").
"""
from __future__ import annotations

import ipaddress
import os
import select
import socket
import struct
import time
from collections import deque
from datetime import datetime, timezone

import ping3

from probes.base import ConfigError, ProbeResult, failed

PROBE = "ping"
NOT_PERMITTED = ("ICMP not permitted: run as root, or allow unprivileged ping with "
                 "sysctl net.ipv4.ping_group_range")

_ECHO_REQUEST, _ECHO_REPLY = 8, 0
_SOL_RAW, _ICMP_FILTER = 255, 1  # linux/icmp.h: a bitmask of ICMP types a raw socket must NOT receive
_PAYLOAD = b"fleetops-ping..."  # 16 bytes, like ping's default minimum
MODES = ("auto", "raw", "dgram", "off")  # which ICMP sockets ping_many may use ("off": ICMP forbidden)
METHOD = {True: "icmp", False: "icmp-dgram"}  # raw? → the method shown with each result


def validate_address(address: str) -> str:
    """The canonical IPv4 address, or ValueError with a sentence (config time, STYLE §5)."""
    try:
        return str(ipaddress.IPv4Address(str(address).strip()))
    except (ipaddress.AddressValueError, ValueError):
        raise ConfigError("bad_address", f"not an IPv4 address: {address!r}", address=str(address)) from None


def _timeout_detail(timeout_s: float) -> str:
    return f"timeout after {timeout_s:g} s"


def ping_one(address: str, timeout_s: float = 1.0, target: str | None = None) -> ProbeResult:
    """One echo request with ping3; a dead or unreachable host is ok=False with a reason, never an exception."""
    address = validate_address(address)
    at = datetime.now(timezone.utc)
    try:
        rtt_ms = ping3.ping(address, timeout=timeout_s, unit="ms")
    except PermissionError:
        return failed(target or address, PROBE, "not_permitted", NOT_PERMITTED, at)
    except OSError as err:  # e.g. ENETUNREACH, EPERM from a firewall on the way out
        return _send_failed(target or address, at, err)
    except ping3.errors.PingError as err:  # only when ping3.EXCEPTIONS is set by someone else
        return failed(target or address, PROBE, "error", str(err), at, error=str(err))
    if rtt_ms is None:
        return failed(target or address, PROBE, "timeout", _timeout_detail(timeout_s), at, timeout_s=timeout_s)
    if rtt_ms is False:
        return failed(target or address, PROBE, "unreachable", "host unknown or unreachable", at)
    return ProbeResult(target or address, PROBE, True, at, {"rtt_ms": round(rtt_ms, 3)}, "")


def _send_failed(target: str, at: datetime, err: OSError) -> ProbeResult:
    text = f"send failed: {err.strerror or err}"
    if err.errno == 101:  # ENETUNREACH: this host's routing table has no route (a local problem)
        return failed(target, PROBE, "no_route", text, at)
    if err.errno == 113:  # EHOSTUNREACH: nobody answers ARP on the way — the device or its link
        return failed(target, PROBE, "unreachable", text, at)
    if err.errno in (1, 13):  # EPERM, EACCES: a firewall or missing permission on this host
        return failed(target, PROBE, "not_permitted", text, at)
    return failed(target, PROBE, "socket_error", text, at, error=str(err.strerror or err))


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def _echo_request(ident: int, seq: int) -> bytes:
    header = struct.pack("!BBHHH", _ECHO_REQUEST, 0, 0, ident, seq)
    csum = _checksum(header + _PAYLOAD)
    return struct.pack("!BBHHH", _ECHO_REQUEST, 0, csum, ident, seq) + _PAYLOAD


def _check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"ICMP mode must be one of {', '.join(MODES)}, not {mode!r}")
    return mode


def _raw_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    # Receive echo replies only: not our own requests looping back, nor other ICMP noise.
    sock.setsockopt(_SOL_RAW, _ICMP_FILTER, struct.pack("I", 0xFFFFFFFF & ~(1 << _ECHO_REPLY)))
    return sock


def _icmp_socket(mode: str) -> tuple[socket.socket, bool]:
    """(socket, raw?) for `mode`; PermissionError when this process may not open the ICMP socket(s) allowed."""
    if mode == "off":
        raise PermissionError(1, "ICMP switched off")
    if mode in ("auto", "raw"):
        try:
            return _raw_socket(), True
        except PermissionError:
            if mode == "raw":
                raise
    # EACCES when our group is outside net.ipv4.ping_group_range (Debian's default "1 0": nobody)
    return socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP), False


def icmp_method(mode: str = "auto") -> str | None:
    """"icmp" (raw socket), "icmp-dgram" (unprivileged datagram socket) or None: what this process may use."""
    try:
        sock, raw = _icmp_socket(_check_mode(mode))
    except OSError:
        return None
    sock.close()
    return METHOD[raw]


def _open_socket(rcvbuf: int, mode: str = "auto") -> tuple[socket.socket, bool]:
    """(socket, raw?) — raw when root or CAP_NET_RAW; else the kernel's unprivileged ICMP datagram socket."""
    sock, raw = _icmp_socket(mode)
    try:  # many replies in flight must not overflow the default ~200 KiB buffer
        sock.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_RCVBUFFORCE", 33), rcvbuf)
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setblocking(False)
    return sock, raw


def ping_many(targets: list[tuple[str, str]], timeout_s: float = 1.0, concurrency: int = 1000,
              rcvbuf: int = 8 << 20, mode: str = "auto") -> list[ProbeResult]:
    """One echo request to each (key, address), at most `concurrency` outstanding, one socket, one thread.

    Results come back in the order of `targets`. Each target gets its own `timeout_s` from the moment
    its request left, so a dead device never delays the others. An address that is not IPv4 gives that
    target a failed result ("bad address: …"); check configs with validate_address() when they are saved.
    `mode` limits the sockets tried (MODES); when none may be opened every result is `not_permitted`.
    """
    _check_mode(mode)
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    now_utc = datetime.now(timezone.utc)
    results: list[ProbeResult | None] = [None] * len(targets)
    addresses: list[str | None] = []
    for i, (key, addr) in enumerate(targets):
        try:
            addresses.append(validate_address(addr))
        except ValueError as err:  # one bad row must not sink the whole poll: that device fails, in words
            addresses.append(None)
            results[i] = failed(key, PROBE, "bad_address", f"bad address: {err}", now_utc, address=str(addr))
    if not targets:
        return []
    try:
        sock, raw = _open_socket(rcvbuf, mode)
    except PermissionError:
        return [r or failed(key, PROBE, "not_permitted", NOT_PERMITTED, now_utc) for r, (key, _) in zip(results, targets)]
    method = METHOD[raw]

    base_ident = (os.getpid() ^ int.from_bytes(os.urandom(2), "big")) & 0xFFFF
    inflight: dict[tuple[str, int, int], tuple[int, float]] = {}  # (addr, ident, seq) → (index, sent)
    deadlines: deque[tuple[float, tuple[str, int, int]]] = deque()  # FIFO = deadline order
    next_index = 0
    wall0, mono0 = time.time(), time.monotonic()

    def stamp(mono: float) -> datetime:
        return datetime.fromtimestamp(wall0 + (mono - mono0), timezone.utc)

    def finish(index: int, ok: bool, sent: float, metrics: dict, detail: str, reason: str = "", **params) -> None:
        results[index] = ProbeResult(targets[index][0], PROBE, ok, stamp(sent), metrics, detail, reason, params)

    poller = select.poll()
    poller.register(sock, select.POLLIN)
    try:
        while next_index < len(targets) or inflight:
            # Send while there is room; the kernel may push back (ENOBUFS) — then just wait a moment.
            while next_index < len(targets) and len(inflight) < concurrency:
                i = next_index
                if addresses[i] is None:
                    next_index += 1
                    continue
                ident = (base_ident + (i >> 16)) & 0xFFFF
                seq = i & 0xFFFF
                sent = time.monotonic()
                try:
                    sock.sendto(_echo_request(ident, seq), (addresses[i], 0))
                except (BlockingIOError, InterruptedError):
                    break
                except OSError as err:
                    if err.errno == 105:  # ENOBUFS: the queue is full, retry after reading
                        break
                    bad = _send_failed(targets[i][0], stamp(sent), err)
                    finish(i, False, sent, {}, bad.detail, bad.reason, **bad.params)
                    next_index += 1
                    continue
                next_index += 1
                key = (addresses[i], ident if raw else 0, seq)
                inflight[key] = (i, sent)
                deadlines.append((sent + timeout_s, key))
            # Wait for replies until the next deadline (or briefly, if sending is blocked).
            now = time.monotonic()
            wait = deadlines[0][0] - now if deadlines else 0.01
            if next_index < len(targets) and len(inflight) < concurrency:
                wait = min(wait, 0.005)
            if poller.poll(max(0, int(wait * 1000) + 1)):
                _drain(sock, raw, inflight, finish, method)
            now = time.monotonic()
            while deadlines and deadlines[0][0] <= now:
                _deadline, key = deadlines.popleft()
                entry = inflight.pop(key, None)
                if entry is not None:
                    finish(entry[0], False, entry[1], {}, _timeout_detail(timeout_s), "timeout", timeout_s=timeout_s)
    finally:
        sock.close()
    return results  # type: ignore[return-value]


def _drain(sock: socket.socket, raw: bool, inflight: dict, finish, method: str) -> None:
    """Read every reply waiting in the socket; match it to its request by address, id and sequence."""
    while True:
        try:
            packet, (src, _port) = sock.recvfrom(2048)
        except (BlockingIOError, InterruptedError):
            return
        got = time.monotonic()
        offset = (packet[0] & 0x0F) * 4 if raw else 0  # raw sockets deliver the IP header too
        if len(packet) < offset + 8:
            continue
        icmp_type, _code, _csum, ident, seq = struct.unpack_from("!BBHHH", packet, offset)
        if icmp_type != _ECHO_REPLY:
            continue
        entry = inflight.pop((src, ident if raw else 0, seq), None)
        if entry is None:  # someone else's ping, or a reply that came after its timeout
            continue
        index, sent = entry
        finish(index, True, sent, {"rtt_ms": round((got - sent) * 1000, 3), "method": method}, "")
