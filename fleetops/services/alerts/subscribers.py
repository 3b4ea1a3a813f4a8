"""The alert area's event handlers (listed in fleetops.wiring.SUBSCRIPTIONS): outages and site blackouts (U5),
known causes (quiet), reboots/flapping/hung (U6), low stock, image quality, plate accuracy, ticket deadlines,
and a remote probe agent's own heartbeat."""
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fleetops.domain.choices import IN_SERVICE
from fleetops.domain.quality import FindingKind
from fleetops.domain.text import Msg
from fleetops.domain.tickets import NOT_ARRIVED, NOT_RESOLVED, DeadlineKind
from fleetops.models import Device, Site
from fleetops.models.alerts import Alert, AlertDelivery
from fleetops.models.base import utcnow
from fleetops.platform import events, parameters
from fleetops.services.alerts.messages import is_known_cause, known_cause, label, local_time, site_tz
from fleetops.services.alerts.raising import cancel_unsent, get_open, raise_alert, raise_alerts, resolve, unsent_of
from fleetops.services.alerts.routing import Routes, enqueue
from fleetops.services import maintenance

FOLDED = Msg("Folded into the site blackout alert")
CAUSE_KNOWN = Msg("Cause already known")


def _quiet_causes(session: Session) -> set[str]:
    return set(parameters.get(session, "alerts.quiet_causes") or ())


def _known_cause_at_site(session: Session, site_id: int | None) -> str:
    """A1: an open alert at the site whose cause is already known and quiet (e.g. a recorded power cut)."""
    if site_id is None:
        return ""
    return _known_causes_at_sites(session, [site_id], _quiet_causes(session)).get(site_id, "")


def _known_causes_at_sites(session: Session, site_ids, quiet: set[str]) -> dict[int, str]:
    """_known_cause_at_site for many sites (two queries per 500): the quiet cause of the site's first open alert
    that has one, else of its first still-open outage that has one; sites without any are left out."""
    from fleetops.models.monitoring import Outage

    ids, out = sorted(set(site_ids)), {}
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        for site_id, cause in session.execute(select(Alert.site_id, Alert.cause).where(
                Alert.site_id.in_(chunk), Alert.open_key.is_not(None), Alert.cause != "",
                Alert.cause.in_(quiet or [""])).order_by(Alert.id)):
            out.setdefault(site_id, cause)
        rest = [sid for sid in chunk if sid not in out]
        if not rest:
            continue
        for site_id, cause in session.execute(select(Device.site_id, Outage.cause).join(
                Device, Device.id == Outage.device_id).where(
                Device.site_id.in_(rest), Outage.ended_at.is_(None), Outage.retracted_at.is_(None),
                Outage.cause.in_(quiet or [""])).order_by(Outage.id)):
            if cause:
                out.setdefault(site_id, cause)
    return out


def _hold_s(session: Session) -> int:
    return int(parameters.get(session, "alerts.group_hold_s") or 0)


def on_outage_opened(session: Session, outage_id, device_id, started_at=None, detected_at=None, **_):
    device = session.get(Device, device_id)
    if device is None or maintenance.is_held_outage(session, outage_id):
        return  # held by a maintenance window: the window's own note was sent instead
    now = detected_at or started_at or utcnow()
    site_alert = get_open(session, f"site:{device.site_id}:dark")
    cause = _known_cause_at_site(session, device.site_id)
    alert, new = raise_alert(
        session, f"device:{device.id}:down", "device_down", "critical",
        Msg("Device offline: %(site)s %(device)s", site=device.site.name, device=device.code),
        Msg("Offline detected, since %(since)s", since=local_time(started_at or now, device.site.timezone)),
        device=device, source_type="outage", source_id=outage_id, now=now,
        quiet_reason=known_cause(cause) if cause else "", group=site_alert, hold_s=_hold_s(session))
    if not new:
        alert.source_type, alert.source_id = "outage", str(outage_id)
    elif cause:
        alert.cause = cause


def on_outage_closed(session: Session, outage_id, device_id, ended_at=None, **_):
    alert = get_open(session, f"device:{device_id}:down")
    if alert is not None:
        resolve(session, alert, ended_at or utcnow())


def on_site_incidents_opened(session: Session, payloads: list[dict]) -> None:
    """U5: a site blackout is ONE message; device alerts at the site not yet sent are folded into it.
    For a batch of site_incident_opened payloads (a blackout, distinct sites): holds, open alerts, known causes,
    routes and unsent messages are read once for all sites and the site alerts raised together (raise_alerts);
    each site's alert and folding are what raising it alone gives."""
    from fleetops.models.monitoring import SiteIncident

    session.flush()  # what the batch reads below is read from the database
    held = maintenance.held_incidents(session, [p["incident_id"] for p in payloads])
    todo = []
    for p in payloads:
        site = session.get(Site, p["site_id"])
        if site is None or p["incident_id"] in held:
            continue
        todo.append((p, site))
    if not todo:
        return
    site_ids = sorted({site.id for _p, site in todo})
    children: dict[int, list[Alert]] = {sid: [] for sid in site_ids}
    for i in range(0, len(site_ids), 500):
        for a in session.scalars(select(Alert).where(
                Alert.site_id.in_(site_ids[i:i + 500]), Alert.open_key.is_not(None),
                Alert.kind.in_(("device_down", "device_hung")), Alert.group_id.is_(None)).order_by(Alert.id)):
            children[a.site_id].append(a)
    unsent = unsent_of(session, [a.id for cs in children.values() for a in cs]) if any(children.values()) else {}
    quiet = _quiet_causes(session)
    causes = _known_causes_at_sites(session, site_ids, quiet)
    specs = []
    for p, site in todo:
        now = p.get("detected_at") or p.get("started_at") or utcnow()
        incident = session.get(SiteIncident, p["incident_id"])
        n_devices = (incident.device_count if incident is not None and incident.device_count else
                     session.scalar(select(func.count()).select_from(Device).where(
                         Device.site_id == site.id, Device.lifecycle.in_([s.value for s in IN_SERVICE]))))
        cause = causes.get(site.id, "")
        specs.append(dict(
            key=f"site:{site.id}:dark", kind="site_dark", severity="critical",
            title=Msg("Whole site offline: %(code)s %(name)s", code=site.code, name=site.name),
            body=Msg("%(n)s devices at the site lost contact at once (switch, fibre or power fault), since %(since)s",
                     n=n_devices, since=local_time(p.get("started_at") or now, site.timezone)),
            site=site, source_type="site_incident", source_id=p["incident_id"], now=now,
            quiet_reason=known_cause(cause) if cause else "", hold_s=0))
    raised = raise_alerts(session, specs, Routes(session))
    for (_p, site), spec, (alert, new) in zip(todo, specs, raised):
        cause = causes.get(site.id, "")
        if new and cause:
            alert.cause = cause
        for child in children[site.id]:
            if child.group_id is not None or child.open_key is None:
                continue  # folded or resolved meanwhile
            child.group_id = alert.id
            if cancel_unsent(session, child, FOLDED, rows=unsent.get(child.id, [])):
                child.notify_count = 0
            if child.cause in quiet and not alert.quiet_reason:
                alert.cause, alert.quiet_reason = child.cause, known_cause(child.cause).stored()
                session.flush()  # its message, just queued, is withdrawn too
                cancel_unsent(session, alert, CAUSE_KNOWN)


@events.handles_batches(on_site_incidents_opened)
def on_site_incident_opened(session: Session, incident_id, site_id, started_at=None, detected_at=None, **_):
    """One site incident: the batch of one."""
    on_site_incidents_opened(session, [{"incident_id": incident_id, "site_id": site_id, "started_at": started_at,
                                        "detected_at": detected_at}])


def on_site_incident_closed(session: Session, incident_id, site_id, ended_at=None, **_):
    alert = get_open(session, f"site:{site_id}:dark")
    if alert is None:
        return
    now = ended_at or utcnow()
    # A device still down after its site came back is its own incident again: ungroup and announce it.
    for child in session.scalars(select(Alert).where(Alert.group_id == alert.id, Alert.open_key.is_not(None))):
        if child.device is not None and child.device.status in ("down", "hung"):
            child.group_id = None
            if not child.quiet_reason:
                enqueue(session, child, "opened", now=now)
    resolve(session, alert, now)


def on_outage_cause_set(session: Session, outage_id, cause, by=None, **_):
    """A1: quiet when the cause is known — no repeats, no escalations; unsent messages withdrawn. The cause of an
    outage inside a site blackout is the blackout's cause too (U5)."""
    from fleetops.models.monitoring import Outage

    outage = session.get(Outage, outage_id)
    if outage is None:
        return
    targets = [a for a in (get_open(session, f"device:{outage.device_id}:down"),) if a is not None]
    site_id = outage.device.site_id if outage.device is not None else None
    site_alert = get_open(session, f"site:{site_id}:dark") if site_id is not None else None
    if site_alert is not None and (outage.site_incident_id is not None or any(a.group_id == site_alert.id
                                                                             for a in targets)):
        targets.append(site_alert)
    quiet = cause in _quiet_causes(session)
    for a in targets:
        a.cause = cause or ""
        if quiet:
            a.quiet_reason = known_cause(cause).stored()
            cancel_unsent(session, a, CAUSE_KNOWN)
        elif is_known_cause(a.quiet_reason):
            a.quiet_reason = ""
            _tell_unquieted(session, a)


def _tell_unquieted(session: Session, alert: Alert) -> None:
    """A1: an alert no longer quiet (its known cause was taken back: a device fault after all) is heard now, once,
    routed as any new alert, when nobody has been told of it yet — every message of its opening was withdrawn, gave
    up (failed: nobody got it) or was never queued — and nobody has taken it. A grouped alert is told by its site
    alert."""
    if alert.state != "open" or alert.open_key is None or alert.group_id is not None:
        return
    session.flush()  # the messages queued in this transaction count
    told = session.scalar(select(AlertDelivery.id).where(
        AlertDelivery.alert_id == alert.id, AlertDelivery.purpose == "opened",
        AlertDelivery.state.not_in(("cancelled", "failed"))).limit(1))
    if told is None:
        now = utcnow()
        hold = _hold_s(session) if alert.kind == "device_down" else 0  # a blackout may still absorb it (U5)
        enqueue(session, alert, "opened", now=now, due=now + timedelta(seconds=hold))


def _device_event(session, device_id, kind, severity, what: Msg, now):
    device = session.get(Device, device_id)
    if device is None:
        return None
    cause = _known_cause_at_site(session, device.site_id)
    alert, _new = raise_alert(session, f"device:{device.id}:{kind}", kind, severity,
                              Msg("%(what)s: %(site)s %(device)s", what=what, site=device.site.name,
                                  device=device.code),
                              device=device, now=now or utcnow(), quiet_reason=known_cause(cause) if cause else "")
    return alert


def on_device_rebooted(session: Session, device_id, at=None, **_):
    _device_event(session, device_id, "device_rebooted", "warning", Msg("Device rebooted"), at)  # U6


def on_device_flapping(session: Session, device_id, at=None, **_):
    _device_event(session, device_id, "device_flapping", "warning", Msg("Device keeps dropping off"), at)  # U6


def on_device_hung(session: Session, device_id, at=None, **_):
    _device_event(session, device_id, "device_hung", "critical",
                  Msg("Device hung (answers ping, its service does not respond)"), at)


def on_stock_below_minimum(session: Session, part_type_id, location_id=None, on_hand=0, minimum=0, **_):
    from fleetops.models.tickets import PartType, StockLocation

    part = session.get(PartType, part_type_id)
    name = part.name if part is not None else str(part_type_id)
    place = session.get(StockLocation, location_id) if location_id is not None else None
    if place is not None:
        name = Msg("%(part)s (%(place)s)", part=name, place=place.name)
    raise_alert(session, f"stock:{part_type_id}:{location_id}", "stock_below_minimum", "warning",
                Msg("Spare parts low: %(part)s, %(on_hand)s in stock, minimum %(minimum)s", part=name,
                    on_hand=on_hand, minimum=minimum),
                Msg("Keep at least 3 sets of every part type"),
                audience=("supervisor",), source_type="part_type", source_id=part_type_id)


def on_quality_finding_opened(session: Session, finding_id, device_id, kind="", **_):
    device = session.get(Device, device_id)
    if device is None:
        return
    raise_alert(session, f"quality:{finding_id}", "quality_finding", "warning",
                Msg("Image quality problem: %(site)s %(device)s %(finding)s", site=device.site.name,
                    device=device.code, finding=label(FindingKind, kind)),
                device=device, source_type="quality_finding", source_id=finding_id)


def on_quality_finding_cleared(session: Session, finding_id, device_id=None, **_):
    alert = get_open(session, f"quality:{finding_id}")
    if alert is not None:
        resolve(session, alert)


def on_plate_accuracy_below_target(session: Session, device_id, accuracy, target, **_):
    device = session.get(Device, device_id)
    if device is None:
        return
    raise_alert(session, f"device:{device_id}:plate_accuracy", "plate_accuracy", "warning",
                Msg("Plate recognition below target: %(site)s %(device)s %(accuracy)s < %(target)s",
                    site=device.site.name, device=device.code, accuracy=f"{accuracy:.1%}", target=f"{target:.0%}"),
                device=device)


def _deadline(session: Session, ticket_id, which, due_at, breached: bool):
    from fleetops.models.tickets import Ticket

    ticket = session.get(Ticket, ticket_id)
    device = ticket.device if ticket is not None else None
    where = f"{device.site.name} {device.code}" if device is not None else ""
    number = getattr(ticket, "number", None) or ticket_id
    which_label = label(DeadlineKind, str(which))
    if breached:
        severity, kind = "critical", "deadline_breached"
        title = Msg("Ticket %(number)s: %(which)s deadline passed: %(where)s", number=number, which=which_label,
                    where=where)
    else:
        severity, kind = "warning", "deadline_approaching"
        title = Msg("Ticket %(number)s: %(which)s deadline approaching: %(where)s", number=number,
                    which=which_label, where=where)
    due_text = local_time(due_at, site_tz(device.site) if device is not None else None) if due_at else ""
    alert, new = raise_alert(session, f"ticket:{ticket_id}:{which}:{kind}", kind, severity, title,
                             Msg("Due: %(due)s (contract deadline)", due=due_text), device=device,
                             audience=("supervisor",), source_type="ticket", source_id=ticket_id)
    alert.escalated = True
    if breached:  # the approaching warning is superseded by the breach
        older = get_open(session, f"ticket:{ticket_id}:{which}:deadline_approaching")
        if older is not None:
            resolve(session, older, notify=False)


def on_deadline_approaching(session: Session, ticket_id, which, due_at=None, **_):
    _deadline(session, ticket_id, which, due_at, breached=False)


def on_deadline_breached(session: Session, ticket_id, which, due_at=None, **_):
    _deadline(session, ticket_id, which, due_at, breached=True)


def on_tickets_transitioned(session: Session, payloads: list[dict]) -> None:
    """A deadline warning ends, quietly, once what it warned about has happened (or the ticket is cancelled).
    For a batch of ticket_transitioned payloads: the tickets' open alerts read in one query, then each in order."""
    ids = sorted({str(p["ticket_id"]) for p in payloads})
    alerts: dict[str, list[Alert]] = {}
    for i in range(0, len(ids), 500):
        for alert in session.scalars(select(Alert).where(Alert.source_type == "ticket",
                                                         Alert.source_id.in_(ids[i:i + 500]),
                                                         Alert.open_key.is_not(None)).order_by(Alert.id)):
            alerts.setdefault(alert.source_id, []).append(alert)
    for p in payloads:
        to_state = p.get("to_state")
        for alert in alerts.get(str(p["ticket_id"]), ()):
            if alert.open_key is None:
                continue  # resolved by an earlier step of the batch
            which = alert.key.split(":")[2]
            done = (to_state not in NOT_RESOLVED or (which == "arrive" and to_state not in NOT_ARRIVED)
                    or (which == "respond" and to_state not in ("new", "dispatched")))
            if done:
                resolve(session, alert, notify=False)


@events.handles_batches(on_tickets_transitioned)
def on_ticket_transitioned(session: Session, ticket_id, from_state=None, to_state=None, **_):
    """One transition: the batch of one."""
    on_tickets_transitioned(session, [{"ticket_id": ticket_id, "from_state": from_state, "to_state": to_state}])


def _penalty_threshold(session: Session, policy_key, cumulative, threshold, contract_total, share_pct, crossed):
    """P4: cumulative penalties near or above 10 % of the contract total — the owner may terminate."""
    if crossed:
        severity, title = "critical", Msg(
            "Penalties above the termination threshold: ¥%(cumulative)s of ¥%(threshold)s", cumulative=cumulative,
            threshold=threshold)
    else:
        severity, title = "warning", Msg(
            "Penalties approaching the termination threshold: ¥%(cumulative)s of ¥%(threshold)s",
            cumulative=cumulative, threshold=threshold)
    body = Msg("Cumulative penalties are %(share)s %% of the contract total ¥%(total)s; above the threshold the "
               "owner may terminate the contract.", share=share_pct, total=contract_total)
    level = "crossed" if crossed else "approaching"
    raise_alert(session, f"penalty:{policy_key}:{level}", f"penalty_threshold_{level}", severity, title, body,
                audience=("supervisor", "admin"), source_type="sla_policy", source_id=policy_key, district="")
    if crossed:
        older = get_open(session, f"penalty:{policy_key}:approaching")
        if older is not None:
            resolve(session, older, notify=False)


def on_penalty_threshold_approaching(session: Session, policy_key, cumulative=None, threshold=None,
                                     contract_total=None, share_pct=None, **_):
    _penalty_threshold(session, policy_key, cumulative, threshold, contract_total, share_pct, crossed=False)


def on_penalty_threshold_crossed(session: Session, policy_key, cumulative=None, threshold=None,
                                 contract_total=None, share_pct=None, **_):
    _penalty_threshold(session, policy_key, cumulative, threshold, contract_total, share_pct, crossed=True)


def _agent_key(agent, agent_id=None) -> str:
    """A registered agent's alert key is by its id (its name could equal a district's, keyed "agent:<district>")."""
    return f"probe_agent:{agent_id}:silent" if agent_id is not None else f"agent:{agent}:silent"


def on_probe_agent_silent(session: Session, agent, last_seen_at=None, agent_id=None, devices=None, **_):
    body = Msg("Last report: %(at)s", at=local_time(last_seen_at)) if devices is None else Msg(
        "Last report: %(at)s. Its %(n)s devices are shown as unknown; no device outage is opened for them "
        "until it reports again.", at=local_time(last_seen_at), n=devices)
    raise_alert(session, _agent_key(agent, agent_id), "probe_agent_silent", "critical",
                Msg("Probe agent not responding: %(agent)s", agent=agent), body,
                audience=("supervisor",), source_type="agent", source_id=agent_id if agent_id is not None else agent,
                district="")


def on_probe_agent_back(session: Session, agent, agent_id=None, **_):
    alert = get_open(session, _agent_key(agent, agent_id))
    if alert is not None:
        resolve(session, alert)


def on_inspection_overdue(session: Session, plan_id, plan_name, district, period_start, due_at=None, count=0,
                          order_ids=(), **_):
    """P3: inspections left undone past the end of their period: one alert to the supervisors per plan, district and
    period (the inspections area announces each group once)."""
    day = local_time(period_start)[:10]
    where = district or Msg("all districts")
    raise_alert(session, f"inspection:{plan_id}:{district}:{day}", "inspection_overdue", "warning",
                Msg("Inspections overdue: %(count)s of “%(plan)s” in %(district)s", count=count, plan=Msg(plan_name),
                    district=where),
                Msg("The period from %(start)s ended %(due)s; the orders are still open.", start=day,
                    due=local_time(due_at)),
                audience=("supervisor", "admin"), source_type="inspection_plan", source_id=plan_id,
                district=district or "")


# ------------------------------------------------------------------------------------------ maintenance windows

def on_maintenance_window_started(session: Session, window_id, starts_at=None, ends_at=None, **_):
    """A1: one note to the group when a planned window begins, instead of one alarm per device inside it."""
    w = maintenance.get_window(session, window_id)
    raise_alert(session, f"maintenance:{window_id}", "maintenance_window", "info",
                Msg("Maintenance window started: %(scope)s", scope=maintenance.scope_text(session, w)),
                Msg("%(cause)s, notice %(ref)s, until %(until)s; no outage alarms for it meanwhile",
                    cause=maintenance.cause_label(w.cause), ref=w.reference or "—", until=local_time(ends_at)),
                source_type="maintenance_window", source_id=window_id, now=starts_at)


def on_maintenance_window_ended(session: Session, window_id, ended_at=None, **_):
    """The window's end is its recovery message; what is still down is alerted by itself (maintenance.release)."""
    alert = get_open(session, f"maintenance:{window_id}")
    if alert is not None:
        resolve(session, alert, ended_at or utcnow())
