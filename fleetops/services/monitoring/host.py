"""What this probe host may use: root or not, which ICMP socket, whether ports below 1024 can be bound — and the
exact commands that would enable more (none of them is required: without them liveness falls back to TCP)."""
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from fleetops.domain.text import Msg


@dataclass(frozen=True)
class HostCapabilities:
    root: bool
    icmp: str | None  # "icmp" (raw), "icmp-dgram", or None (this process may not send ICMP)
    low_ports: bool  # may bind ports below 1024 (SNMP 161, RTSP 554, HTTP 80)
    ping_group_range: str
    unprivileged_port_start: int | None
    nft: bool  # the simulator can drop "dead" devices' packets


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def host_capabilities() -> HostCapabilities:
    from probes.ping import icmp_method

    root = os.geteuid() == 0
    start = _read("/proc/sys/net/ipv4/ip_unprivileged_port_start")
    start_n = int(start) if start.isdigit() else None
    return HostCapabilities(root=root, icmp=icmp_method("auto"),
                            low_ports=root or (start_n is not None and start_n <= 80),
                            ping_group_range=" ".join(_read("/proc/sys/net/ipv4/ping_group_range").split()),
                            unprivileged_port_start=start_n, nft=root and shutil.which("nft") is not None)


def capability_lines(cap: HostCapabilities | None = None) -> list[Msg]:
    """Three lines for the terminal: who we run as, how liveness is checked, which ports — each with the command
    that enables more when something is missing."""
    cap = cap or host_capabilities()
    python = os.path.realpath(sys.executable)
    user = Msg("running as root: full ICMP, SNMP on port 161, simulated faults drop packets (nftables)") if cap.root \
        else Msg("running as an ordinary user: everything works; a simulated dead device still answers ping "
                 "(run as root for nftables)")
    if cap.icmp == "icmp":
        icmp = Msg("liveness: raw ICMP")
    elif cap.icmp == "icmp-dgram":
        icmp = Msg("liveness: unprivileged ICMP (ping_group_range %(range)s); for raw ICMP: %(command)s",
                   range=cap.ping_group_range, command=f"sudo setcap cap_net_raw+ep {python}")
    else:
        icmp = Msg("liveness: TCP connect (RTSP 554, HTTP 80) and SNMP, ICMP is not allowed here; to allow it: "
                   "%(sysctl)s or %(setcap)s",
                   sysctl=f'sudo sysctl -w net.ipv4.ping_group_range="0 {2 ** 31 - 1}"',
                   setcap=f"sudo setcap cap_net_raw+ep {python}")
    ports = Msg("ports: 161/554/80 can be bound") if cap.low_ports else \
        Msg("ports: below %(start)s not allowed, the simulator uses 1161/1554/1080 and records them; to use the real ports: "
            "%(command)s", start=cap.unprivileged_port_start or 1024,
            command="sudo sysctl -w net.ipv4.ip_unprivileged_port_start=80")
    return [user, icmp, ports]
