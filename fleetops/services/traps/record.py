"""Storing a received trap and applying its effect (issue 17): every trap is a row, known or not; a mains-failure
trap from a site's cabinet asks that the site's open outages be excluded as the power utility's (candidates a
supervisor confirms), a cold start records a reboot, a link down asks for an immediate re-probe (the caller runs it
after the commit: `reprobe_ids`)."""
from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleetops.domain.errors import ConflictError, NotFound, ValidationFailed
from fleetops.domain.text import Msg
from fleetops.models import Device
from fleetops.models.base import utcnow
from fleetops.models.discovery import SnmpTrap
from fleetops.models.monitoring import DeviceEvent, ExclusionRequest, Outage
from fleetops.platform import events
from fleetops.services.traps import definitions

log = logging.getLogger(__name__)


def record_trap(session: Session, source: tuple[str, int], note, at: datetime | None = None,
                extra_definitions: str = "") -> SnmpTrap:
    """Store one decoded notification (`probes.snmp.trap.Notification`) and apply its effect. The caller commits."""
    at = at or utcnow()
    device = session.scalar(select(Device).where(Device.ip_address == source[0]).limit(1))
    d = definitions.match(note.trap_oid, note.varbinds, extra_definitions)
    row = SnmpTrap(received_at=at, source_address=source[0][:45], source_port=int(source[1]), version=note.version,
                   principal=note.principal[:100], device_id=device.id if device else None,
                   site_id=device.site_id if device else None, trap_oid=note.trap_oid[:255],
                   meaning=d.meaning if d else "", severity=d.severity if d else "info", known=d is not None,
                   varbinds=note.varbinds, effect="")
    session.add(row)
    session.flush()
    if d is not None and device is not None and d.effect:
        row.effect = _apply(session, d.effect, row, device, at) or ""
    return row


def _apply(session: Session, effect: str, row: SnmpTrap, device: Device, at: datetime) -> str:
    if effect == "mains_lost":
        return mains_lost(session, device.site_id, at, row)
    if effect == "reboot":
        return _reboot(session, device, at, row)
    if effect == "reprobe":
        return "reprobe"
    return ""


def mains_lost(session: Session, site_id: int, at: datetime, row: SnmpTrap) -> str:
    """The existing `cabinet_mains_lost` event (a dark site's incident becomes a power-utility candidate, see
    monitoring.exclusions.on_cabinet_mains_lost), and for the site's open device outages outside any incident one
    system request each, so the supervisor confirms or rejects every one in the exclusion queue."""
    from fleetops.services.monitoring import exclusions

    events.emit(session, "cabinet_mains_lost", site_id=site_id, at=at, input_voltage_v=None)
    outages = session.scalars(
        select(Outage).join(Device, Outage.device_id == Device.id)
        .where(Device.site_id == site_id, Outage.ended_at.is_(None), Outage.retracted_at.is_(None),
               Outage.site_incident_id.is_(None), Outage.started_at <= at)).all()
    filed = 0
    for o in outages:
        asked = session.scalar(select(ExclusionRequest.id).where(
            ExclusionRequest.outage_id == o.id,
            (ExclusionRequest.state == "pending") | (ExclusionRequest.source == "system")).limit(1))
        if asked:
            continue  # waiting already, or the system asked once and a supervisor decided
        try:
            with session.begin_nested():
                exclusions.request_exclusion(
                    session, cause="power_utility", outage_id=o.id, source="system",
                    note=Msg("The site's cabinet sent a mains-failure trap (%(oid)s) while this outage was open.",
                             oid=row.trap_oid),
                    evidence={"trap_id": row.id, "trap_oid": row.trap_oid, "reported_at": at.isoformat()}, at=at)
            filed += 1
        except (ConflictError, NotFound, ValidationFailed) as err:
            log.info("trap %s: outage %s not proposed: %s", row.id, o.id, err)
    return "mains_lost"


def _reboot(session: Session, device: Device, at: datetime, row: SnmpTrap) -> str:
    """A cold start is a reboot (U6): a DeviceEvent as the reboot detector writes, and `device_rebooted`. When the
    device is polled by SNMP, the detector's recompute over that time keeps only the reboots it sees in sysUpTime
    (its own event at the poll replaces this one); the trap row itself always stays."""
    exists = session.scalar(select(DeviceEvent.id).where(DeviceEvent.device_id == device.id,
                                                         DeviceEvent.kind == "rebooted", DeviceEvent.at == at))
    if exists:
        return "reboot"
    session.add(DeviceEvent(device_id=device.id, kind="rebooted", at=at, detected_at=at,
                            detail=Msg("Cold-start trap received").stored()))
    session.flush()
    events.emit(session, "device_rebooted", device_id=device.id, at=at)
    return "reboot"
