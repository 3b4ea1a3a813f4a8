"""Real SNMP agents for simulated devices: one UDP socket per device address, a small MIB with an advancing sysUpTime."""
from __future__ import annotations

import asyncio
import bisect
import errno
import ipaddress
import logging
import math
import socket
import time
import zlib
from dataclasses import dataclass, field

from fleetops.simulator.faults import LOOPBACK
from probes.snmp import (
    END_OF_MIB_VIEW, GET, GET_BULK, GET_NEXT, HEALTH_OIDS, IF_NUMBER, IF_OPER_STATUS, INTEGER, NO_SUCH_INSTANCE,
    NO_SUCH_OBJECT, OBJECT_ID, OCTET_STRING, PLAYPEN, RESPONSE, SYS_DESCR, SYS_OBJECT_ID, SYS_UPTIME, TIMETICKS,
    BerError, decode_message, encode_message,
)

log = logging.getLogger(__name__)

SYS_NAME = "1.3.6.1.2.1.1.5.0"
IF_INDEX = "1.3.6.1.2.1.2.2.1.1"
IF_DESCR = "1.3.6.1.2.1.2.2.1.2"
# Without root, ports below 1024 cannot be bound (net.ipv4.ip_unprivileged_port_start): the simulator serves
# SNMP on 1161, HTTP on 1080, RTSP on 1554 … (port + 1000) instead, and the inventory records the port used.
UNPRIVILEGED_OFFSET = 1000
_TICKS_WRAP = 1 << 32  # TimeTicks is 32-bit: wraps after 497.1 days
_KIND_ARCS = {k: i for i, k in enumerate(sorted(HEALTH_OIDS), start=1)}


@dataclass
class SimDevice:
    """What the simulator needs to impersonate one device (taken from a Device row or built by a test)."""

    code: str
    site: str
    address: str
    kind: str = "checkpoint_camera"
    port: int = 161
    vendor: str = ""
    model: str = ""
    version: str = "v2c"  # "" = no SNMP agent (answers ping only)
    community: str = field(default="public", repr=False)
    user: str = ""
    auth_protocol: str = ""
    auth_key: str = field(default="", repr=False)
    priv_protocol: str = ""
    priv_key: str = field(default="", repr=False)
    interfaces: int = 2
    uptime_s: float | None = None  # sysUpTime at start; default: a stable pseudo-random few weeks
    tcp_port: int | None = None  # TCP liveness port to listen on (None: no TCP service)

    def __post_init__(self):
        addr = ipaddress.IPv4Address(self.address)
        if addr not in LOOPBACK:  # the simulator only ever binds loopback addresses
            raise ValueError(f"simulated device {self.code} must have a 127.x address, not {self.address}")


def from_device_row(device) -> SimDevice:
    """A SimDevice from a fleetops Device row (site code, probe settings, secrets stay in memory)."""
    from fleetops.domain.choices import liveness_tcp_port

    return SimDevice(tcp_port=liveness_tcp_port(device.kind, device.liveness_port),
        code=device.code, site=device.site.code if device.site else "", address=device.ip_address,
        kind=device.kind, port=device.snmp_port or 161, vendor=device.vendor, model=device.model,
        version=device.snmp_version or "", community=device.snmp_community or "",
        user=device.snmp_v3_user, auth_protocol=device.snmp_v3_auth_protocol,
        auth_key=device.snmp_v3_auth_key, priv_protocol=device.snmp_v3_priv_protocol,
        priv_key=device.snmp_v3_priv_key)


def _oid(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split("."))


class DeviceMib:
    """The objects one simulated device serves; values are computed when asked (uptime advances)."""

    def __init__(self, dev: SimDevice, clock=time.monotonic):
        self.dev = dev
        self.clock = clock
        seed = zlib.crc32(dev.code.encode())
        start_uptime = dev.uptime_s if dev.uptime_s is not None else 86400 * (3 + seed % 40) + seed % 3600
        self.boot = clock() - start_uptime
        self.links_down: set[int] = set()
        self.mains_lost = False  # a power cut at the site: the mains input reads 0 V
        self.temp_base = 30 + seed % 15
        descr = f"{dev.vendor or 'Generic'} {dev.model or dev.kind} ({dev.kind}) fleetops simulated agent"
        entries: dict[tuple, object] = {
            _oid(SYS_DESCR): (OCTET_STRING, descr.encode()),
            _oid(SYS_OBJECT_ID): (OBJECT_ID, _oid(f"{PLAYPEN}.2.{_KIND_ARCS.get(dev.kind, 0)}")),
            _oid(SYS_UPTIME): self._uptime,
            _oid(SYS_NAME): (OCTET_STRING, dev.code.encode()),
            _oid(IF_NUMBER): (INTEGER, dev.interfaces),
        }
        for i in range(1, dev.interfaces + 1):
            entries[_oid(f"{IF_INDEX}.{i}")] = (INTEGER, i)
            entries[_oid(f"{IF_DESCR}.{i}")] = (OCTET_STRING, f"eth{i - 1}".encode())
            entries[_oid(f"{IF_OPER_STATUS}.{i}")] = (lambda i=i: (INTEGER, 2 if i in self.links_down else 1))
        for h in HEALTH_OIDS.get(dev.kind, ()):
            entries[_oid(h.oid)] = self._health(h.metric)
        self.entries = entries
        self.order = sorted(entries)
        self.objects = {o[:-1] for o in entries}  # to tell noSuchObject from noSuchInstance

    def reboot(self, down_s: float = 0.0) -> None:
        """U6: sysUpTime starts again from zero (after `down_s` seconds of being dead)."""
        self.boot = self.clock() + down_s

    def uptime_ticks(self) -> int:
        return int(max(0.0, self.clock() - self.boot) * 100) % _TICKS_WRAP

    def _uptime(self):
        return TIMETICKS, self.uptime_ticks()

    def _health(self, metric: str):
        if metric == "temperature_c":  # drifts slowly, like a camera housing in the sun
            return lambda: (INTEGER, int(self.temp_base + 4 * math.sin(self.clock() / 600)))
        if metric == "supply_voltage_v":
            return lambda: (INTEGER, 120)  # tenths of a volt
        if metric == "input_voltage_v":  # tenths of a volt
            return lambda: (INTEGER, 0 if self.mains_lost else 2200)
        if metric == "lamp_ok":
            return lambda: (INTEGER, 1)
        return lambda: (INTEGER, 0)

    def value(self, oid: tuple):
        val = self.entries[oid]
        return val() if callable(val) else val

    def get(self, oid: tuple):
        if oid in self.entries:
            return self.value(oid)
        return (NO_SUCH_INSTANCE, None) if oid[:-1] in self.objects else (NO_SUCH_OBJECT, None)

    def get_next(self, oid: tuple):
        i = bisect.bisect_right(self.order, oid)
        if i >= len(self.order):
            return oid, (END_OF_MIB_VIEW, None)
        nxt = self.order[i]
        return nxt, self.value(nxt)


class AgentFleet:
    """Every device's agent on one asyncio loop. `silent(code)` says whether a device must not answer now."""

    def __init__(self, devices: list[SimDevice], silent=lambda code: False, rcvbuf: int = 1 << 20):
        self.devices = {d.code: d for d in devices}
        self.mibs = {d.code: DeviceMib(d) for d in devices}
        self.silent = silent
        self.rcvbuf = rcvbuf
        self.transports: list = []
        self.engines: list = []
        self.bound: dict[str, tuple[str, int]] = {}  # code → (address, port) actually bound
        self.tcp_bound: dict[str, int] = {}  # code → TCP liveness port actually bound
        self.tcp_servers: dict[str, asyncio.AbstractServer] = {}  # listening now (closed while "dead")
        self.moved = False  # some port had to move above 1024 (no root)
        self.answered = 0
        self.dropped = 0

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        for dev in self.devices.values():
            if not dev.version:
                continue
            sock = self._bind(dev, socket.SOCK_DGRAM, dev.port)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
            sock.setblocking(False)
            self.bound[dev.code] = sock.getsockname()[:2]
            if dev.version == "v3":
                self._start_v3(dev, sock)
            else:
                transport, _ = await loop.create_datagram_endpoint(lambda d=dev: _V2cAgent(self, d), sock=sock)
                self.transports.append(transport)

        for dev in self.devices.values():
            if dev.tcp_port:
                try:
                    sock = self._bind(dev, socket.SOCK_STREAM, dev.tcp_port)
                except OSError as err:  # e.g. a web server on 0.0.0.0:80: its SNMP answer still counts
                    log.warning("simulator: no TCP liveness port for %s: %s", dev.code, err.strerror)
                    continue
                self.tcp_bound[dev.code] = sock.getsockname()[1]
                sock.close()  # the port is known good; set_tcp_down() opens and closes the listener
        await self.set_tcp_down(frozenset())

    def _bind(self, dev: SimDevice, kind: int, port: int) -> socket.socket:
        """A socket bound to the device's address and port, or (no privilege for a port below 1024) port + 1000."""
        for attempt in (port, port + UNPRIVILEGED_OFFSET if port < 1024 else None):
            if attempt is None:
                break
            sock = socket.socket(socket.AF_INET, kind)
            if kind == socket.SOCK_STREAM:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((dev.address, attempt))
                if attempt != port:
                    self.moved = True
                return sock
            except OSError as err:
                sock.close()
                if err.errno != errno.EACCES or attempt != port:
                    what = "TCP" if kind == socket.SOCK_STREAM else "UDP"
                    raise OSError(err.errno, f"cannot bind {what} {dev.address}:{attempt} for {dev.code}: "
                                             f"{err.strerror}") from None
        raise AssertionError("unreachable")

    async def set_tcp_down(self, down: frozenset) -> None:
        """Listen on every device's TCP port except those in `down` (a dead device refuses connections)."""
        for code, port in self.tcp_bound.items():
            server = self.tcp_servers.get(code)
            if code in down and server is not None:
                server.close()
                del self.tcp_servers[code]
            elif code not in down and server is None:
                self.tcp_servers[code] = await asyncio.start_server(
                    _close_at_once, self.devices[code].address, port, reuse_address=True, backlog=64)

    def stop(self) -> None:
        for server in self.tcp_servers.values():
            server.close()
        self.tcp_servers.clear()
        for t in self.transports:
            t.close()
        self.transports.clear()
        for e in self.engines:
            e.close_dispatcher()
        self.engines.clear()

    # v2c: one datagram in, at most one out ---------------------------------------------------
    def answer_v2c(self, dev: SimDevice, data: bytes) -> bytes | None:
        if self.silent(dev.code):
            self.dropped += 1
            return None
        try:
            version, community, pdu_tag, rid, f1, f2, varbinds = decode_message(data)
        except BerError:
            self.dropped += 1  # garbage in: no answer (snmpInASNParseErrs)
            return None
        if version != 1 or community != dev.community.encode():
            self.dropped += 1  # wrong version or community: real agents stay silent
            return None
        out = self.respond(dev.code, pdu_tag, f1, f2, [oid for oid, _v in varbinds])
        if out is None:
            return None
        self.answered += 1
        return encode_message(community, RESPONSE, rid, 0, 0, out)

    def respond(self, code: str, pdu_tag: int, f1: int, f2: int, reqs: list[tuple]):
        """The response var-binds for a GET, GETNEXT or GETBULK (None for anything else, e.g. SET)."""
        mib = self.mibs[code]
        if pdu_tag == GET:
            return [(o, mib.get(o)) for o in reqs]
        if pdu_tag == GET_NEXT:
            return [mib.get_next(o) for o in reqs]
        if pdu_tag == GET_BULK:
            n = max(0, min(f1, len(reqs)))
            m = max(0, min(f2, 50))
            out = [mib.get_next(o) for o in reqs[:n]]
            cursor = reqs[n:]
            for _ in range(m if cursor else 0):
                step = [mib.get_next(o) for o in cursor]
                out += step
                cursor = [o for o, _v in step]
            return out
        return None

    # v3: a pysnmp SnmpEngine per v3 device (USM keys and engine id are per agent) ----------
    def _start_v3(self, dev: SimDevice, sock: socket.socket) -> None:
        from pysnmp.carrier.asyncio.dgram import udp
        from pysnmp.entity import config, engine
        from pysnmp.entity.rfc3413 import cmdrsp, context

        auth = {"": config.USM_AUTH_NONE, "MD5": config.USM_AUTH_HMAC96_MD5, "SHA": config.USM_AUTH_HMAC96_SHA,
                "SHA224": config.USM_AUTH_HMAC128_SHA224, "SHA256": config.USM_AUTH_HMAC192_SHA256,
                "SHA384": config.USM_AUTH_HMAC256_SHA384, "SHA512": config.USM_AUTH_HMAC384_SHA512}
        priv = {"": config.USM_PRIV_NONE, "DES": config.USM_PRIV_CBC56_DES, "3DES": config.USM_PRIV_CBC168_3DES,
                "AES": config.USM_PRIV_CFB128_AES, "AES192": config.USM_PRIV_CFB192_AES,
                "AES256": config.USM_PRIV_CFB256_AES}
        a, p = dev.auth_protocol.upper(), dev.priv_protocol.upper()
        snmp_engine = engine.SnmpEngine()
        config.add_transport(snmp_engine, udp.DOMAIN_NAME, udp.UdpAsyncioTransport().open_server_mode(sock=sock))
        config.add_v3_user(snmp_engine, dev.user, auth[a], dev.auth_key or None, priv[p], dev.priv_key or None)
        level = "authPriv" if p else ("authNoPriv" if a else "noAuthNoPriv")
        config.add_vacm_user(snmp_engine, 3, dev.user, level, (1, 3, 6), (1, 3, 6))
        ctx = context.SnmpContext(snmp_engine)
        ctx.unregister_context_name(b"")
        ctx.register_context_name(b"", _V3Controller(self, dev.code))
        cmdrsp.GetCommandResponder(snmp_engine, ctx)
        cmdrsp.NextCommandResponder(snmp_engine, ctx)
        cmdrsp.BulkCommandResponder(snmp_engine, ctx)
        snmp_engine.open_dispatcher()  # no-op loop-wise on asyncio; marks the dispatcher as running
        self.engines.append(snmp_engine)


async def _close_at_once(reader, writer) -> None:
    writer.close()


class _V2cAgent(asyncio.DatagramProtocol):
    def __init__(self, fleet: AgentFleet, dev: SimDevice):
        self.fleet, self.dev = fleet, dev

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        out = self.fleet.answer_v2c(self.dev, data)
        if out is not None:
            self.transport.sendto(out, addr)

    def error_received(self, exc):
        pass


class _V3Controller:
    """pysnmp's MIB-controller interface over a DeviceMib; a silent device raises so nothing is sent."""

    def __init__(self, fleet: AgentFleet, code: str):
        self.fleet, self.code = fleet, code

    def _check(self):
        if self.fleet.silent(self.code):
            from pysnmp.smi.error import PySnmpError

            self.fleet.dropped += 1
            raise PySnmpError("simulated hung agent")
        self.fleet.answered += 1

    def read_variables(self, *varbinds, **context):
        self._check()
        mib = self.fleet.mibs[self.code]
        return [(o, _to_pysnmp(mib.get(tuple(o)))) for o, _v in varbinds]

    def read_next_variables(self, *varbinds, **context):
        from pysnmp.proto.api import v2c

        self._check()
        mib = self.fleet.mibs[self.code]
        return [(v2c.ObjectIdentifier(n), _to_pysnmp(v)) for n, v in (mib.get_next(tuple(o)) for o, _v in varbinds)]

    def write_variables(self, *varbinds, **context):
        from pysnmp.smi.error import NotWritableError

        raise NotWritableError(idx=0)


def _to_pysnmp(tv):
    from pysnmp.proto.api import v2c

    tag, value = tv
    kinds = {INTEGER: v2c.Integer, OCTET_STRING: v2c.OctetString, OBJECT_ID: v2c.ObjectIdentifier,
             TIMETICKS: v2c.TimeTicks}
    if tag in kinds:
        return kinds[tag](value)
    return {NO_SUCH_OBJECT: v2c.NoSuchObject, NO_SUCH_INSTANCE: v2c.NoSuchInstance,
            END_OF_MIB_VIEW: v2c.EndOfMibView}[tag]("")
