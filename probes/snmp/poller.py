"""SNMP GETs (pysnmp 7, asyncio): one long-lived UDP socket for v2c with our BER codec, one SnmpEngine for v3.

A dead, silent, garbled or incomplete agent is a result with ok=False and a reason code, never an exception.
"""
from __future__ import annotations

import asyncio
import itertools
import random
import socket
import threading
import time
import weakref
from dataclasses import dataclass
from datetime import datetime, timezone

from pysnmp.error import PySnmpError

from probes.base import ProbeResult, failed
from probes.snmp.ber import (
    _INTEGERS, _MISSING, COUNTER32, COUNTER64, GAUGE32, GET, INTEGER, NULL, OBJECT_ID, RESPONSE, TIMETICKS, BerError,
    decode_message, encode_message, from_pysnmp, oid_tuple,
)
from probes.snmp.oids import HEALTH_OIDS, IF_NUMBER, IF_OPER_STATUS, SYS_DESCR, SYS_OBJECT_ID, SYS_UPTIME, check_oid
from probes.snmp.target import V3, SnmpTarget

PROBE = "snmp"

_ERROR_STATUS = ("noError", "tooBig", "noSuchName", "badValue", "readOnly", "genErr", "noAccess",
                 "wrongType", "wrongLength", "wrongEncoding", "wrongValue", "noCreation",
                 "inconsistentValue", "resourceUnavailable", "commitFailed", "undoFailed",
                 "authorizationError", "notWritable", "inconsistentName")
_REQUIRED = {SYS_UPTIME: "sysUpTime.0", SYS_DESCR: "sysDescr.0", SYS_OBJECT_ID: "sysObjectID.0"}

# The range of each SNMP integer type (RFC 2578): a value outside it is not SNMP, whatever the codec let through.
_RANGES = {INTEGER: (-(1 << 31), (1 << 31) - 1), COUNTER32: (0, (1 << 32) - 1), GAUGE32: (0, (1 << 32) - 1),
           TIMETICKS: (0, (1 << 32) - 1), COUNTER64: (0, (1 << 64) - 1)}
_TEXT_MAX = 255  # DisplayString (RFC 2579) is at most 255 octets; a longer one is cut, never stored whole


def _text(tag, value) -> str:
    if isinstance(value, bytes):
        return value[:_TEXT_MAX].decode("utf-8", "replace")
    if tag == OBJECT_ID:
        return ".".join(map(str, value))[:_TEXT_MAX]
    return str(value)[:_TEXT_MAX]


def _number(tv) -> int | None:
    """The integer in a (tag, value) pair when it is an SNMP integer type within its range, else None."""
    lo_hi = _RANGES.get(tv[0])
    value = tv[1]
    if lo_hi is None or type(value) is not int or not lo_hi[0] <= value <= lo_hi[1]:
        return None
    return value


def _pairs(varbinds) -> dict:
    values = {}
    for oid, tv in varbinds:
        if not (isinstance(tv, tuple) and len(tv) == 2 and isinstance(tv[0], int)):
            raise TypeError("a variable binding is not a (tag, value) pair")
        values[".".join(map(str, oid_tuple(oid)))] = tv
    return values


def interpret(target: SnmpTarget, varbinds, at: datetime, rtt_ms: float,
              extra: dict[str, str] | None = None) -> ProbeResult:
    """Turn a response's (oid, (tag, value)) pairs into a result: metrics with units, or why it is not ok.

    Whatever the agent sent, the answer is a result (never an exception): a value of the wrong type or outside
    its type's range is a `bad_reply` for sysUpTime/sysObjectID and a note (metric left out) elsewhere."""
    metrics: dict = {"rtt_ms": round(rtt_ms, 3)}
    try:
        return _interpret(target, _pairs(varbinds), at, metrics, extra)
    except (ValueError, TypeError, OverflowError, ArithmeticError, LookupError, UnicodeError) as err:
        detail = f"garbled reply: {type(err).__name__}: {str(err)[:200]}"
        return failed(target.key, PROBE, "bad_reply", detail, at, metrics, error=detail)


def _interpret(target: SnmpTarget, values: dict, at: datetime, metrics: dict, extra) -> ProbeResult:
    problems = []
    for oid, name in _REQUIRED.items():
        tv = values.get(oid)
        if tv is None:
            problems.append(f"{name} missing from the reply")
        elif tv[0] in _MISSING:
            problems.append(f"{name}: {_MISSING[tv[0]]}")
    if problems:
        return failed(target.key, PROBE, "bad_reply", "; ".join(problems), at, metrics, error="; ".join(problems))
    uptime = _number(values[SYS_UPTIME])
    if values[SYS_UPTIME][0] not in _INTEGERS or values[SYS_OBJECT_ID][0] != OBJECT_ID:
        return failed(target.key, PROBE, "bad_reply", "garbled reply: wrong value types", at, metrics,
                      error="wrong value types")
    if uptime is None or uptime < 0:
        return failed(target.key, PROBE, "bad_reply", "garbled reply: sysUpTime.0 out of range", at, metrics,
                      error="sysUpTime.0 out of range")
    metrics["sys_uptime_s"] = uptime / 100  # TimeTicks are hundredths of a second
    metrics["sys_descr"] = _text(*values[SYS_DESCR])
    metrics["sys_object_id"] = _text(*values[SYS_OBJECT_ID])
    notes = []
    tv = values.get(IF_NUMBER)
    if tv is not None and tv[0] in _INTEGERS:
        if _number(tv) is None:
            notes.append("if_count: out of range")
        else:
            metrics["if_count"] = tv[1]
    down = []
    for i in range(1, target.interfaces + 1):
        tv = values.get(f"{IF_OPER_STATUS}.{i}")
        if tv is not None and tv[0] in _INTEGERS and _number(tv) != 1:
            down.append(i)  # absent interfaces (noSuchInstance) are not down, just not there
    metrics["if_down"] = len(down)
    if down:
        metrics["if_down_index"] = down
    health = [(h.metric, h.oid, h.scale) for h in HEALTH_OIDS.get(target.kind, ())]
    health += [(name, check_oid(oid), 1.0) for name, oid in (extra or {}).items()]
    for metric, oid, scale in health:
        tv = values.get(oid)
        if tv is None or tv[0] in _MISSING:
            notes.append(f"{metric}: {_MISSING.get(tv[0], 'missing') if tv else 'missing'}")
        elif tv[0] in _INTEGERS:
            n = _number(tv)
            if n is None:
                notes.append(f"{metric}: out of range")
            else:
                metrics[metric] = round(n * scale, 3) if scale != 1.0 else n
        else:
            metrics[metric] = _text(*tv)
    return ProbeResult(target.key, PROBE, True, at, metrics, "; ".join(notes))


class _V2cProtocol(asyncio.DatagramProtocol):
    def __init__(self, poller: "SnmpPoller"):
        self.poller = poller

    def datagram_received(self, data, addr):
        self.poller._on_datagram(data, addr)

    def error_received(self, exc):  # ICMP errors on an unconnected socket: the request just times out
        pass


@dataclass
class _Pending:
    target: SnmpTarget
    future: asyncio.Future
    sent: float


def _rcvbuf(sock: socket.socket, size: int) -> None:
    try:  # root may exceed net.core.rmem_max
        sock.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_RCVBUFFORCE", 33), size)
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)


class SnmpPoller:
    """A long-lived SNMP client bound to one event loop: one UDP socket for v2c, one SnmpEngine for v3."""

    def __init__(self, rcvbuf: int = 8 << 20):
        self.rcvbuf = rcvbuf
        self._transport = None
        self._pending: dict[int, _Pending] = {}
        self._by_addr: dict[tuple[str, int], set[int]] = {}
        self._ids = itertools.count(random.randrange(1, 1 << 30))
        self._engine = None
        self._loop = None
        self._opening: asyncio.Task | None = None

    async def _open_v2c(self):
        if self._transport is None:
            if self._opening is None:  # the first request opens the socket; concurrent ones wait for it
                self._opening = asyncio.get_running_loop().create_task(self._make_socket())
            await asyncio.shield(self._opening)
        return self._transport

    async def _make_socket(self) -> None:
        self._loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        _rcvbuf(sock, self.rcvbuf)  # thousands of replies in flight must not overflow the buffer
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)  # nor a burst of requests
        sock.bind(("", 0))
        sock.setblocking(False)
        self._transport, _ = await self._loop.create_datagram_endpoint(lambda: _V2cProtocol(self), sock=sock)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        self._opening = None
        if self._engine is not None:
            self._engine.close_dispatcher()
            self._engine = None

    # v2c ------------------------------------------------------------------
    def _on_datagram(self, data: bytes, addr) -> None:
        waiting = self._by_addr.get(addr[:2])
        if not waiting:
            return  # late, or not ours
        try:
            version, community, pdu_tag, rid, status, index, varbinds = decode_message(data)
        except (BerError, ValueError, OverflowError, IndexError) as err:
            # Cannot tell which request it answers: fail the oldest one waiting on that address.
            rid = min(waiting, key=lambda r: self._pending[r].sent)
            self._resolve(rid, ("garbled", (f"garbled reply (not SNMP: {err})", {"error": f"not SNMP: {err}"})))
            return
        if rid not in waiting:
            return
        entry = self._pending[rid]
        if community != entry.target.community.encode():
            return  # not a reply to us
        if pdu_tag != RESPONSE or version != 1:
            self._resolve(rid, ("garbled", ("garbled reply (not a v2c Response-PDU)",
                                            {"error": "not a v2c Response-PDU"})))
            return
        if status:
            name = _ERROR_STATUS[status] if 0 < status < len(_ERROR_STATUS) else str(status)
            self._resolve(rid, ("error", (f"agent error {name} at variable {index}", {"status": name, "index": index})))
            return
        self._resolve(rid, ("ok", varbinds))

    def _resolve(self, rid: int, outcome) -> None:
        entry = self._pending.pop(rid, None)
        if entry is None:
            return
        key = (entry.target.address, entry.target.port)
        waiting = self._by_addr.get(key)
        if waiting is not None:
            waiting.discard(rid)
            if not waiting:
                del self._by_addr[key]
        if not entry.future.done():
            entry.future.set_result((outcome, time.monotonic()))

    async def _get_v2c(self, target: SnmpTarget, oids: list[str], timeout: float, extra) -> ProbeResult:
        transport = await self._open_v2c()
        rid = next(self._ids) & 0x7FFFFFFF or 1
        at = datetime.now(timezone.utc)
        fut = self._loop.create_future()
        sent = time.monotonic()
        self._pending[rid] = _Pending(target, fut, sent)
        self._by_addr.setdefault((target.address, target.port), set()).add(rid)
        handle = self._loop.call_later(timeout, self._resolve, rid, ("timeout", None))
        try:
            request = encode_message(target.community.encode(), GET, rid, 0, 0, [(o, (NULL, None)) for o in oids])
            transport.sendto(request, (target.address, target.port))
            (kind, payload), got = await fut
        finally:
            handle.cancel()
            self._resolve(rid, ("cancelled", None))  # no-op unless we were cancelled
        if kind == "timeout":
            return failed(target.key, PROBE, "timeout", f"timeout after {timeout:g} s (no SNMP reply)", at,
                          timeout_s=timeout)
        if kind != "ok":
            detail, params = payload
            return failed(target.key, PROBE, "bad_reply" if kind == "garbled" else "agent_error", detail, at, **params)
        return interpret(target, payload, at, (got - sent) * 1000, extra)

    # v3 -------------------------------------------------------------------
    async def _get_v3(self, target: SnmpTarget, oids: list[str], timeout: float, extra) -> ProbeResult:
        from pysnmp.hlapi.v3arch import asyncio as hl

        if self._engine is None:
            self._engine = hl.SnmpEngine()
        auth = {"": hl.usmNoAuthProtocol, "MD5": hl.usmHMACMD5AuthProtocol, "SHA": hl.usmHMACSHAAuthProtocol,
                "SHA224": hl.usmHMAC128SHA224AuthProtocol, "SHA256": hl.usmHMAC192SHA256AuthProtocol,
                "SHA384": hl.usmHMAC256SHA384AuthProtocol, "SHA512": hl.usmHMAC384SHA512AuthProtocol}
        priv = {"": hl.usmNoPrivProtocol, "DES": hl.usmDESPrivProtocol, "3DES": hl.usm3DESEDEPrivProtocol,
                "AES": hl.usmAesCfb128Protocol, "AES192": hl.usmAesCfb192Protocol,
                "AES256": hl.usmAesCfb256Protocol}
        user = hl.UsmUserData(target.user, target.auth_key or None, target.priv_key or None,
                              authProtocol=auth[target.auth_protocol], privProtocol=priv[target.priv_protocol])
        at = datetime.now(timezone.utc)
        sent = time.monotonic()
        transport = await hl.UdpTransportTarget.create((target.address, target.port), timeout=timeout, retries=0)
        err_ind, err_stat, err_idx, varbinds = await hl.get_cmd(
            self._engine, user, transport, hl.ContextData(),
            *[hl.ObjectType(hl.ObjectIdentity(o)) for o in oids], lookupMib=False)
        got = time.monotonic()
        if err_ind:
            text = str(err_ind)
            if "timeout" in text.lower():
                return failed(target.key, PROBE, "timeout", f"timeout after {timeout:g} s (no SNMP reply)", at,
                              timeout_s=timeout)
            low = text.lower()
            if any(w in low for w in ("digest", "unknown user", "authentication", "decrypt", "usm")):
                return failed(target.key, PROBE, "auth_failed", text, at)
            return failed(target.key, PROBE, "bad_reply", text, at, error=text)
        if int(err_stat):
            name = err_stat.prettyPrint()
            return failed(target.key, PROBE, "agent_error", f"agent error {name} at variable {int(err_idx)}", at,
                          status=name, index=int(err_idx))
        return interpret(target, [(tuple(vb[0]), from_pysnmp(vb[1])) for vb in varbinds], at, (got - sent) * 1000, extra)

    # both -----------------------------------------------------------------
    async def get(self, target: SnmpTarget, timeout: float = 1.0, oids: dict[str, str] | None = None
                  ) -> ProbeResult:
        """One GET of `target.oids(oids)` within `timeout` seconds; one attempt, no retries."""
        wanted = target.oids(oids)
        try:
            if target.version == V3:
                return await self._get_v3(target, wanted, timeout, oids)
            return await self._get_v2c(target, wanted, timeout, oids)
        except OSError as err:
            return failed(target.key, PROBE, "socket_error", f"send failed: {err.strerror or err}",
                          error=str(err.strerror or err))
        except PySnmpError as err:  # v3 engine trouble for this target (keys, transport): its result, not a crash
            return failed(target.key, PROBE, "error", f"SNMP error: {err}", error=str(err))
        except (BerError, ValueError, TypeError, OverflowError, ArithmeticError, LookupError) as err:
            # whatever one device sent (or pysnmp made of it): that device's failed result, never the cycle's
            detail = f"garbled reply: {type(err).__name__}: {str(err)[:200]}"
            return failed(target.key, PROBE, "bad_reply", detail, error=detail)

    async def get_many(self, targets: list[SnmpTarget], oids: dict[str, str] | None = None,
                       timeout: float = 1.0, concurrency: int = 500) -> list[ProbeResult]:
        """GET every target with at most `concurrency` requests outstanding; results in `targets` order."""
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        results: list[ProbeResult | None] = [None] * len(targets)
        feed = iter(enumerate(targets))

        async def worker():
            for i, t in feed:
                results[i] = await self.get(t, timeout, oids)

        await asyncio.gather(*(worker() for _ in range(min(concurrency, len(targets)))))
        return results  # type: ignore[return-value]


_pollers: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, SnmpPoller]" = weakref.WeakKeyDictionary()


async def get_many(targets: list[SnmpTarget], oids: dict[str, str] | None = None, timeout: float = 1.0,
                   concurrency: int = 500) -> list[ProbeResult]:
    """get_many on this event loop's long-lived poller (made on first use)."""
    loop = asyncio.get_running_loop()
    poller = _pollers.get(loop)
    if poller is None:
        poller = _pollers[loop] = SnmpPoller()
    return await poller.get_many(targets, oids, timeout, concurrency)


class _LoopThread:
    """One background event loop for synchronous callers, so the socket and engine outlive each call."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="snmp-probe-loop", daemon=True)
        self.thread.start()
        self.poller = SnmpPoller()


_background: _LoopThread | None = None
_background_lock = threading.Lock()


def get_many_sync(targets: list[SnmpTarget], oids: dict[str, str] | None = None, timeout: float = 1.0,
                  concurrency: int = 500) -> list[ProbeResult]:
    """Synchronous get_many for threads without an event loop (the scheduler's poll job)."""
    global _background
    with _background_lock:
        if _background is None:
            _background = _LoopThread()
    bg = _background
    fut = asyncio.run_coroutine_threadsafe(bg.poller.get_many(targets, oids, timeout, concurrency), bg.loop)
    return fut.result()


def get_one(target: SnmpTarget, timeout: float = 1.0, oids: dict[str, str] | None = None) -> ProbeResult:
    """One device, synchronously (for the registry and the CLI)."""
    return get_many_sync([target], oids, timeout, 1)[0]
