"""Discovery sweeps (issue 12 part 2, F4): SNMP (v2c/v3, with the inventory's credentials) and ICMP across allowed
ranges, with bounded concurrency and progress; results saved with the sweep.

Only ranges inside the camera-network allow-list (contract parameter `camera_networks`, platform/netpolicy) may be
swept, and no more than 2^(32 − DISCOVERY_MAX_PREFIX) addresses at once (/20 by default): anything else is refused
with a message naming the range, before a packet is sent. Rows:
- unmanaged: an answering address that is not in the inventory (sysName/sysDescr/sysObjectID, guessed kind/vendor);
- never_online: an in-service inventory device in the ranges that did not answer (ICMP really unanswered — not
  when this host may not send ICMP) and has never answered since it was put in service (no successful probe
  result, no "last seen");
- mismatch: an inventory device whose sysDescr/sysObjectID contradict its recorded vendor or model.
The probing runs in the calling thread (its own event loop and sockets), so one sweep never shares the poll's socket.
"""
from __future__ import annotations

import asyncio
import ipaddress
import logging
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from fleetops.db import session_scope
from fleetops.domain.choices import IN_SERVICE
from fleetops.domain.errors import ValidationFailed
from fleetops.domain.text import Msg
from fleetops.models import Device
from fleetops.models.base import utcnow
from fleetops.models.discovery import DiscoveryResult, DiscoverySweep
from fleetops.models.monitoring import ProbeResultRow
from fleetops.platform import audit, netpolicy, parameters
from fleetops.services.discovery import guess

log = logging.getLogger(__name__)

RANGES = "discovery_ranges"
PARAMETERS = {
    RANGES: ({}, "Discovery sweeps per district: {\"district\": {\"networks\": [\"10.1.0.0/22\"], \"interval_h\": 24}}; "
                 "only ranges inside the camera networks are swept"),
}
SYS_NAME = "1.3.6.1.2.1.1.5.0"
QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
STATUSES = ("unmanaged", "never_online", "mismatch")
STALE_S = 900
MAX_NETWORKS = 64


# ------------------------------------------------------------------------------------------ ranges
def check_networks(session: Session, cidrs, max_prefix: int = 20) -> list[ipaddress.IPv4Network]:
    """The ranges as networks, or ValidationFailed naming the first bad, disallowed or too large one."""
    cidrs = [str(c).strip() for c in (cidrs or []) if str(c).strip()]
    if not cidrs:
        raise ValidationFailed(Msg("Give at least one range to sweep (CIDR, e.g. 10.1.2.0/24)."), field="networks")
    if len(cidrs) > MAX_NETWORKS:
        raise ValidationFailed(Msg("At most %(n)s ranges per sweep.", n=MAX_NETWORKS), field="networks")
    allowed = netpolicy.networks(session, netpolicy.CAMERAS)
    nets = []
    for c in cidrs:
        try:
            net = ipaddress.ip_network(c, strict=False)
        except ValueError:
            raise ValidationFailed(Msg("%(range)s is not a network range (CIDR, e.g. 10.1.2.0/24).", range=c[:60]),
                                   field="networks") from None
        if net.version != 4:
            raise ValidationFailed(Msg("Only IPv4 ranges can be swept: %(range)s.", range=c[:60]), field="networks")
        if not any(net.subnet_of(a) and netpolicy.address_allowed(str(net.network_address), [a])
                   and netpolicy.address_allowed(str(net.broadcast_address), [a]) for a in allowed
                   if a.version == 4):
            raise ValidationFailed(Msg("The range %(range)s is outside the camera networks an administrator allowed "
                                       "(contract parameter %(key)s); it is not swept.", range=str(net),
                                       key=netpolicy.CAMERAS), field="networks")
        nets.append(net)
    total = sum(net.num_addresses for net in nets)
    if total > 2 ** (32 - max_prefix):
        raise ValidationFailed(Msg("A sweep covers at most %(max)s addresses (one /%(prefix)s); these ranges have "
                                   "%(n)s. Split them into several sweeps.", max=2 ** (32 - max_prefix),
                                   prefix=max_prefix, n=total), field="networks")
    return nets


def host_addresses(nets) -> list[str]:
    seen, out = set(), []
    for net in nets:
        hosts = net.hosts() if net.prefixlen < 31 else iter(net)
        for a in hosts:
            s = str(a)
            if s not in seen:
                seen.add(s)
                out.append(s)
    return out


# ------------------------------------------------------------------------------------------ probing
def credentials(session: Session) -> list[dict]:
    """The distinct SNMP credentials configured in the inventory (v2c communities, v3 users), most used first."""
    rows = session.execute(select(Device.snmp_version, Device.snmp_community, Device.snmp_v3_user,
                                  Device.snmp_v3_auth_protocol, Device.snmp_v3_auth_key, Device.snmp_v3_priv_protocol,
                                  Device.snmp_v3_priv_key).where(Device.snmp_version != "")).all()
    counts: dict[tuple, int] = {}
    for r in rows:
        if r.snmp_version == "v2c" and r.snmp_community:
            key = ("v2c", r.snmp_community, "", "", "", "", "")
        elif r.snmp_version == "v3" and r.snmp_v3_user:
            key = ("v3", "", r.snmp_v3_user, r.snmp_v3_auth_protocol or "", r.snmp_v3_auth_key or "",
                   r.snmp_v3_priv_protocol or "", r.snmp_v3_priv_key or "")
        else:
            continue
        counts[key] = counts.get(key, 0) + 1
    keys = sorted(counts, key=lambda k: -counts[k])
    return [dict(version=k[0], community=k[1], user=k[2], auth_protocol=k[3], auth_key=k[4], priv_protocol=k[5],
                 priv_key=k[6]) for k in keys]


def probe_addresses(addresses: list[str], creds: list[dict], conf: dict,
                    progress: Callable[[int, int, int], None] | None = None, snmp_port: int = 161) -> dict:
    """address → {"ping": True/False/None (None: this host could not send ICMP), "snmp": {sys_descr, sys_object_id,
    sys_name} | None}, chunk by chunk, calling
    progress(done, total, answered) after each chunk. Runs in the calling thread with its own sockets."""
    from probes import ping as ping_probe
    from probes.base import is_local

    concurrency = max(1, min(int(conf.get("DISCOVERY_CONCURRENCY", 64)), 512))
    timeout = float(conf.get("DISCOVERY_TIMEOUT_S", 1.0))
    mode = conf.get("ICMP_MODE", "auto")
    out: dict[str, dict] = {}
    step = concurrency * 4
    for start in range(0, len(addresses), step):
        chunk = addresses[start:start + step]
        pings = ping_probe.ping_many([(a, a) for a in chunk], timeout, concurrency, mode=mode) \
            if mode != "off" else []
        answers = {a: {"ping": None if mode == "off" else False, "snmp": None} for a in chunk}
        for r in pings:  # a failure whose cause is on this host (ICMP not permitted …) says nothing: None
            answers[r.target]["ping"] = True if r.ok else (None if is_local(r) else False)
        asyncio.run(_snmp(chunk, creds, answers, timeout, concurrency, snmp_port))
        out.update(answers)
        if progress is not None:
            progress(min(start + step, len(addresses)), len(addresses),
                     sum(1 for v in out.values() if v["ping"] or v["snmp"]))
    return out


async def _snmp(chunk, creds, answers, timeout, concurrency, port) -> None:
    from probes.base import ConfigError
    from probes.snmp import SnmpPoller, SnmpTarget

    poller = SnmpPoller(rcvbuf=1 << 20)
    try:
        for cred in creds:
            left = [a for a in chunk if answers[a]["snmp"] is None]
            if not left:
                break
            try:
                targets = [SnmpTarget(key=a, address=a, port=port, interfaces=0, **cred) for a in left]
            except (ConfigError, ValueError):
                continue  # a device's broken credentials: not usable for a sweep
            for r in await poller.get_many(targets, {"sys_name": SYS_NAME}, timeout, concurrency):
                if r.ok:
                    answers[r.target]["snmp"] = {k: (str(r.metrics[k]) if r.metrics.get(k) is not None else None)
                                                 for k in ("sys_descr", "sys_object_id", "sys_name")}
    finally:
        poller.close()


# ------------------------------------------------------------------------------------------ classifying
def classify(session: Session, addresses: list[str], answers: dict) -> list[dict]:
    """The sweep's rows (see the module docstring), unmanaged first, each kind by address."""
    inv: dict[str, Device] = {}
    for i in range(0, len(addresses), 500):
        for d in session.scalars(select(Device).where(Device.ip_address.in_(addresses[i:i + 500]))):
            inv[d.ip_address] = d
    last_ok = {}
    ids = [d.id for d in inv.values()]
    for i in range(0, len(ids), 500):
        q = (select(ProbeResultRow.device_id, func.max(ProbeResultRow.at))
             .where(ProbeResultRow.ok.is_(True), ProbeResultRow.device_id.in_(ids[i:i + 500]))
             .group_by(ProbeResultRow.device_id))
        last_ok.update(dict(session.execute(q).all()))
    in_service = {x.value for x in IN_SERVICE}
    rows = []
    for a in addresses:
        ans = answers.get(a) or {"ping": False, "snmp": None}
        snmp = ans["snmp"] or {}
        answered = bool(ans["ping"] or ans["snmp"])
        by = "+".join(p for p, ok in (("snmp", ans["snmp"] is not None), ("ping", ans["ping"])) if ok)
        d = inv.get(a)
        base = {"address": a, "sys_descr": snmp.get("sys_descr"), "sys_object_id": snmp.get("sys_object_id"),
                "sys_name": snmp.get("sys_name"), "answered_by": by}
        if d is None:
            if answered:
                v = guess.vendor_of(snmp.get("sys_object_id"), snmp.get("sys_descr"))
                rows.append({**base, "status": "unmanaged", "device": None, "device_id": None,
                             "guessed_vendor": v.name if v else "", "guessed_kind": guess.kind_of(snmp.get("sys_descr")),
                             "detail": ""})
            continue
        if not answered:
            # never online only when ICMP really went unanswered (not when this host could not send it)
            if ans["ping"] is False and d.lifecycle in in_service and _never_answered(d, last_ok.get(d.id)):
                rows.append({**base, "status": "never_online", "device": d.code, "device_id": d.id,
                             "guessed_vendor": "", "guessed_kind": "", "detail": ""})
            continue
        if ans["snmp"] is not None:
            why = guess.contradiction(d.vendor, d.model, snmp.get("sys_descr"), snmp.get("sys_object_id"))
            if why is not None:
                v = guess.vendor_of(snmp.get("sys_object_id"), snmp.get("sys_descr"))
                rows.append({**base, "status": "mismatch", "device": d.code, "device_id": d.id,
                             "guessed_vendor": v.name if v else "", "guessed_kind": guess.kind_of(snmp.get("sys_descr")),
                             "detail": why.stored()})
    order = {s: i for i, s in enumerate(STATUSES)}
    rows.sort(key=lambda r: (order[r["status"]], tuple(int(p) for p in r["address"].split("."))))
    return rows


def _never_answered(d: Device, last_ok: datetime | None) -> bool:
    since = d.in_service_from
    for seen in (last_ok, d.last_seen_at):
        if seen is not None and (since is None or seen >= since):
            return False
    return True


# ------------------------------------------------------------------------------------------ sweeps
def create_sweep(session: Session, cidrs, requested_by: str = "", district: str = "", conf: dict | None = None
                 ) -> DiscoverySweep:
    """A queued sweep of allowed ranges (refused otherwise). The caller commits."""
    nets = check_networks(session, cidrs, int((conf or {}).get("DISCOVERY_MAX_PREFIX", 20)))
    sweep = DiscoverySweep(networks=[str(n) for n in nets], district=district, requested_by=requested_by[:100],
                           state=QUEUED, hosts_total=len(host_addresses(nets)), error="")
    session.add(sweep)
    session.flush()
    audit.record(session, requested_by or None, "discovery_sweep_queued", "discovery_sweep", sweep.id,
                 summary=Msg("Sweep of %(networks)s queued.", networks=" ".join(sweep.networks)),
                 after={"networks": sweep.networks, "district": district})
    return sweep


def run_sweep(factory, sweep_id: int, conf: dict, progress: Callable[[int, int, int], None] | None = None
              ) -> list[dict]:
    """Probe and classify one sweep (already created), saving progress as it goes and the rows at the end."""
    with session_scope(factory) as s:
        sweep = s.get(DiscoverySweep, sweep_id)
        nets = check_networks(s, sweep.networks, int(conf.get("DISCOVERY_MAX_PREFIX", 20)))  # the list may have changed
        sweep.state, sweep.started_at, sweep.heartbeat_at = RUNNING, utcnow(), utcnow()
        creds = credentials(s)
    addresses = host_addresses(nets)

    def tick(done, total, answered):
        with session_scope(factory) as s2:
            s2.execute(update(DiscoverySweep).where(DiscoverySweep.id == sweep_id)
                       .values(hosts_done=done, answered=answered, heartbeat_at=utcnow()))
        if progress is not None:
            progress(done, total, answered)

    try:
        answers = probe_addresses(addresses, creds, conf, tick)
        with session_scope(factory) as s:
            rows = classify(s, addresses, answers)
            sweep = s.get(DiscoverySweep, sweep_id)
            for r in rows:
                s.add(DiscoveryResult(sweep_id=sweep_id, address=r["address"], status=r["status"],
                                      device_id=r["device_id"], device_code=r["device"] or "",
                                      sys_descr=_cut(r["sys_descr"]), sys_object_id=_cut(r["sys_object_id"]),
                                      sys_name=_cut(r["sys_name"]), answered_by=r["answered_by"],
                                      guessed_kind=r["guessed_kind"], guessed_vendor=r["guessed_vendor"],
                                      detail=r["detail"]))
            for status in STATUSES:
                setattr(sweep, status, sum(1 for r in rows if r["status"] == status))
            sweep.state, sweep.finished_at = DONE, utcnow()
            sweep.hosts_done, sweep.answered = len(addresses), sum(1 for v in answers.values() if v["ping"] or v["snmp"])
    except Exception:
        log.exception("discovery: sweep %s failed", sweep_id)
        with session_scope(factory) as s:
            s.execute(update(DiscoverySweep).where(DiscoverySweep.id == sweep_id).values(
                state=FAILED, finished_at=utcnow(), error=Msg("The sweep stopped on an error; see the log.").stored()))
        raise
    log.info("job=discovery sweep=%s networks=%s hosts=%d answered=%d unmanaged=%d never_online=%d mismatch=%d",
             sweep_id, ",".join(map(str, nets)), len(addresses), sum(1 for v in answers.values() if v["ping"] or v["snmp"]),
             *(sum(1 for r in rows if r["status"] == st) for st in STATUSES))
    return rows


def _cut(s):
    return s[:255] if isinstance(s, str) else s


def json_row(r) -> dict:
    """A result as the CLI and the API print it: exactly these keys."""
    get = (lambda k: r[k]) if isinstance(r, dict) else (lambda k: getattr(r, k))
    device = get("device") if isinstance(r, dict) else (r.device_code or None)
    return {"address": get("address"), "status": get("status"), "device": device, "sys_descr": get("sys_descr"),
            "sys_object_id": get("sys_object_id"), "sys_name": get("sys_name")}


# ------------------------------------------------------------------------------------------ the scheduler's job
def district_schedule(session: Session) -> list[dict]:
    """The districts' scheduled sweeps as configured (contract parameter discovery_ranges), with the last sweep."""
    out = []
    for district, spec in sorted((parameters.get(session, RANGES) or {}).items()):
        spec = spec if isinstance(spec, dict) else {}
        last = session.scalar(select(DiscoverySweep).where(DiscoverySweep.district == district)
                              .order_by(DiscoverySweep.id.desc()).limit(1))
        out.append({"district": district, "networks": list(spec.get("networks") or []),
                    "interval_h": spec.get("interval_h", 24), "last": last})
    return out


def queue_due_districts(session: Session, conf: dict, now: datetime | None = None) -> list[DiscoverySweep]:
    """A sweep for each district in `discovery_ranges` whose last sweep is older than its interval."""
    now = now or utcnow()
    made = []
    for district, spec in (parameters.get(session, RANGES) or {}).items():
        try:
            nets = list(spec.get("networks") or [])
            interval = timedelta(hours=float(spec.get("interval_h", 24)))
        except (AttributeError, TypeError, ValueError):
            log.warning("discovery: %s for district %s is not usable, skipped", RANGES, district)
            continue
        last = session.scalar(select(func.max(DiscoverySweep.created_at)).where(DiscoverySweep.district == district))
        if last is not None and now - last < interval:
            continue
        try:
            made.append(create_sweep(session, nets, "scheduler", district, conf))
        except ValidationFailed as err:
            log.warning("discovery: district %s not swept: %s", district, err.message)
    return made


def claim_next(factory) -> int | None:
    """Take the oldest queued sweep (a conditional UPDATE: two schedulers never run the same one); sweeps whose
    runner died (no heartbeat for STALE_S) are marked failed."""
    with session_scope(factory) as s:
        stale = utcnow() - timedelta(seconds=STALE_S)
        s.execute(update(DiscoverySweep).where(DiscoverySweep.state == RUNNING, DiscoverySweep.heartbeat_at < stale)
                  .values(state=FAILED, finished_at=utcnow(),
                          error=Msg("The sweep was interrupted; run it again.").stored()))
        for sid in s.scalars(select(DiscoverySweep.id).where(DiscoverySweep.state == QUEUED)
                             .order_by(DiscoverySweep.id).limit(5)):
            got = s.execute(update(DiscoverySweep).where(DiscoverySweep.id == sid, DiscoverySweep.state == QUEUED)
                            .values(state=RUNNING, heartbeat_at=utcnow()))
            if got.rowcount == 1:
                return sid
    return None


def job_discovery(ctx) -> None:
    """Queue the districts' due sweeps, then run one queued sweep (the web page's, or a district's)."""
    factory = ctx.extensions["fleetops.sessionmaker"]
    conf = ctx.config
    with session_scope(factory) as s:
        queue_due_districts(s, conf)
    sid = claim_next(factory)
    if sid is not None:
        try:
            run_sweep(factory, sid, conf)
        except ValidationFailed as err:
            with session_scope(factory) as s:
                s.execute(update(DiscoverySweep).where(DiscoverySweep.id == sid).values(
                    state=FAILED, finished_at=utcnow(), error=err.msg.stored() if isinstance(err.msg, Msg) else str(err.msg)))
        except Exception:  # noqa: BLE001 - logged and marked failed by run_sweep
            pass
