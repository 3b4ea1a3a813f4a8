"""Reading stored traps for the traps page and the CLI: filter by site, device and meaning (or "unknown")."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from fleetops.domain.text import Msg
from fleetops.models import Device, Site
from fleetops.models.discovery import SnmpTrap
from fleetops.services.traps import definitions

UNKNOWN = "unknown"


def list_traps(session: Session, site: str = "", device: str = "", meaning: str = "", limit: int = 200,
               extra_definitions: str = "") -> list[dict]:
    """Newest first. `site` / `device` are codes; `meaning` a meaning key or "unknown"."""
    q = select(SnmpTrap).options(selectinload(SnmpTrap.device).selectinload(Device.site))
    if site:
        q = q.where(SnmpTrap.site_id.in_(select(Site.id).where(Site.code == site)))
    if device:
        q = q.where(SnmpTrap.device_id.in_(select(Device.id).where(Device.code == device)))
    if meaning == UNKNOWN:
        q = q.where(SnmpTrap.known.is_(False))
    elif meaning:
        q = q.where(SnmpTrap.meaning == meaning)
    labels = definitions.labels(extra_definitions)
    rows = session.scalars(q.order_by(SnmpTrap.received_at.desc(), SnmpTrap.id.desc()).limit(max(1, min(limit, 2000))))
    return [trap_row(t, labels) for t in rows]


def trap_row(t: SnmpTrap, labels: dict[str, str]) -> dict:
    dev = t.device
    return {"id": t.id, "received_at": t.received_at, "source_address": t.source_address, "version": t.version,
            "device": dev.code if dev else None, "site": dev.site.code if dev is not None and dev.site else None,
            "site_name": dev.site.name if dev is not None and dev.site else "",
            "trap_oid": t.trap_oid, "meaning": t.meaning or None, "known": t.known, "severity": t.severity,
            "label": Msg(labels[t.meaning]) if t.known and t.meaning in labels else None,
            "effect": t.effect or None, "varbinds": t.varbinds or []}


def meanings(extra_definitions: str = "") -> list[tuple[str, str]]:
    """(meaning key, English label) for the filter, in definition order."""
    return list(definitions.labels(extra_definitions).items())
