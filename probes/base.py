"""The result every probe returns: ok or not, with a reason in words and metrics with units."""
from dataclasses import dataclass, field
from datetime import datetime, timezone


@dataclass
class ProbeResult:
    """One attempt: `target` is what the caller asked about (a device code or an address)."""

    target: str
    probe: str  # "ping" | "snmp" | "snapshot"
    ok: bool
    at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    metrics: dict = field(default_factory=dict)  # rtt_ms, sys_uptime_s, loss_pct …
    detail: str = ""  # why it failed, in words ("timeout after 1.0 s")
