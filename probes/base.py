"""The result every probe returns: ok or not, why (a reason code with parameters), and metrics with units.

Probes speak no human language: `reason` is a code from `REASONS` (`timeout`, `refused`, `bad_reply` …) with
`params` (`{"timeout_s": 2}`); fleetops shows it in the reader's language (`fleetops/domain/probe_reasons.py`).
`detail` is an English sentence for logs and for the probe-result file format.
"""
from dataclasses import dataclass, field
from datetime import datetime, timezone

# Every reason code a probe may return. Keep in step with fleetops/domain/probe_reasons.py (a test checks).
REASONS = (
    "timeout",            # no answer within timeout_s
    "refused",            # the port/agent refused (ICMP port unreachable, TCP RST)
    "unreachable",        # host or network unreachable
    "not_permitted",      # this host may not send (no raw-socket permission, firewall on this host)
    "socket_error",       # a local socket error (error)
    "bad_address",        # the configured address is not valid (address)
    "bad_reply",          # the reply could not be decoded or had the wrong types (error)
    "agent_error",        # the SNMP agent answered with an error status (status, index)
    "auth_failed",        # wrong community, user or password
    "http_error",         # the camera answered HTTP status (status)
    "too_large",          # the snapshot is larger than allowed (mb)
    "empty",              # the camera returned an empty body
    "cannot_connect",     # TCP connection failed
    "request_failed",     # the HTTP request failed otherwise (error)
    "no_source",          # no snapshot source configured
    "unsupported_source", # the snapshot source's scheme is not supported (scheme)
    "read_error",         # a local file or folder could not be read (error)
    "no_image",           # the upload folder has no image
    "bad_image",          # the data is not an image we can decode (error)
    "error",              # anything else (error)
)


@dataclass
class ProbeResult:
    """One attempt: `target` is what the caller asked about (a device code or an address)."""

    target: str
    probe: str  # "ping" | "snmp" | "snapshot"
    ok: bool
    at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    metrics: dict = field(default_factory=dict)  # rtt_ms, sys_uptime_s, loss_pct …
    detail: str = ""  # why it failed, in English, for logs ("timeout after 1.0 s")
    reason: str = ""  # a code from REASONS when not ok ("" when ok)
    params: dict = field(default_factory=dict)  # the reason's parameters ({"timeout_s": 1.0})
