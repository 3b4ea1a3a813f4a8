"""The poll (U1): probe every due in-service device at once (ICMP, SNMP) and hand the results to the ingest."""
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from fleetops.db import session_scope
from fleetops.domain.choices import IN_SERVICE
from fleetops.models import Device
from fleetops.models.base import utcnow
from fleetops.models.monitoring import MonitorState
from fleetops.services.monitoring.ingest import ingest_results
from fleetops.services.monitoring.settings import IngestConfig, IngestSummary

log = logging.getLogger(__name__)


def _targets(session: Session, cfg: IngestConfig, now: datetime):
    """(ping targets, SNMP targets, config problems) for every in-service device with an address that is due.

    The problems are English lines for the log."""
    from probes.snmp import SnmpTarget

    cols = (Device.id, Device.code, Device.kind, Device.ip_address, Device.liveness_probe, Device.snmp_version,
            Device.snmp_port, Device.snmp_community, Device.snmp_v3_user, Device.snmp_v3_auth_protocol,
            Device.snmp_v3_auth_key, Device.snmp_v3_priv_protocol, Device.snmp_v3_priv_key, MonitorState.last_at)
    q = (select(*cols).outerjoin(MonitorState, and_(MonitorState.device_id == Device.id,
                                                    MonitorState.probe == Device.liveness_probe))
         .where(Device.lifecycle.in_([x.value for x in IN_SERVICE]), Device.ip_address.is_not(None),
                Device.ip_address != ""))
    pings, snmps, problems = [], [], []
    for r in session.execute(q):
        interval = int(cfg.interval_by_kind.get(r.kind, cfg.poll_interval_s))
        if interval > cfg.poll_interval_s and r.last_at is not None and \
                (now - r.last_at).total_seconds() < interval - cfg.poll_interval_s / 2:
            continue  # a per-kind slower poll that is not due yet
        if r.liveness_probe == "ping":
            pings.append((r.code, r.ip_address))
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
    return pings, snmps, problems


def poll_once(source, config: dict | None = None, now: datetime | None = None) -> IngestSummary:
    """Probe every due in-service device (liveness by its probe, SNMP where configured) and ingest the results.

    `source` is a JobContext (or anything with `extensions` and `config`, such as the Flask app) or a
    sessionmaker (then `config` gives the settings)."""
    from probes import ping as ping_probe
    from probes import snmp as snmp_probe

    if hasattr(source, "extensions"):
        factory, conf = source.extensions["fleetops.sessionmaker"], source.config
    else:
        factory, conf = source, config or {}
    cfg = IngestConfig.from_app_config(conf)
    started = time.monotonic()
    with session_scope(factory) as s:
        pings, snmps, problems = _targets(s, cfg, now or utcnow())
    for p in problems:
        log.warning("job=poll bad_probe_config %s", p)
    concurrency = int(conf.get("POLL_CONCURRENCY", 512))
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="poll") as pool:
        ping_future = pool.submit(ping_probe.ping_many, pings, float(conf.get("PING_TIMEOUT_S", 1.0)), concurrency) \
            if pings else None
        snmp_future = pool.submit(snmp_probe.get_many_sync, snmps, None, float(conf.get("SNMP_TIMEOUT_S", 2.0)),
                                  concurrency) if snmps else None
        results = (ping_future.result() if ping_future else []) + (snmp_future.result() if snmp_future else [])
    probed_s = time.monotonic() - started
    with session_scope(factory) as s:
        summary = ingest_results(s, results, cfg, now=now)
    ok = sum(1 for r in results if r.ok)
    log.info("job=poll devices=%d results=%d ok=%d failed=%d opened=%d closed=%d probe_s=%.1f duration_s=%.1f",
             len({k for k, _ in pings} | {t.key for t in snmps}), len(results), ok, len(results) - ok,
             summary.outages_opened, summary.outages_closed, probed_s, time.monotonic() - started)
    return summary
