"""Device.status, status_since and last_seen_at after a batch: down / unreachable via parent / hung / up /
unknown — written with a plain UPDATE only when something a person reads changed."""
from datetime import datetime

from sqlalchemy import select

from fleetops.domain.choices import INFRASTRUCTURE_KINDS, DeviceStatus
from fleetops.models import Device
from fleetops.models.monitoring import DeviceEvent, Outage
from fleetops.services.monitoring import bulk
from fleetops.services.monitoring.batch import Batch
from fleetops.services.monitoring.settings import LAST_SEEN_STEP


def update_devices(b: Batch, states) -> None:
    updates = []
    need_outage = [d for d in b.devices if d not in b.open_run]
    need_hung = [d for d in b.devices if d not in b.open_hung and b.devices[d].snmp_version]
    stored_outage: dict[int, object] = {}
    stored_hung: dict[int, object] = {}
    b.s.flush()
    conn = b.s.connection()
    ot, et = Outage.__table__, DeviceEvent.__table__
    for chunk in bulk.id_chunks(b.s, need_outage):  # no liveness result in this batch: status follows what is stored
        for o in conn.execute(select(ot.c.device_id, ot.c.started_at, ot.c.site_incident_id).where(
                bulk.in_ids(b.s, ot.c.device_id, chunk), ot.c.ended_at.is_(None), ot.c.retracted_at.is_(None))
                .order_by(ot.c.id)).all():
            stored_outage[o.device_id] = o
    for chunk in bulk.id_chunks(b.s, need_hung):
        for e in conn.execute(select(et.c.device_id, et.c.at).where(
                bulk.in_ids(b.s, et.c.device_id, chunk), et.c.kind == "hung", et.c.ended_at.is_(None))
                .order_by(et.c.id)).all():
            stored_hung[e.device_id] = e
    for d, dev in b.devices.items():
        new_rows = [r for rows in b.new_rows[d].values() for r in rows]
        seen = max((r["at"] for r in new_rows if r["ok"]), default=None)
        last_seen = max(x for x in (dev.last_seen_at, seen) if x is not None) if (dev.last_seen_at or seen) \
            else None
        outage = b.open_run[d] if d in b.open_run else stored_outage.get(d)
        hung = b.open_hung[d] if d in b.open_hung else stored_hung.get(d)
        if outage is not None:
            in_incident = outage.site_incident_id is not None and dev.kind not in INFRASTRUCTURE_KINDS
            status = DeviceStatus.UNREACHABLE if in_incident else DeviceStatus.DOWN
            since = outage.started_at
        elif hung is not None:
            status, since = DeviceStatus.HUNG, hung.at
        else:
            st = states.get((d, dev.liveness_probe))
            status = DeviceStatus.UP if st is not None and st.last_ok_at is not None else DeviceStatus.UNKNOWN
            first_ok = min((r["at"] for r in new_rows if r["ok"]), default=None)
            since = dev.status_since if dev.status == status.value else (b.last_end.get(d) or first_ok)
        unchanged = status.value == dev.status and since == dev.status_since
        if unchanged and not _seen_moved(dev.last_seen_at, last_seen):
            continue  # nothing worth a write: 10,000 devices a minute would churn the inventory table
        updates.append((d, status.value, since, last_seen))
    # A plain UPDATE: monitoring must not bump the inventory's optimistic-lock version.
    bulk.update_rows(b.s, Device.__table__, ("id",), ("status", "status_since", "last_seen_at"), updates)


def _seen_moved(old: datetime | None, new: datetime | None) -> bool:
    """Device.last_seen_at is kept to the minute granularity people read it at: written when 5 min newer."""
    if new is None:
        return False
    return old is None or new - old >= LAST_SEEN_STEP
