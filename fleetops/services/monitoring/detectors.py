"""Detectors that find faults no probe result shows directly; each raises an alert through the alerts area.

- U7 "online but no data": a camera that answers ping but uploads nothing, or far less than the same slot on
  previous days (pass-record counts pushed per camera and slot, or the quality area's individual records).
  A new fault announces `no_data_found`; tickets opens a ticket for it (`on_no_data_found` below).
- U2 silent probe agent: a district whose in-service devices produced no probe result for N minutes; a registered
  probe agent (issue 14) that stopped pushing is judged on its own, per agent (`services/agents/silence.py`), and
  its devices are left out of the district check.

Jobs: job_no_data (alerts_no_data), job_probe_silence (alerts_probe_silence). The contract numbers keep their
"alerts." keys (already stored in contract_parameters).
"""
import logging
import statistics
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fleetops.domain import inputs
from fleetops.domain.choices import CAMERA_KINDS, IN_SERVICE
from fleetops.domain.errors import ValidationFailed
from fleetops.domain.text import Msg
from fleetops.models import Device, Site
from fleetops.models.alerts import Alert, PassCount
from fleetops.models.base import utcnow
from fleetops.platform import events, parameters
from fleetops.platform.i18n import DEFAULT_LOCALE
from fleetops.services import alerts
from fleetops.services.alerts.messages import local_time

log = logging.getLogger(__name__)

PARAMETERS = {
    "alerts.no_data_ratio": (0.2,
        "U7: a slot below this share of the usual count is 'online but no data'"),
    "alerts.no_data_min_baseline": (10,
        "U7: judge only cameras that usually upload at least N records per slot"),
    "alerts.no_data_baseline_days": (7,
        "U7: compare with the same slot on N previous days"),
    "alerts.no_data_min_history_days": (3,
        "U7: need at least N previous days with counts"),
    "alerts.pass_count_interval_s": (3600,
        "U7: length of one pass-count slot"),
    "alerts.probe_silent_min": (10,
        "U2: no probe result from a district for N minutes means its probe agent is silent"),
}


# ------------------------------------------------------------------------------------- U7: online but no data
def record_pass_counts(session: Session, rows: list[dict], interval_s: int | None = None) -> int:
    """U7: store pass-record counts [{"device": code, "slot_start": datetime, "count": n}]; all or nothing."""
    interval_s = int(interval_s or parameters.get(session, "alerts.pass_count_interval_s"))
    errors, clean = [], []
    codes = {r.get("device") for r in rows if isinstance(r, dict) and isinstance(r.get("device"), str)}
    devices = {d.code: d for d in session.scalars(select(Device).where(Device.code.in_(codes or [""]))).all()}
    for i, r in enumerate(rows, 1):
        if not isinstance(r, dict):
            errors.append(str(Msg("#%(n)s: not an object", n=i)))
            continue
        code = r.get("device")
        device = devices.get(code) if isinstance(code, str) else None
        slot = r.get("slot_start")
        if isinstance(slot, str):
            try:
                slot = inputs.check_time(datetime.fromisoformat(slot.replace("Z", "+00:00")), "slot_start")
            except (ValueError, ValidationFailed):  # named below, with the row's number
                slot = None
        count = r.get("count")
        if not isinstance(code, str):
            errors.append(str(Msg("#%(n)s: device must be a device code", n=i)))
        elif device is None:
            errors.append(str(Msg("#%(n)s: unknown device %(code)s", n=i, code=repr(r.get("device")))))
        elif not isinstance(slot, datetime) or slot.tzinfo is None:
            errors.append(str(Msg("#%(n)s: slot_start must be an ISO time with zone", n=i)))
        elif not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= 2**31 - 1:
            errors.append(str(Msg("#%(n)s: count must be a whole number ≥ 0", n=i)))
        else:
            clean.append((device.id, slot.astimezone(timezone.utc), count))
    if errors:
        raise ValidationFailed(Msg("Pass counts rejected, nothing saved."), errors=errors)
    for device_id, slot, count in clean:
        row = session.scalar(select(PassCount).where(PassCount.device_id == device_id, PassCount.slot_start == slot))
        if row is None:
            session.add(PassCount(device_id=device_id, slot_start=slot, interval_s=interval_s, count=count))
        else:
            row.count, row.interval_s, row.received_at = count, interval_s, utcnow()
    session.flush()
    return len(clean)


def _record_counts(session: Session, slots: list[datetime], interval_s: int) -> dict[tuple[int, datetime], int]:
    """U7: pass records per camera per slot, from the counts pushed through the API and from the quality area's
    individual pass records (the larger of the two, as both may describe the same uploads)."""
    counts: dict[tuple[int, datetime], int] = {}
    for r in session.execute(select(PassCount.device_id, PassCount.slot_start, PassCount.count).where(
            PassCount.slot_start.in_(slots))):
        counts[(r.device_id, r.slot_start)] = r.count
    from fleetops.models.quality import PassRecord

    for start in slots:
        end = start + timedelta(seconds=interval_s)
        for device_id, n in session.execute(select(PassRecord.device_id, func.count()).where(
                PassRecord.captured_at >= start, PassRecord.captured_at < end).group_by(PassRecord.device_id)):
            counts[(device_id, start)] = max(n, counts.get((device_id, start), 0))
    return counts


def check_no_data(session: Session, now: datetime | None = None) -> dict:
    """U7: cameras that answer ping but upload nothing, or far less than the same slot on previous days."""
    now = now or utcnow()
    interval = int(parameters.get(session, "alerts.pass_count_interval_s"))
    ratio = float(parameters.get(session, "alerts.no_data_ratio"))
    min_base = float(parameters.get(session, "alerts.no_data_min_baseline"))
    days = int(parameters.get(session, "alerts.no_data_baseline_days"))
    min_days = int(parameters.get(session, "alerts.no_data_min_history_days"))
    epoch = int(now.timestamp())
    slot = datetime.fromtimestamp(epoch - epoch % interval - interval, timezone.utc)  # last complete slot
    history_slots = [slot - timedelta(days=d) for d in range(1, days + 1)]
    cams = session.scalars(select(Device).where(Device.kind.in_([k.value for k in CAMERA_KINDS]),
                                                Device.lifecycle.in_([s.value for s in IN_SERVICE]))).all()
    counts = _record_counts(session, [slot, *history_slots], interval)
    opened = resolved = 0
    for cam in cams:
        history = [counts[(cam.id, s)] for s in history_slots if (cam.id, s) in counts]
        if len(history) < min_days:
            continue
        baseline = statistics.median(history)
        current = counts.get((cam.id, slot), 0)  # nothing pushed for the slot = nothing uploaded
        key = f"device:{cam.id}:no_data"
        starving = baseline >= min_base and current < ratio * baseline
        if starving and cam.status == "up":
            title = Msg("Online but no data: %(site)s %(device)s", site=cam.site.name, device=cam.code)
            body = Msg("%(minutes)s minutes from %(since)s: %(count)s pass records; the same slot on earlier days "
                       "had a median of %(baseline)s", since=local_time(slot, cam.site.timezone),
                       minutes=interval // 60, count=current, baseline=f"{baseline:g}")
            alert, new = alerts.raise_alert(session, key, "no_data", "critical", title, body, device=cam,
                                            source_type="pass_counts", source_id=slot.isoformat(), now=now)
            if new:
                opened += 1
                summary = Msg("%(title)s. %(body)s", title=title, body=body).render(DEFAULT_LOCALE)
                events.emit(session, "no_data_found", device_id=cam.id, alert_id=alert.id, summary=summary,
                            detected_at=now)
        elif not starving and alerts.resolve_key(session, key, now):
            resolved += 1
    return {"opened": opened, "resolved": resolved, "slot": slot.isoformat()}


def on_no_data_found(session: Session, device_id, alert_id, summary="", detected_at=None, **_):
    """T1/U7 — tickets' reaction: "online but no data" is a fault with its own ticket (an open one for the same
    fault is reused), linked from the alert. Kept here, calling tickets' public `open_ticket`, until the tickets
    area takes this handler into its own subscribers."""
    from fleetops.services import tickets

    ticket = tickets.open_ticket(session, device_id=device_id, category="no_records", source="no_data",
                                 opened_by="system", detected_at=detected_at, summary=summary, now=detected_at)
    alerts.link_ticket(session, alert_id, ticket.id)


def job_no_data(ctx) -> None:
    with ctx.session() as s:
        stats = check_no_data(s)
    log.info("job=alerts_no_data opened=%s resolved=%s slot=%s", stats["opened"], stats["resolved"], stats["slot"])


# ------------------------------------------------------------------------------------- U2: silent probe agent
def check_probe_silence(session: Session, now: datetime | None = None) -> dict:
    """U2: a district whose in-service devices produced no probe result at all for N minutes has a silent probe
    agent (or poller) — nobody would notice its devices going down. One alert per district; cleared when results
    arrive again. Only the recent window of the results index is read."""
    from fleetops.models.monitoring import ProbeResultRow

    now = now or utcnow()
    window = timedelta(minutes=float(parameters.get(session, "alerts.probe_silent_min")))
    from fleetops.services.agents.scope import owners  # issue 14: an agent's scope is watched per agent

    by_agent = owners(session)
    watched = {district for did, district in session.execute(
        select(Device.id, Site.district).join(Site, Device.site_id == Site.id).where(
            Device.lifecycle.in_([s.value for s in IN_SERVICE]), Device.ip_address.is_not(None)))
        if did not in by_agent}

    def districts_heard(since: datetime, until: datetime) -> set:
        return set(session.scalars(select(Site.district).select_from(ProbeResultRow)
                                   .join(Device, Device.id == ProbeResultRow.device_id)
                                   .join(Site, Site.id == Device.site_id)
                                   .where(ProbeResultRow.at >= since, ProbeResultRow.at < until).distinct()))

    heard = districts_heard(now - window, now + timedelta(days=1))
    # A district is silent only if it was heard before the window: a fresh system (or a new district) whose
    # first poll has not run yet is not an outage of the poller. An alert already open stays until results return.
    heard_before = districts_heard(now - window - timedelta(days=1), now - window)
    open_keys = {a.key for a in session.scalars(select(Alert).where(Alert.kind == "probe_agent_silent",
                                                                    Alert.state != "resolved"))}
    # While the probe host itself cannot probe (one "probe host problem" alert is open), its silence is that
    # problem, already told once: no extra per-district alarms on top of it.
    host_problem = session.scalar(select(Alert.id).where(Alert.kind == "probe_host_problem",
                                                         Alert.state != "resolved").limit(1)) is not None
    opened = resolved = 0
    for district in sorted(watched):
        key = f"agent:{district or '-'}:silent"
        if district not in heard and district not in heard_before and key not in open_keys:
            continue
        if host_problem and district not in heard and key not in open_keys:
            continue
        if district in heard:
            if alerts.resolve_key(session, key, now):
                resolved += 1
            continue
        _a, new = alerts.raise_alert(
            session, key, "probe_agent_silent", "critical",
            Msg("Probing interrupted: no probe results from %(district)s for %(minutes)s minutes",
                district=district or Msg("No district"), minutes=int(window.total_seconds() // 60)),
            Msg("Devices going offline in this district would go unnoticed; check the probe program and its "
                "network"),
            audience=("supervisor",), source_type="agent", source_id=district, now=now, district=district)
        opened += new
    # A district now probed wholly by registered agents is watched per agent: its old district alert ends here.
    for key in sorted(k for k in open_keys if k.startswith("agent:") and k not in
                      {f"agent:{d or '-'}:silent" for d in watched}):
        if alerts.resolve_key(session, key, now):
            resolved += 1
    silent = {d for d in watched - heard if d in heard_before or f"agent:{d or '-'}:silent" in open_keys}
    return {"silent": len(silent), "opened": opened, "resolved": resolved}


def job_probe_silence(ctx) -> None:
    from fleetops.services.agents.silence import check_agents

    with ctx.session() as s:
        stats = check_probe_silence(s)
        agent_stats = check_agents(s)
    if agent_stats["silent"] or agent_stats["resolved"]:
        log.info("job=alerts_probe_silence agents_silent=%s opened=%s resolved=%s", agent_stats["silent"],
                 agent_stats["opened"], agent_stats["resolved"])
    if stats["silent"] or stats["resolved"]:
        log.info("job=alerts_probe_silence silent=%s opened=%s resolved=%s", stats["silent"], stats["opened"],
                 stats["resolved"])
