"""The simulated fleet: real SNMP agents and real ICMP on loopback for every device, with fault injection.

`Simulator(devices).start()` binds one UDP socket per device address (127.x, never 0.0.0.0), keeps an
nftables table of its own (`table inet fleetops_sim`) whose set of dead addresses drops ICMP and SNMP,
serves a small JSON control API on 127.0.0.1, and forwards image faults to the snapshot server.
Every device also listens on its TCP liveness port (RTSP 554 for cameras, HTTP 80 otherwise).
Without root: ports below 1024 move up by 1000 (SNMP 1161, RTSP 1554, HTTP 1080; `ports_used()` says which,
and `fleetops simulate` records them in the inventory), and a "dead" device stops answering SNMP and TCP
(its address still answers ping: dropping ICMP needs nftables) — said once, in one line.
"""
from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

from fleetops.simulator.agents import AgentFleet, SimDevice, from_device_row
from fleetops.domain.text import Msg
from fleetops.simulator.faults import LOOPBACK, FaultBook, FaultError, NftDropTable, nft_available

log = logging.getLogger(__name__)

DEFAULT_CONTROL_PORT = 5081
SNAPSHOT_FAULT = "snapshot"  # {"kind": "snapshot", "device": CODE, "fault": "blur"} → the snapshot server

__all__ = ["Simulator", "SimDevice", "load_devices", "DEFAULT_CONTROL_PORT"]


def load_devices(session, host_range: str | None = None) -> list[SimDevice]:
    """Every non-retired device with a loopback address (inside `host_range` if given), from the database."""
    from sqlalchemy import select

    from fleetops.models import Device

    net = ipaddress.IPv4Network(host_range) if host_range else LOOPBACK
    if not net.subnet_of(LOOPBACK):
        raise ValueError(f"--host-range must lie inside 127.0.0.0/8, not {host_range}")
    out = []
    for d in session.scalars(select(Device).where(Device.ip_address.is_not(None)).order_by(Device.code)):
        try:
            addr = ipaddress.IPv4Address(d.ip_address)
        except ValueError:
            continue
        if addr in net and d.lifecycle != "retired":
            out.append(from_device_row(d))
    return out


class Simulator:
    """Runs the agents on a background event loop; faults come from Python or the control API."""

    def __init__(self, devices: list[SimDevice], *, firewall: bool | None = None, table: str = "fleetops_sim",
                 control_host: str = "127.0.0.1", control_port: int | None = DEFAULT_CONTROL_PORT,
                 snapshot_server=None, tick_s: float = 0.5, warn_no_firewall: bool = True):
        self.devices = {d.code: d for d in devices}
        if len(self.devices) != len(devices):
            raise ValueError("device codes must be unique")
        self.book = FaultBook({d.code: d.site for d in devices},
                              battery_backed={d.code for d in devices if d.kind == "power_supply"})
        self.fleet = AgentFleet(devices, silent=self._is_silent)
        self.firewall = nft_available() if firewall is None else firewall
        self.nft = NftDropTable(table) if self.firewall else None
        if ipaddress.IPv4Address(control_host) not in LOOPBACK:
            raise ValueError("the control API listens on loopback only")
        self.control_host, self.control_port = control_host, control_port
        self.snapshots = snapshot_server
        self.tick_s = tick_s
        self.warn_no_firewall = warn_no_firewall  # the CLI says it itself, in the reader's language
        self._silent: frozenset[str] = frozenset()
        self._dead_addrs: frozenset[str] = frozenset()
        self._dead_codes: frozenset[str] = frozenset()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._http: ThreadingHTTPServer | None = None

    @property
    def mode(self) -> str:
        return "nftables" if self.firewall else "snmp-only"  # the name is API; TCP closes too

    def ports_used(self) -> dict[str, tuple[int | None, int | None]]:
        """code → (SNMP port, TCP liveness port) really bound (None: not served)."""
        return {c: (self.fleet.bound[c][1] if c in self.fleet.bound else None, self.fleet.tcp_bound.get(c))
                for c in self.devices}

    # lifecycle ----------------------------------------------------------------------------------
    def start(self) -> "Simulator":
        if not self.firewall and self.warn_no_firewall:
            log.warning("simulator: no nftables (not root, no nft, or switched off): a dead device stops "
                        "answering SNMP and TCP but still answers ping")
        self._loop = asyncio.new_event_loop()
        t = threading.Thread(target=self._loop.run_forever, name="sim-agents", daemon=True)
        t.start()
        self._threads.append(t)
        try:
            asyncio.run_coroutine_threadsafe(self.fleet.start(), self._loop).result(timeout=300)
            if self.nft:
                self.nft.create()
            self.sync()
            if self.control_port is not None:
                self._http = ThreadingHTTPServer((self.control_host, self.control_port), _control_handler(self))
                self._http.daemon_threads = True
                self.control_port = self._http.server_address[1]
                self._spawn(self._http.serve_forever, "sim-control")
            self._spawn(self._ticker, "sim-ticker")
        except BaseException:
            self.stop()
            raise
        log.info("simulator: devices=%d agents=%d mode=%s control=%s", len(self.devices), len(self.fleet.bound),
                 self.mode, f"http://{self.control_host}:{self.control_port}" if self._http else "off")
        return self

    def _spawn(self, fn, name):
        t = threading.Thread(target=fn, name=name, daemon=True)
        t.start()
        self._threads.append(t)

    def stop(self) -> None:
        """Stop serving and remove the nftables table (idempotent; called on exit and on SIGTERM)."""
        self._stop.set()
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
        if self.nft is not None and self.nft.created:
            try:
                self.nft.delete()
            except RuntimeError as err:
                log.error("simulator: could not remove nft table %s: %s", self.nft.name, err)
        if self._loop is not None:
            loop = self._loop
            if loop.is_running():
                try:
                    asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=10)
                except (TimeoutError, RuntimeError):
                    log.warning("simulator: agents did not shut down cleanly")
                loop.call_soon_threadsafe(loop.stop)
            for t in self._threads:
                if t.name == "sim-agents":
                    t.join(timeout=5)
            loop.close()
            self._loop = None

    async def _shutdown(self) -> None:
        self.fleet.stop()
        await asyncio.sleep(0)
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def __enter__(self) -> "Simulator":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _ticker(self) -> None:
        while not self._stop.wait(self.tick_s):
            try:
                self.sync()
            except Exception:  # keep ticking; the log says what went wrong
                log.exception("simulator: fault sync failed")

    # faults -------------------------------------------------------------------------------------
    def _is_silent(self, code: str) -> bool:
        return code in self._silent

    def sync(self) -> None:
        """Make the network match the fault book: nft dead set, silent agents, interfaces down."""
        with self._lock:
            self.book.expire()
            dead = self.book.dead_codes()
            hung = self.book.hung_codes()
            links = self.book.links_down()
            mains_lost = self.book.mains_lost_codes()
            for code, mib in self.fleet.mibs.items():
                mib.links_down = links.get(code, set())
                mib.mains_lost = code in mains_lost
            # without a firewall, "dead" silences the agent and closes the TCP port (ping still answers)
            self._silent = frozenset(hung | dead)
            if self._loop is not None and self._loop.is_running() and frozenset(dead) != self._dead_codes:
                asyncio.run_coroutine_threadsafe(self.fleet.set_tcp_down(frozenset(dead)), self._loop).result(10)
            addrs = frozenset(self.devices[c].address for c in dead)
            if self.nft is not None and addrs != self._dead_addrs:
                self.nft.set_dead(addrs)
            self._dead_addrs = addrs
            self._dead_codes = frozenset(dead)

    def add_fault(self, kind: str, device: str | None = None, site: str | None = None, **params) -> dict:
        if (kind or "").replace("-", "_") == SNAPSHOT_FAULT:
            return self._snapshot_fault(device, params.get("fault"))
        fault = self.book.add(kind, device, site, **params)
        if fault.kind == "reboot":
            self.fleet.mibs[fault.device].reboot(fault.down_s)
        self.sync()
        log.info("simulator: fault %s added", fault.id)
        return fault.as_dict()

    def _snapshot_fault(self, device: str | None, fault: str | None) -> dict:
        if self.snapshots is None:
            raise FaultError(Msg("the snapshot server is not running in this simulator"))
        if device not in self.devices:
            raise FaultError(Msg("no simulated device %(device)s", device=repr(device)))
        try:
            self.snapshots.set_fault(device, fault)
        except ValueError as err:
            raise FaultError(str(err)) from None
        return {"id": f"snapshot:{device}", "kind": SNAPSHOT_FAULT, "device": device, "fault": fault}

    def remove_faults(self, key: str) -> list[dict]:
        """Remove by fault id, device or site code, or "*" for everything (image faults too)."""
        gone = [f.as_dict() for f in self.book.remove(key)]
        if self.snapshots is not None:
            codes = list(self.snapshots.faults) if key == "*" else [
                c for c in (key.removeprefix("snapshot:"), key) if c in self.snapshots.faults]
            for code in codes:
                gone.append({"id": f"snapshot:{code}", "kind": SNAPSHOT_FAULT, "device": code,
                             "fault": self.snapshots.faults.get(code)})
                self.snapshots.set_fault(code, None)
        self.sync()
        return gone

    def list_faults(self) -> dict:
        faults = self.book.list()
        if self.snapshots is not None:
            faults += [{"id": f"snapshot:{c}", "kind": SNAPSHOT_FAULT, "device": c, "fault": f}
                       for c, f in dict(self.snapshots.faults).items()]
        return {"mode": self.mode, "devices": len(self.devices), "faults": faults,
                "dead_now": sorted(self._dead_codes),
                "silent_now": sorted(self._silent)}

    def address(self, code: str) -> tuple[str, int]:
        """The (address, port) a device's agent is bound to (port may differ from 161 in tests)."""
        d = self.devices[code]
        return self.fleet.bound.get(code, (d.address, d.port))


def _control_handler(sim: Simulator):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, fmt, *args):
            log.debug("control: " + fmt, *args)

        def _json(self, status: int, body) -> None:
            data = json.dumps(body, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):  # noqa: N802 - http.server naming
            if self.path.rstrip("/") == "/faults":
                return self._json(200, sim.list_faults())
            if self.path.rstrip("/") == "/devices":  # no secrets: codes, sites, addresses only
                return self._json(200, [{"device": c, "site": d.site, "address": sim.address(c)[0],
                                         "port": sim.address(c)[1], "snmp": d.version or None}
                                        for c, d in sim.devices.items()])
            return self._json(404, {"error": "not found; try GET /faults"})

        def do_POST(self):  # noqa: N802
            if self.path.rstrip("/") != "/faults":
                return self._json(404, {"error": "not found; POST /faults"})
            try:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"null") if 0 < length < 65536 else None
            except (ValueError, UnicodeDecodeError):
                body = None
            if not isinstance(body, dict) or not isinstance(body.get("kind"), str):
                return self._json(400, {"error": 'expected JSON like {"kind": "dead", "device": "K105-CAM1"}'})
            params = {k: body.get(k) for k in ("period_s", "down_s", "interface", "fault")}
            try:
                fault = sim.add_fault(body["kind"], body.get("device"), body.get("site"),
                                      **{k: v for k, v in params.items() if v is not None})
            except FaultError as err:
                # "error" in English for tools and logs; "message" in the operator's language for the CLI
                return self._json(400, {"error": _english(err), "message": str(err)})
            except RuntimeError as err:  # nft failed
                return self._json(500, {"error": str(err)})
            return self._json(201, {"fault": fault, "mode": sim.mode})

        def do_DELETE(self):  # noqa: N802
            path = self.path.rstrip("/")
            if path == "/faults":
                key = "*"
            elif path.startswith("/faults/"):
                key = unquote(path[len("/faults/"):])
            else:
                return self._json(404, {"error": "not found; DELETE /faults/<id|device|site>"})
            gone = sim.remove_faults(key)
            if not gone and key != "*":
                return self._json(404, {"error": f"no fault matches {key!r}"})
            return self._json(200, {"removed": gone})

    return Handler


def _english(err: FaultError) -> str:
    return err.msg.render("en") if isinstance(err.msg, Msg) else str(err)
