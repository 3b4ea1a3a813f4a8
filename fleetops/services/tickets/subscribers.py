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
from fleetops.services.tickets.lifecycle import cancel, open_ticket

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


def on_site_incident_opened(session: Session, incident_id, site_id, started_at=None, detected_at=None, **_):
    if session.scalar(select(Ticket.id).where(Ticket.incident_id == incident_id)) is not None:
        return
    if maintenance.is_held_incident(session, incident_id):
        return  # a planned blackout (maintenance window)
    site = session.get(Site, site_id)
    if site is None:
        log.warning("site_incident_opened for unknown site_id=%s", site_id)
        return
    t = open_ticket(session, site_id=site.id, category="site_dark", source="incident", opened_by="monitoring",
                    detected_at=detected_at or started_at, incident_id=incident_id,
                    summary=Msg("%(code)s %(name)s whole site dark", code=site.code, name=site.name))
    # Device tickets this incident explains, still untouched by the crew, are merged into it (U5).
    for child in session.scalars(select(Ticket).where(
            Ticket.site_id == site.id, Ticket.device_id.is_not(None), Ticket.source == "outage",
            Ticket.state.in_(("new", "dispatched")))):
        cancel(session, child.id, actor="monitoring", reason=Msg("Merged into site ticket #%(id)s", id=t.id))


def _note_back_online(session: Session, t: Ticket | None, at) -> None:
    if t is not None and t.state in rules.OPEN_STATES:
        log_event(session, t, "back_online", "monitoring", from_state=t.state, at=at)


def on_outage_closed(session: Session, outage_id, device_id=None, ended_at=None, **_):
    _note_back_online(session, session.scalar(select(Ticket).where(Ticket.outage_id == outage_id)), ended_at)


def on_site_incident_closed(session: Session, incident_id, site_id=None, ended_at=None, **_):
    _note_back_online(session, session.scalar(select(Ticket).where(Ticket.incident_id == incident_id)), ended_at)
