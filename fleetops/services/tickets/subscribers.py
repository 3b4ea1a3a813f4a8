"""Reacting to monitoring (T1, U5): an outage opens a device ticket, a dark site one site ticket that absorbs the
untouched device tickets it explains; a device back online is noted in the history. Wired in fleetops.wiring."""
from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleetops.domain import tickets as rules
from fleetops.domain.text import Msg
from fleetops.models import Device, Site
from fleetops.models.tickets import Ticket
from fleetops.services import maintenance
from fleetops.services.tickets.history_log import log_event
from fleetops.platform import events
from fleetops.services.tickets.crew import CrewPool
from fleetops.services.tickets.lifecycle import cancel, open_ticket, open_tickets

log = logging.getLogger(__name__)


def on_outage_opened(session: Session, outage_id, device_id, started_at=None, detected_at=None, **_):
    if session.scalar(select(Ticket.id).where(Ticket.outage_id == outage_id)) is not None:
        return  # replayed event
    if maintenance.is_held_outage(session, outage_id):
        return  # inside a maintenance window: ticketed only if still down when it ends
    device = session.get(Device, device_id)
    if device is None:
        log.warning("outage_opened for unknown device_id=%s", device_id)
        return
    site_ticket = session.scalar(select(Ticket).where(
        Ticket.site_id == device.site_id, Ticket.device_id.is_(None), Ticket.incident_id.is_not(None),
        Ticket.state.in_(rules.OPEN_STATES)))
    if site_ticket is not None:  # U5: one ticket per site incident, not one per child device
        log_event(session, site_ticket, "device_outage_joined", "monitoring", from_state=site_ticket.state,
                  note=device.code, data={"outage_id": outage_id})
        return
    open_ticket(session, device_id=device.id, category="offline", source="outage", opened_by="monitoring",
                detected_at=detected_at or started_at, outage_id=outage_id,
                summary=Msg("%(device)s offline", device=device.code))


def on_site_incidents_opened(session: Session, payloads: list[dict]) -> None:
    """U5: one site ticket per dark site, absorbing the device tickets there that the crew has not touched yet.
    For a batch of site_incident_opened payloads (a blackout, distinct sites): what is already ticketed or held,
    the device tickets to merge and the crew are read once, the tickets inserted together (open_tickets); each
    site is then dispatched and merged in order, as if alone."""
    session.flush()  # what the batch reads below is read from the database
    ids = [p["incident_id"] for p in payloads]
    ticketed = _in_chunks(session, Ticket.incident_id, ids)
    held = maintenance.held_incidents(session, ids)
    todo = []
    for p in payloads:
        if p["incident_id"] in ticketed:
            continue
        if p["incident_id"] in held:
            continue  # a planned blackout (maintenance window)
        site = session.get(Site, p["site_id"])
        if site is None:
            log.warning("site_incident_opened for unknown site_id=%s", p["site_id"])
            continue
        ticketed.add(p["incident_id"])
        todo.append((p, site))
    if not todo:
        return
    # Device tickets an incident explains, still untouched by the crew, are merged into its ticket (U5).
    children: dict[int, list[Ticket]] = {site.id: [] for _p, site in todo}
    site_ids = sorted(children)
    for i in range(0, len(site_ids), _CHUNK):
        for child in session.scalars(select(Ticket).where(
                Ticket.site_id.in_(site_ids[i:i + _CHUNK]), Ticket.device_id.is_not(None), Ticket.source == "outage",
                Ticket.state.in_(_MERGED_STATES)).order_by(Ticket.id)):
            children[child.site_id].append(child)
    pool = CrewPool(session, gather_escalations=True)
    pool.track(c for cs in children.values() for c in cs)

    def merge(t: Ticket) -> None:
        for child in children[t.site_id]:
            if child.state in _MERGED_STATES:
                cancel(session, child.id, actor="monitoring", reason=Msg("Merged into site ticket #%(id)s", id=t.id))

    open_tickets(session, [dict(site_id=site.id, category="site_dark", source="incident",
                                detected_at=p.get("detected_at") or p.get("started_at"), incident_id=p["incident_id"],
                                summary=Msg("%(code)s %(name)s whole site dark", code=site.code, name=site.name))
                           for p, site in todo], opened_by="monitoring", pool=pool, after=merge)


@events.handles_batches(on_site_incidents_opened)
def on_site_incident_opened(session: Session, incident_id, site_id, started_at=None, detected_at=None, **_):
    """One site incident: the batch of one."""
    on_site_incidents_opened(session, [{"incident_id": incident_id, "site_id": site_id, "started_at": started_at,
                                        "detected_at": detected_at}])


_MERGED_STATES = ("new", "dispatched")
_CHUNK = 500


def _in_chunks(session: Session, col, ids) -> set:
    ids, out = sorted(set(ids)), set()
    for i in range(0, len(ids), _CHUNK):
        out.update(session.scalars(select(col).where(col.in_(ids[i:i + _CHUNK]))))
    return out


def _note_back_online(session: Session, t: Ticket | None, at) -> None:
    if t is not None and t.state in rules.OPEN_STATES:
        log_event(session, t, "back_online", "monitoring", from_state=t.state, at=at)


def on_outage_closed(session: Session, outage_id, device_id=None, ended_at=None, **_):
    _note_back_online(session, session.scalar(select(Ticket).where(Ticket.outage_id == outage_id)), ended_at)


def on_site_incident_closed(session: Session, incident_id, site_id=None, ended_at=None, **_):
    _note_back_online(session, session.scalar(select(Ticket).where(Ticket.incident_id == incident_id)), ended_at)
