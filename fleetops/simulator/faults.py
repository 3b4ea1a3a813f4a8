"""Fault injection for the simulated fleet: the fault book, the nftables table that drops dead devices, network namespaces."""
from __future__ import annotations

import ipaddress
import os
import secrets
import shutil
import subprocess
import threading
import time
from dataclasses import asdict, dataclass, field

from fleetops.domain.text import Msg

LOOPBACK = ipaddress.IPv4Network("127.0.0.0/8")

# kind → what it targets. "dead"/"power_cut"/"network_cut" drop ICMP and SNMP (nftables, needs root);
# "hung" silences only the SNMP agent; "reboot" resets sysUpTime (optionally dead for down_s first);
# "flap" alternates dead/alive every period_s; "link_down" reports an interface down. During a "power_cut" the
# cabinet's battery-backed power-supply monitor keeps answering and reports its mains input at 0 V.
DEVICE_FAULTS = ("dead", "hung", "reboot", "flap", "link_down", "no_data")  # no_data: the platform simulator
SITE_FAULTS = ("power_cut", "network_cut")
FAULT_KINDS = DEVICE_FAULTS + SITE_FAULTS
_DROPPING = ("dead", "power_cut", "network_cut")


def is_root() -> bool:
    return os.geteuid() == 0


def nft_available() -> bool:
    return is_root() and shutil.which("nft") is not None


class FaultError(ValueError):
    """A fault request that cannot be applied; `msg` is the sentence (a Msg), `str(err)` renders it."""

    def __init__(self, msg):
        super().__init__(msg)
        self.msg = msg

    def __str__(self) -> str:
        return str(self.msg)

    """A fault request that cannot be applied (unknown kind, device or site); the message says why."""


@dataclass
class Fault:
    kind: str
    device: str | None = None
    site: str | None = None
    since: float = field(default_factory=time.time)
    period_s: float = 30.0  # flap: half-cycle
    down_s: float = 0.0  # reboot: how long it is dead before coming back
    interface: int = 2  # link_down: which ifIndex

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.device or self.site}"

    def as_dict(self) -> dict:
        d = asdict(self)
        d["id"] = self.id
        return {k: v for k, v in d.items() if v is not None}


class FaultBook:
    """The standing faults and what they mean now: which devices drop everything, which agents are silent."""

    def __init__(self, device_sites: dict[str, str], clock=time.time, battery_backed=()):
        self.device_sites = dict(device_sites)  # device code → site code
        self.battery_backed = frozenset(battery_backed)  # answer through a power cut (the cabinet's PSU monitor)
        self.site_devices: dict[str, list[str]] = {}
        for code, site in self.device_sites.items():
            self.site_devices.setdefault(site, []).append(code)
        self.faults: dict[str, Fault] = {}
        self.clock = clock
        self.lock = threading.Lock()

    def add(self, kind: str, device: str | None = None, site: str | None = None, **params) -> Fault:
        kind = (kind or "").strip().replace("-", "_")
        if kind not in FAULT_KINDS:
            raise FaultError(Msg("unknown fault kind %(kind)s; one of: %(kinds)s", kind=repr(kind),
                                 kinds=", ".join(FAULT_KINDS)))
        if kind in DEVICE_FAULTS:
            if device not in self.device_sites:
                raise FaultError(Msg("no simulated device %(device)s", device=repr(device)))
            site = None
        else:
            if site is None and device in self.site_devices:  # "fault power-cut K105" names a site
                site, device = device, None
            if site not in self.site_devices:
                raise FaultError(Msg("no simulated site %(site)s", site=repr(site)))
            device = None
        numeric = {}
        for name in ("period_s", "down_s", "interface"):
            if params.get(name) is not None:
                try:
                    numeric[name] = float(params[name]) if name != "interface" else int(params[name])
                except (TypeError, ValueError):
                    raise FaultError(Msg("%(name)s must be a number", name=name)) from None
                if numeric[name] < 0 or (name == "period_s" and numeric[name] < 1):
                    raise FaultError(Msg("%(name)s is out of range", name=name))
        fault = Fault(kind, device, site, since=self.clock(), **numeric)
        with self.lock:
            if kind != "reboot" or fault.down_s > 0:  # an instant reboot leaves nothing standing
                self.faults[fault.id] = fault
        return fault

    def remove(self, key: str) -> list[Fault]:
        """Remove a fault by id ("dead:K105-CAM1"), or every fault on a device or site, or all ("*")."""
        with self.lock:
            if key == "*":
                gone = list(self.faults.values())
            else:
                gone = [f for f in self.faults.values() if key in (f.id, f.device, f.site)]
            for f in gone:
                del self.faults[f.id]
        return gone

    def expire(self) -> None:
        now = self.clock()
        with self.lock:
            for f in list(self.faults.values()):
                if f.kind == "reboot" and now >= f.since + f.down_s:
                    del self.faults[f.id]

    def _codes(self, f: Fault) -> list[str]:
        return [f.device] if f.device else self.site_devices.get(f.site, [])

    def dead_codes(self) -> set[str]:
        """Devices that drop ICMP and SNMP right now."""
        now = self.clock()
        dead: set[str] = set()
        with self.lock:
            for f in self.faults.values():
                if f.kind == "power_cut":
                    dead.update(c for c in self._codes(f) if c not in self.battery_backed)
                elif f.kind in _DROPPING or (f.kind == "reboot" and now < f.since + f.down_s):
                    dead.update(self._codes(f))
                elif f.kind == "flap" and int((now - f.since) // f.period_s) % 2 == 0:
                    dead.update(self._codes(f))  # flapping starts with a down half-cycle
        return dead

    def mains_lost_codes(self) -> set[str]:
        """Battery-backed devices at a site whose power is cut: they report their mains input lost."""
        with self.lock:
            return {c for f in self.faults.values() if f.kind == "power_cut"
                    for c in self._codes(f) if c in self.battery_backed}

    def no_data_since(self) -> dict[str, float]:
        """U7: cameras whose pass records stop reaching the simulated platform (and since when)."""
        with self.lock:
            return {f.device: f.since for f in self.faults.values() if f.kind == "no_data"}

    def hung_codes(self) -> set[str]:
        with self.lock:
            return {f.device for f in self.faults.values() if f.kind == "hung"}

    def links_down(self) -> dict[str, set[int]]:
        out: dict[str, set[int]] = {}
        with self.lock:
            for f in self.faults.values():
                if f.kind == "link_down":
                    out.setdefault(f.device, set()).add(f.interface)
        return out

    def list(self) -> list[dict]:
        with self.lock:
            return [f.as_dict() for f in self.faults.values()]


def _run(argv: list[str], stdin: str | None = None) -> None:
    proc = subprocess.run(argv, input=stdin, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:4])} failed: {proc.stderr.strip() or proc.stdout.strip()}")


class NftDropTable:
    """`table inet <name>` with a set of loopback addresses whose incoming packets are dropped.

    Dropped on input (not output) so the sender sees a silent timeout, as with a dead device,
    rather than EPERM from sendto. Only 127.0.0.0/8 addresses are ever put in the set.
    """

    def __init__(self, name: str = "fleetops_sim", netns: str | None = None):
        self.name = name
        self.prefix = ["ip", "netns", "exec", netns] if netns else []
        self.created = False

    def _nft(self, script: str) -> None:
        _run(self.prefix + ["nft", "-f", "-"], script)

    def create(self) -> None:
        self.delete(quiet=True)  # a table left over by a killed run
        self._nft(f"""table inet {self.name} {{
  set dead {{ type ipv4_addr; }}
  chain input {{ type filter hook input priority -10; policy accept; ip daddr @dead drop; }}
}}
""")
        self.created = True

    def set_dead(self, addresses) -> None:
        addrs = sorted({str(a) for a in addresses})
        for a in addrs:
            if ipaddress.IPv4Address(a) not in LOOPBACK:
                raise ValueError(f"refusing to drop a non-loopback address {a}")
        script = f"flush set inet {self.name} dead\n"
        if addrs:
            script += f"add element inet {self.name} dead {{ {', '.join(addrs)} }}\n"
        self._nft(script)

    def delete(self, quiet: bool = False) -> None:
        proc = subprocess.run(self.prefix + ["nft", "delete", "table", "inet", self.name],
                              capture_output=True, text=True)
        if proc.returncode != 0 and not quiet and "No such file" not in proc.stderr:
            raise RuntimeError(f"nft delete table failed: {proc.stderr.strip()}")
        self.created = False


class NetNamespace:
    """A network namespace of our own with loopback up: `with NetNamespace("fo-test") as ns: ns.argv(...)`."""

    def __init__(self, prefix: str = "fo-test"):
        self.name = f"{prefix}-{secrets.token_hex(4)}"

    def __enter__(self) -> "NetNamespace":
        _run(["ip", "netns", "add", self.name])
        try:
            _run(["ip", "-n", self.name, "link", "set", "lo", "up"])
        except RuntimeError:
            self.delete()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.delete()

    def delete(self) -> None:
        subprocess.run(["ip", "netns", "delete", self.name], capture_output=True)

    def argv(self, *cmd: str) -> list[str]:
        return ["ip", "netns", "exec", self.name, *cmd]

    def nft(self, script: str) -> None:
        _run(self.argv("nft", "-f", "-"), script)
