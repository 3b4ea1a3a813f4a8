"""Probe kinds by their stored name ("ping", "snmp", "tcp"): check a config once, then probe many targets.

The kind string is what the database stores (Device.liveness_probe); never rename one (STYLE §6).
A bad config (bad address, bad SNMP version, v3 without keys) raises ValueError when the target is
built — at config time — so a poll never fails on it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from probes import ping, snmp, tcp
from probes.base import ConfigError, ProbeResult


@dataclass(frozen=True)
class ProbeKind:
    name: str
    build: Callable[..., Any]  # (key, **config) → a validated target; ValueError when the config is wrong
    run_many: Callable[..., list[ProbeResult]]  # (targets, timeout_s, concurrency) → results in order
    description: str = ""


def _build_ping(key: str, address: str = "", **_ignored) -> tuple[str, str]:
    return (key, ping.validate_address(address))


def _run_ping(targets, timeout_s: float = 1.0, concurrency: int = 1000) -> list[ProbeResult]:
    return ping.ping_many(list(targets), timeout_s, concurrency)


def _build_tcp(key: str, address: str = "", port=None, **_ignored) -> tuple[str, str, int]:
    return (key, ping.validate_address(address), tcp.validate_port(port))


def _run_tcp(targets, timeout_s: float = 1.0, concurrency: int = 256) -> list[ProbeResult]:
    return tcp.connect_many(list(targets), timeout_s, concurrency)


_SNMP_FIELDS = ("address", "port", "version", "community", "user", "auth_protocol", "auth_key",
                "priv_protocol", "priv_key", "kind", "interfaces")


def _build_snmp(key: str, **config) -> snmp.SnmpTarget:
    unknown = set(config) - set(_SNMP_FIELDS)
    if unknown:
        names = ", ".join(sorted(unknown))
        raise ConfigError("unknown_settings", f"unknown SNMP settings: {names}", names=names)
    if config.get("port") in (None, ""):
        config.pop("port", None)
    return snmp.SnmpTarget(key=key, **config)


def _run_snmp(targets, timeout_s: float = 1.0, concurrency: int = 500) -> list[ProbeResult]:
    return snmp.get_many_sync(list(targets), None, timeout_s, concurrency)


PROBES: dict[str, ProbeKind] = {
    "ping": ProbeKind("ping", _build_ping, _run_ping, "ICMP echo: ok with rtt_ms, or a timeout"),
    "snmp": ProbeKind("snmp", _build_snmp, _run_snmp,
                      "SNMP GET (v2c/v3): sys_uptime_s, sys_descr, sys_object_id, if_down, vendor health"),
    "tcp": ProbeKind("tcp", _build_tcp, _run_tcp,
                     "TCP connect to a port (HTTP 80, RTSP 554): liveness without ICMP; ok with rtt_ms"),
}


def register(kind: ProbeKind) -> None:
    """Add a probe kind (e.g. "snapshot" from probes.snapshot)."""
    PROBES[kind.name] = kind


def get(name: str) -> ProbeKind:
    try:
        return PROBES[name]
    except KeyError:
        known = ", ".join(sorted(PROBES))
        raise ConfigError("unknown_probe_kind", f"unknown probe kind {name!r}; one of: {known}", kind=str(name),
                          known=known) from None


def build_target(name: str, key: str, **config):
    """A checked target for probe kind `name`; ConfigError (a ValueError with a reason code) when the config is wrong."""
    return get(name).build(key, **config)


def run_many(name: str, targets, timeout_s: float = 1.0, concurrency: int | None = None) -> list[ProbeResult]:
    kind = get(name)
    if concurrency is None:
        return kind.run_many(targets, timeout_s)
    return kind.run_many(targets, timeout_s, concurrency)
