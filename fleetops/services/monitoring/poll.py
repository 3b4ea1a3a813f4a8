"""The poll (U1): probe every due in-service device at once (ICMP or TCP, SNMP) and hand the results to the ingest.

Liveness per device (Device.liveness_probe): "ping" — ICMP echo on a raw socket (root or CAP_NET_RAW), else the
unprivileged ICMP datagram socket, else (this host may not send ICMP at all) a TCP connect to the device's port;
"tcp" — a TCP connect (ICMP blocked on the way to the device); "snmp" — the SNMP answer. For "tcp" and the ping
fallback an SNMP answer in the same poll counts as alive too. Each ok result says how it was measured.

Failures whose reason lies on this host (`probes.base.LOCAL_REASONS`: not permitted, socket error, no route) say
nothing about the device: they are not stored, so they never open a device outage; when more than
PROBE_HOST_PROBLEM_SHARE of the polled devices fail that way, one "probe host problem" alert says why.
"""
import logging
import socket
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from fleetops.db import session_scope
from fleetops.domain.choices import IN_SERVICE, liveness_tcp_port
from fleetops.domain.probe_reasons import reason_msg
from fleetops.domain.text import Msg
from fleetops.models import Device
from fleetops.models.base import utcnow
from fleetops.models.monitoring import MonitorState
from fleetops.services.monitoring.ingest import ingest_results
from fleetops.services.monitoring.settings import IngestConfig, IngestSummary

log = logging.getLogger(__name__)

PROBE_HOST_ALERT = "probe_host_problem"


def _targets(session: Session, cfg: IngestConfig, now: datetime, only=None):
    """(ping targets, TCP targets, SNMP targets, TCP ports, config problems) for every due in-service device
    that no probe agent probes (agents and the central poll never both probe one device).

    TCP ports are (code → port) for every device that may be checked by TCP (tcp liveness, or the ping fallback).
    The problems are English lines for the log."""
    from probes.snmp import SnmpTarget

    cols = (Device.id, Device.code, Device.kind, Device.ip_address, Device.liveness_probe, Device.liveness_port,
            Device.snmp_version, Device.snmp_port, Device.snmp_community, Device.snmp_v3_user,
            Device.snmp_v3_auth_protocol, Device.snmp_v3_auth_key, Device.snmp_v3_priv_protocol,
            Device.snmp_v3_priv_key, MonitorState.last_at)
    q = (select(*cols).outerjoin(MonitorState, and_(MonitorState.device_id == Device.id,
                                                    MonitorState.probe == Device.liveness_probe))
         .where(Device.lifecycle.in_([x.value for x in IN_SERVICE]), Device.ip_address.is_not(None),
                Device.ip_address != ""))
    if only is not None:  # poll_devices: these devices now, due or not
        q = q.where(Device.id.in_(list(only)))
    pings, tcps, snmps, ports, problems = [], [], [], {}, []
    from fleetops.services.agents.scope import owners  # issue 14: a device in an agent's scope is the agent's

    by_agent = owners(session)
    for r in session.execute(q):
        if r.id in by_agent:
            continue
        interval = int(cfg.interval_by_kind.get(r.kind, cfg.poll_interval_s))
        if only is None and interval > cfg.poll_interval_s and r.last_at is not None and \
                (now - r.last_at).total_seconds() < interval - cfg.poll_interval_s / 2:
            continue  # a per-kind slower poll that is not due yet
        if r.liveness_probe in ("ping", "tcp"):
            ports[r.code] = liveness_tcp_port(r.kind, r.liveness_port)
        if r.liveness_probe == "ping":
            pings.append((r.code, r.ip_address))
        elif r.liveness_probe == "tcp":
            tcps.append((r.code, r.ip_address, ports[r.code]))
        elif not r.snmp_version:
            problems.append(f"{r.code}: liveness by SNMP but no SNMP version set")
        if r.snmp_version:
            try:
                snmps.append(SnmpTarget(
                    key=r.code, address=r.ip_address, port=r.snmp_port or 161, version=r.snmp_version,
                    community=r.snmp_community, user=r.snmp_v3_user, auth_protocol=r.snmp_v3_auth_protocol,
                    auth_key=r.snmp_v3_auth_key, priv_protocol=r.snmp_v3_priv_protocol,
                    priv_key=r.snmp_v3_priv_key, kind=r.kind))
            except ValueError as err:  # bad probe config: say which device, never the secret
                problems.append(f"{r.code}: {err}")
    return pings, tcps, snmps, ports, problems


def probe_all(pings, tcps, snmps, ports, conf) -> tuple[list, str]:
    """Run the probes; returns (results, how ping devices were checked: "icmp", "icmp-dgram", "tcp" or "none")."""
    from probes import ping as ping_probe
    from probes import snmp as snmp_probe
    from probes import tcp as tcp_probe

    concurrency = int(conf.get("POLL_CONCURRENCY", 512))
    tcp_timeout = float(conf.get("TCP_TIMEOUT_S", 1.0))
    icmp = ping_probe.icmp_method(conf.get("ICMP_MODE", "auto")) if pings else None
    fallback = bool(pings) and icmp is None and bool(conf.get("LIVENESS_TCP_FALLBACK", True))
    ping_mode = icmp or ("tcp" if fallback else "none")
    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="poll") as pool:
        if fallback:  # this host may not send ICMP: ping devices are checked by a TCP connect instead
            ping_future = pool.submit(tcp_probe.connect_many, [(k, a, ports[k]) for k, a in pings], tcp_timeout,
                                      min(concurrency, 256), "ping")
        else:
            ping_future = pool.submit(ping_probe.ping_many, pings, float(conf.get("PING_TIMEOUT_S", 1.0)),
                                      concurrency, mode=conf.get("ICMP_MODE", "auto")) if pings else None
        tcp_future = pool.submit(tcp_probe.connect_many, tcps, tcp_timeout, min(concurrency, 256)) if tcps else None
        snmp_future = pool.submit(snmp_probe.get_many_sync, snmps, None, float(conf.get("SNMP_TIMEOUT_S", 2.0)),
                                  concurrency) if snmps else None
        by_tcp = (ping_future.result() if fallback and ping_future else []) + \
            (tcp_future.result() if tcp_future else [])
        icmp_results = ping_future.result() if ping_future and not fallback else []
        snmp_results = snmp_future.result() if snmp_future else []
    _snmp_counts_too(by_tcp, snmp_results)
    for r in by_tcp:  # shown with the result when it was not measured the way the device's method says
        if r.ok and (r.probe == "ping" or r.metrics.get("method") == "snmp"):
            r.detail = Msg("via %(method)s", method=_method_words(r.metrics.get("method", ""))).stored()
    return icmp_results + by_tcp + snmp_results, ping_mode


def _method_words(method: str) -> str:
    """"tcp:554" → "TCP 554", "snmp" → "SNMP": protocol names, the same in every language."""
    return method.replace("tcp:", "TCP ").upper() if method else "?"


def _snmp_counts_too(tcp_results, snmp_results) -> None:
    """A device checked by TCP whose port did not answer but whose SNMP agent did is alive ("snmp")."""
    answered = {r.target: r for r in snmp_results if r.ok}
    for r in tcp_results:
        if not r.ok and r.target in answered and r.reason not in ("bad_address", "bad_port"):
            r.ok, r.reason, r.params, r.detail = True, "", {}, ""
            r.metrics = {"method": "snmp"}


def split_local(results) -> tuple[list, list]:
    """(results to store, failures whose reason lies on this host — never stored, never an outage)."""
    from probes.base import is_local

    keep, local = [], []
    for r in results:
        (local if is_local(r) else keep).append(r)
    return keep, local


def judge_probe_host(session: Session, local, polled: int, share_limit: float, now: datetime | None = None) -> bool:
    """One "probe host problem" alert while more than `share_limit` of the polled devices fail for a local
    reason (the commonest one is named); resolved when a poll is below it again. True when the problem stands."""
    from fleetops.services import alerts

    host = socket.gethostname()
    key = f"probe_host:{host}:local"
    devices = {r.target for r in local}
    if polled and len(devices) / polled > share_limit:
        (reason, _n), = Counter(r.reason for r in local).most_common(1)
        example = next(r for r in local if r.reason == reason)
        alerts.raise_alert(
            session, key, PROBE_HOST_ALERT, "critical",
            Msg("Probe host problem on %(host)s: %(failing)s of %(total)s devices cannot be probed",
                host=host, failing=len(devices), total=polled),
            Msg("%(reason)s. No device outage is opened for these results; fix the probe host (see the "
                "README: running as a service user).", reason=reason_msg(reason, example.params, example.detail)),
            audience=("supervisor",), source_type="probe_host", source_id=host, now=now, district="")
        return True
    alerts.resolve_key(session, key, now)
    return False


def poll_once(source, config: dict | None = None, now: datetime | None = None) -> IngestSummary:
    """Probe every due in-service device (liveness by its method, SNMP where configured) and ingest the results.

    `source` is a JobContext (or anything with `extensions` and `config`, such as the Flask app) or a
    sessionmaker (then `config` gives the settings)."""
    if hasattr(source, "extensions"):
        factory, conf = source.extensions["fleetops.sessionmaker"], source.config
    else:
        factory, conf = source, config or {}
    cfg = IngestConfig.from_app_config(conf)
    started = time.monotonic()
    with session_scope(factory) as s:
        pings, tcps, snmps, ports, problems = _targets(s, cfg, now or utcnow())
    for p in problems:
        log.warning("job=poll bad_probe_config %s", p)
    results, ping_mode = probe_all(pings, tcps, snmps, ports, conf)
    results, local = split_local(results)
    probed_s = time.monotonic() - started
    polled = len({k for k, _ in pings} | {k for k, *_ in tcps} | {t.key for t in snmps})
    with session_scope(factory) as s:
        summary = ingest_results(s, results, cfg, now=now)
        host_problem = judge_probe_host(s, local, polled, float(conf.get("PROBE_HOST_PROBLEM_SHARE", 0.2)), now)
    ok = sum(1 for r in results if r.ok)
    reasons = ",".join(f"{k}:{v}" for k, v in Counter(r.reason for r in local).most_common())
    log.info("job=poll devices=%d results=%d ok=%d failed=%d local=%d%s ping_by=%s opened=%d closed=%d "
             "probe_s=%.1f duration_s=%.1f", polled, len(results), ok, len(results) - ok, len(local),
             f" local_reasons={reasons}{' probe_host_problem=1' if host_problem else ''}" if local else "",
             ping_mode, summary.outages_opened, summary.outages_closed, probed_s, time.monotonic() - started)
    return summary


def poll_devices(source, device_ids, config: dict | None = None, now: datetime | None = None) -> IngestSummary:
    """Probe just these in-service devices now, due or not (a link-down trap asks for it), and ingest the results
    through the same path as the poll. `source` as for poll_once."""
    if hasattr(source, "extensions"):
        factory, conf = source.extensions["fleetops.sessionmaker"], source.config
    else:
        factory, conf = source, config or {}
    cfg = IngestConfig.from_app_config(conf)
    with session_scope(factory) as s:
        pings, tcps, snmps, ports, problems = _targets(s, cfg, now or utcnow(), only=set(device_ids))
    for p in problems:
        log.warning("job=poll_devices bad_probe_config %s", p)
    results, _mode = probe_all(pings, tcps, snmps, ports, conf)
    results, _local = split_local(results)
    with session_scope(factory) as s:
        summary = ingest_results(s, results, cfg, now=now)
    log.info("job=poll_devices devices=%d results=%d ok=%d opened=%d closed=%d", len(set(device_ids)), len(results),
             sum(1 for r in results if r.ok), summary.outages_opened, summary.outages_closed)
    return summary
