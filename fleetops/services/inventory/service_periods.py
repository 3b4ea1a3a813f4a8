"""A device's in-service history (F3, U3): its periods in service, kept in step with its lifecycle.

`before_flush` (listed in fleetops.wiring.FLUSH_HOOKS) looks at every device created or changed in the flush and
reconciles its periods, so every writer — device form, API, import, retire, the demo — records the history alike:
- a device not planned gets its first period when first written: from the in-service date
  (else the install date's local midnight; a device with neither counts from before the records begin), open while
  in service (installed / online / relocated), else closed at retired_at (or now); a later one opens now when a
  device out of service is brought back;
- leaving service (replaced, planned, retired) closes the open period: at retired_at when retired, else now;
- a changed in-service date (or install date, when there is no in-service date) moves the first period's start.
The uptime query (monitoring/uptime.py) counts only the time inside these periods.
"""
from datetime import date, datetime, time

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from fleetops.domain.choices import IN_SERVICE
from fleetops.models import Device
from fleetops.models.base import utcnow
from fleetops.models.service import ServicePeriod
from fleetops.platform import clock

_IN_SERVICE = frozenset(s.value for s in IN_SERVICE)
_WATCHED = ("lifecycle", "in_service_from", "installed_on", "retired_at")


def first_start(device: Device) -> datetime | None:
    """When the device's first period starts: its in-service date, else its install date's local midnight."""
    if device.in_service_from is not None:
        return device.in_service_from
    if isinstance(device.installed_on, date):
        return datetime.combine(device.installed_on, time(0), tzinfo=clock.local_zone())
    return None


def periods(session: Session, device: Device) -> list[ServicePeriod]:
    """The device's periods, oldest first (a period without a start first)."""
    if device.id is None:
        return [p for p in session.new if isinstance(p, ServicePeriod) and p.device is device]
    rows = session.scalars(select(ServicePeriod).where(ServicePeriod.device_id == device.id)).all()
    return sorted(rows, key=lambda p: (p.start_at is not None, p.start_at or datetime.min))


def before_flush(session: Session, flush_context, instances) -> None:
    """Reconcile the periods of every device this flush creates or changes (see the module docstring)."""
    changed = [o for o in session.new if isinstance(o, Device)]
    changed += [o for o in session.dirty if isinstance(o, Device) and _watched_changed(o)]
    if not changed:
        return
    with session.no_autoflush:
        for device in changed:
            reconcile(session, device)


def _watched_changed(device: Device) -> bool:
    state = inspect(device)
    return any(state.attrs[name].history.has_changes() for name in _WATCHED)


def _changed(device: Device, name: str) -> bool:
    state = inspect(device)
    return state.pending or state.attrs[name].history.has_changes()


def reconcile(session: Session, device: Device, now: datetime | None = None) -> None:
    now = now or utcnow()
    in_service = device.lifecycle in _IN_SERVICE
    existing = periods(session, device)
    if not existing:
        if device.lifecycle == "planned":
            return
        # Recorded already out of service (imported as retired or replaced): the stretch it served, as the
        # migration backfills it.
        start = first_start(device)
        end = None if in_service else (device.retired_at or now)
        if start is None or end is None or end > start:
            session.add(ServicePeriod(device=device, start_at=start, end_at=end))
        return
    first, last = existing[0], existing[-1]
    if _changed(device, "in_service_from") or (device.in_service_from is None and _changed(device, "installed_on")):
        start = first_start(device)
        if start is not None:
            first.start_at = start
    if last.end_at is None and not in_service:
        last.end_at = device.retired_at if device.lifecycle == "retired" and device.retired_at else now
    elif last.end_at is not None and in_service and _changed(device, "lifecycle"):
        session.add(ServicePeriod(device=device, start_at=now, end_at=None))


def history(session: Session, device: Device) -> list[dict]:
    """The periods as plain values for pages and the API: start, end (None: still in service)."""
    return [{"start_at": p.start_at, "end_at": p.end_at} for p in periods(session, device)]
