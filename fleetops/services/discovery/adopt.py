"""Adding an unmanaged address to the inventory in one step (F4): the inventory's own save_device (checked and
audited as every device), prefilled from what the sweep saw."""
from __future__ import annotations

from sqlalchemy.orm import Session

from fleetops.domain.errors import ConflictError
from fleetops.domain.text import Msg
from fleetops.models import Device
from fleetops.services.discovery.queries import get_result
from fleetops.services.inventory.devices import save_device


def add_to_inventory(session: Session, result_id, code: str, site_code: str, kind: str, actor) -> Device:
    """Create the device for an unmanaged row (lifecycle installed, its address, vendor and name as seen).
    The caller commits."""
    row = get_result(session, result_id)
    if row.status != "unmanaged" or row.device_id is not None:
        raise ConflictError(Msg("This address is already in the inventory."))
    raw = {"kind": (kind or row.guessed_kind or "").strip(), "site_code": (site_code or "").strip(),
           "ip_address": row.address, "lifecycle": "installed"}
    if row.guessed_vendor and row.guessed_vendor != "net-snmp":
        raw["vendor"] = row.guessed_vendor
    if row.sys_name:
        raw["name"] = row.sys_name[:200]
    device = save_device(session, None, raw, actor, new_code=(code or "").strip())
    session.flush()
    row.device_id, row.device_code = device.id, device.code
    return device
