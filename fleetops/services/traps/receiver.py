"""The trap receiver (issue 17): one UDP socket (162 as root, else the TRAP_PORT setting), v1/v2c traps with the
communities of the inventory (plus TRAP_COMMUNITIES), v3 with the inventory's USM users (plus TRAP_USERS).

The event loop only reads and decodes (bounded: `probes.snmp.trap`); one writer thread stores each trap in its own
transaction (so a database hiccup loses nothing but that trap, logged) and then runs any re-probe a link-down trap
asked for. A malformed or unauthenticated datagram is counted by reason and logged (at most once a minute per
reason), never a crash. Credentials are re-read from the inventory every CREDENTIALS_TTL_S."""
from __future__ import annotations

import asyncio
import logging
import os
import queue
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import select

from fleetops.db import session_scope
from fleetops.models import Device
from fleetops.services.traps.record import record_trap

log = logging.getLogger(__name__)

CREDENTIALS_TTL_S = 60
BACKLOG = 10000
REPROBE_MIN_GAP_S = 10


def default_port(conf) -> int:
    """TRAP_PORT when set; else 162 as root and 1162 otherwise."""
    port = conf.get("TRAP_PORT")
    if port not in (None, ""):
        return int(port)
    return 162 if os.geteuid() == 0 else 1162


def credentials(session, conf) -> tuple[set, dict]:
    """(communities, v3 users by name): the inventory's SNMP settings plus TRAP_COMMUNITIES / TRAP_USERS."""
    from probes.snmp.trap import UsmUser

    communities = {str(c) for c in conf.get("TRAP_COMMUNITIES") or [] if c}
    users = {}
    for u in conf.get("TRAP_USERS") or []:
        users[u["name"]] = UsmUser(u["name"], u.get("auth_protocol", ""), u.get("auth_key", ""),
                                   u.get("priv_protocol", ""), u.get("priv_key", ""))
    rows = session.execute(select(Device.snmp_version, Device.snmp_community, Device.snmp_v3_user,
                                  Device.snmp_v3_auth_protocol, Device.snmp_v3_auth_key,
                                  Device.snmp_v3_priv_protocol, Device.snmp_v3_priv_key)
                           .where(Device.snmp_version != "")).all()
    for r in rows:
        if r.snmp_version == "v2c" and r.snmp_community:
            communities.add(r.snmp_community)
        elif r.snmp_version == "v3" and r.snmp_v3_user:
            users.setdefault(r.snmp_v3_user, UsmUser(r.snmp_v3_user, r.snmp_v3_auth_protocol or "",
                                                     r.snmp_v3_auth_key or "", r.snmp_v3_priv_protocol or "",
                                                     r.snmp_v3_priv_key or ""))
    return communities, users


@dataclass
class Stats:
    received: int = 0
    stored: int = 0
    store_failed: int = 0
    rejected: Counter = field(default_factory=Counter)  # reason → count (malformed, unknown_community …)


class TrapReceiver:
    """`start()` binds and serves in a thread of its own; `stop()` ends it. `port` is the bound port."""

    def __init__(self, factory, conf: dict, host: str = "0.0.0.0", port: int | None = None, reprobe=None):
        self.factory, self.conf, self.host = factory, conf, host
        self.port = default_port(conf) if port is None else port
        self.stats = Stats()
        self._reprobe = reprobe if reprobe is not None else self._poll_devices
        self._queue: queue.Queue = queue.Queue(BACKLOG)
        self._creds = (set(), {})
        self._creds_at = 0.0
        self._creds_lock = threading.Lock()
        self._logged: dict[str, float] = {}
        self._last_reprobe: dict[int, float] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._threads: list[threading.Thread] = []
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._transport = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "TrapReceiver":
        self._refresh_credentials(force=True)
        writer = threading.Thread(target=self._write_loop, name="trap-writer", daemon=True)
        reader = threading.Thread(target=self._serve, name="trap-receiver", daemon=True)
        self._threads = [writer, reader]
        writer.start()
        reader.start()
        self._ready.wait(10)
        if self._error is not None:
            raise self._error
        return self

    def _serve(self) -> None:
        self._loop = asyncio.new_event_loop()
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            sock.bind((self.host, self.port))
            self.port = sock.getsockname()[1]
            self._transport, _ = self._loop.run_until_complete(
                self._loop.create_datagram_endpoint(lambda: _Protocol(self), sock=sock))
        except BaseException as err:  # noqa: BLE001 - reported to start()
            self._error = err
            self._ready.set()
            return
        log.info("traps: listening on udp %s:%d", self.host, self.port)
        self._ready.set()
        self._loop.run_forever()
        self._transport.close()
        self._loop.close()

    def stop(self) -> None:
        if self._loop is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._queue.put(None)
        for t in self._threads:
            t.join(10)

    def wait(self) -> None:
        """Block until stopped (the `fleetops traps` command)."""
        for t in self._threads:
            while t.is_alive():
                t.join(1)

    # ------------------------------------------------------------------ reading (event loop)
    def on_datagram(self, data: bytes, addr) -> None:
        from probes.snmp.trap import TrapError, decode_notification

        self.stats.received += 1
        communities, users = self._creds
        try:
            note = decode_notification(data, communities, users)
        except TrapError as err:
            self._reject(err.reason, addr, str(err))
            return
        except Exception as err:  # noqa: BLE001 - whatever one datagram does, the receiver goes on
            self._reject("malformed", addr, f"{type(err).__name__}: {err}"[:200])
            return
        if note.reply is not None and self._transport is not None:
            self._transport.sendto(note.reply, addr)
        try:
            self._queue.put_nowait((addr[0], addr[1], note, time.time()))
        except queue.Full:
            self._reject("backlog_full", addr, f"more than {BACKLOG} traps waiting for the database")

    def _reject(self, reason: str, addr, detail: str) -> None:
        self.stats.rejected[reason] += 1
        now = time.monotonic()
        if now - self._logged.get(reason, -1e9) >= 60:
            self._logged[reason] = now
            log.warning("traps: rejected datagram from %s reason=%s detail=%s (count=%d)", addr[0], reason,
                        detail[:200], self.stats.rejected[reason])

    # ------------------------------------------------------------------ writing (one thread)
    def _refresh_credentials(self, force: bool = False) -> None:
        if not force and time.monotonic() - self._creds_at < CREDENTIALS_TTL_S:
            return
        try:
            with session_scope(self.factory) as s:
                self._creds = credentials(s, self.conf)
            self._creds_at = time.monotonic()
        except Exception:  # noqa: BLE001 - keep the last credentials; the database may be back soon
            log.exception("traps: could not read credentials from the inventory")

    def refresh_credentials(self) -> None:
        """Re-read the inventory's credentials now (after a device was added)."""
        self._refresh_credentials(force=True)

    def _write_loop(self) -> None:
        from datetime import datetime, timezone

        while True:
            try:
                item = self._queue.get(timeout=CREDENTIALS_TTL_S)
            except queue.Empty:
                self._refresh_credentials()
                continue
            if item is None:
                return
            host, port, note, t = item
            at = datetime.fromtimestamp(t, timezone.utc)
            reprobe = None
            try:
                with session_scope(self.factory) as s:
                    row = record_trap(s, (host, port), note, at, self.conf.get("TRAP_DEFINITIONS_FILE", "") or "")
                    if row.effect == "reprobe" and row.device_id is not None:
                        reprobe = row.device_id
                    log.info("traps: stored id=%s from=%s oid=%s meaning=%s effect=%s", row.id, host, row.trap_oid,
                             row.meaning or "unknown", row.effect or "-")
                self.stats.stored += 1
            except Exception:  # noqa: BLE001 - that trap is lost (logged), the receiver goes on
                self.stats.store_failed += 1
                log.exception("traps: could not store a trap from %s (oid %s)", host, note.trap_oid)
            if reprobe is not None:
                self._maybe_reprobe(reprobe)
            self._refresh_credentials()

    def _maybe_reprobe(self, device_id: int) -> None:
        now = time.monotonic()
        if now - self._last_reprobe.get(device_id, -1e9) < REPROBE_MIN_GAP_S:
            return  # a burst of link-down traps: one re-probe
        self._last_reprobe[device_id] = now
        try:
            self._reprobe([device_id])
        except Exception:  # noqa: BLE001
            log.exception("traps: re-probe of device %s failed", device_id)

    def _poll_devices(self, device_ids) -> None:
        from fleetops.services.monitoring.poll import poll_devices

        poll_devices(self.factory, device_ids, self.conf)


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, receiver: TrapReceiver):
        self.receiver = receiver

    def datagram_received(self, data, addr):
        self.receiver.on_datagram(data, addr)

    def error_received(self, exc):
        log.debug("traps: socket error %s", exc)
