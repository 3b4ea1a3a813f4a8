"""The result every probe returns: ok or not, why (a reason code with parameters), and metrics with units.

Probes speak no human language: `reason` is a code from `REASONS` (`timeout`, `refused`, `bad_reply` …) with
`params` (`{"timeout_s": 2}`); fleetops shows it in the reader's language (`fleetops/domain/probe_reasons.py`).
`detail` is an English sentence for logs and for the probe-result file format.

The same holds for the exceptions a probe raises for bad input or a bad configuration (`ProbeError` and its
subclasses `ConfigError`, `vision.imaging.ImageError`, `vision.thumbnails.PhotoError`): a code from `REASONS`,
its `params`, and English text (`str(err)`) for logs.
"""
from dataclasses import dataclass, field
from datetime import datetime, timezone

# Every reason code a probe result or a probe exception may carry. Keep in step with
# fleetops/domain/probe_reasons.py (tests/probes/test_reason_codes.py checks).
REASONS = (
    # ---- results: a device that is down, slow or garbled (never an exception)
    "timeout",            # no answer within timeout_s
    "refused",            # the port/agent refused (ICMP port unreachable, TCP RST)
    "unreachable",        # host or network unreachable
    "no_route",           # this host has no route to the address (ENETUNREACH on send): a local problem
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
    # ---- images (vision.imaging.ImageError)
    "not_an_image",       # not a JPEG, PNG or BMP
    "image_header_damaged",  # the header is damaged or has no frame size (format)
    "file_empty",         # the file or upload is empty
    "file_too_large",     # (size_mb, limit_mb)
    "image_size_invalid", # (width, height)
    "image_too_many_pixels",  # (width, height, mpx, limit_mpx)
    "image_truncated",    # the image is cut off
    "image_undecodable",  # the pixel data cannot be decoded
    "encode_failed",      # JPEG encoding failed
    "stream_not_opened",  # an RTSP/HTTP stream could not be opened
    "stream_no_frame",    # the stream gave no frame
    "empty_crop",         # the crop region is empty
    # ---- crew photos (vision.thumbnails.PhotoError)
    "photo_type",         # only JPEG or PNG photos
    "photo_no_size",      # the photo has no valid size
    "photo_too_large",    # (width, height)
    # ---- probe configuration (ConfigError, a ValueError raised when a target is built)
    "bad_oid",            # (oid)
    "bad_port",           # (port)
    "bad_snmp_version",   # (version)
    "bad_interfaces",     # (interfaces)
    "missing_community",  # v2c without a community
    "missing_user",       # v3 without a user name
    "unknown_auth_protocol",  # (protocol)
    "unknown_priv_protocol",  # (protocol)
    "auth_key_short",     # v3 auth key under 8 characters
    "priv_needs_auth",    # v3 privacy without authentication
    "priv_key_short",     # v3 privacy key under 8 characters
    "unknown_probe_kind", # (kind, known)
    "unknown_settings",   # (names)
)

# Failures whose cause is on the probe host, not the device: they say nothing about the device, so they
# never count towards a device outage; many at once are one "probe host problem".
LOCAL_REASONS = frozenset({"not_permitted", "socket_error", "no_route"})


def is_local(result: "ProbeResult") -> bool:
    """True when a failed result's reason lies on this host (permission, socket, routing table)."""
    return not result.ok and result.reason in LOCAL_REASONS


class ProbeError(ValueError):
    """Bad input or configuration for a probe: `code` (from REASONS), `params`, and English text for logs."""

    def __init__(self, code: str, english: str = "", **params):
        super().__init__(english or code)
        self.code = code
        self.params = params


class ConfigError(ProbeError):
    """A probe configuration that cannot work (bad address, SNMP version, v3 keys …): raised at config time."""


@dataclass
class ProbeResult:
    """One attempt: `target` is what the caller asked about (a device code or an address).

    Snapshots use the same type: `data` holds the image bytes when ok, `source_name` the file taken from an
    upload folder, `metrics["elapsed_ms"]` the time it took."""

    target: str
    probe: str  # "ping" | "snmp" | "tcp" | "snapshot"
    ok: bool
    at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    metrics: dict = field(default_factory=dict)  # rtt_ms, sys_uptime_s, loss_pct …
    detail: str = ""  # why it failed, in English, for logs ("timeout after 1.0 s")
    reason: str = ""  # a code from REASONS when not ok ("" when ok)
    params: dict = field(default_factory=dict)  # the reason's parameters ({"timeout_s": 1.0})
    data: bytes = field(default=b"", repr=False)  # snapshot bytes (never dumped into a log)
    source_name: str = ""

    @property
    def elapsed_ms(self) -> float:
        return float(self.metrics.get("elapsed_ms", 0.0))


def failed(target: str, probe: str, reason: str, detail: str, at: datetime | None = None, metrics: dict | None = None,
           **params) -> ProbeResult:
    """A failed result with its reason code, parameters and English detail."""
    return ProbeResult(target, probe, False, at or datetime.now(timezone.utc), metrics or {}, detail, reason, params)
