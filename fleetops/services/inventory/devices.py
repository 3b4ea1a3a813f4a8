"""Devices: look one up (the one `get_device` of the code base), create or edit it (audited, optimistic
locking), retire it."""
from datetime import datetime, time

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from fleetops.domain.choices import IN_SERVICE, DeviceStatus, Lifecycle
from fleetops.domain.errors import ConflictError, NotFound
from fleetops.domain.text import Msg
from fleetops.models import Cabinet, Device, Site
from fleetops.models.base import utcnow
from fleetops.platform import audit, clock
from fleetops.services.inventory import service_periods
from fleetops.services.inventory.parsers import (
    DEVICE_CODE, DEVICE_PARSERS, REQUIRED, SECRET_FIELDS, check_device_rules, check_version, message_of, parse_code,
    parse_values, raise_if,
)
from fleetops.services.inventory.records import device_snapshot, in_service_date

DEVICE = Msg("device", context="inventory")
_IN_SERVICE = frozenset(s.value for s in IN_SERVICE)
_UNSET = object()


def get_device(session: Session, code: str) -> Device:
    """The device with this code, or NotFound (a message the user reads)."""
    device = session.scalar(select(Device).where(Device.code == code))
    if device is None:
        raise NotFound(Msg("No device %(code)s.", code=code))
    return device


def save_device(session: Session, code: str | None, raw: dict, actor, expected_version=None,
                new_code: str | None = None) -> Device:
    """Create (code=None, new_code given) or update a device from form/API strings; audited. Caller commits."""
    creating = code is None
    device = None if creating else get_device(session, code)
    if device is not None:
        check_version(device, expected_version, DEVICE)
    values, errors = parse_values(raw, DEVICE_PARSERS)
    if creating:
        try:
            new_code = parse_code(new_code or "", DEVICE_CODE)
        except ValueError as err:
            errors["code"] = message_of(err)
        else:
            if session.scalar(select(Device.id).where(Device.code == new_code)):
                errors["code"] = Msg("Device %(code)s already exists.", code=new_code)
        for required in ("kind", "site_code"):
            if required not in raw and required not in errors:
                errors[required] = REQUIRED
    stored = device_snapshot(device) if device is not None else {}
    errors.update({k: v for k, v in check_device_rules(values, stored).items() if k not in errors})
    site = cabinet = parent = None
    if "site_code" in values:
        site = session.scalar(select(Site).where(Site.code == values["site_code"]))
        if site is None:
            errors["site_code"] = Msg("No site %(code)s.", code=values["site_code"])
    if values.get("cabinet_code"):
        cabinet = session.scalar(select(Cabinet).where(Cabinet.code == values["cabinet_code"]))
        if cabinet is None:
            errors["cabinet_code"] = Msg("No cabinet %(code)s.", code=values["cabinet_code"])
    if values.get("parent_code"):
        parent = session.scalar(select(Device).where(Device.code == values["parent_code"]))
        own = new_code if creating else device.code
        if parent is None:
            errors["parent_code"] = Msg("No parent device %(code)s.", code=values["parent_code"])
        elif parent.code == own or (device is not None and _is_ancestor(device, parent)):
            errors["parent_code"] = Msg("The parent chain would loop back to this device.")
    if values.get("ip_address"):
        other = session.scalar(select(Device).where(Device.ip_address == values["ip_address"]))
        if other is not None and other is not device:
            errors["ip_address"] = Msg("%(ip)s is already used by %(code)s.", ip=values["ip_address"], code=other.code)
    service_day = values.pop("in_service_from", None) if "in_service_from" in values else _UNSET
    if service_day is not _UNSET and "in_service_from" not in errors:
        problem = _check_service_day(session, device, service_day, values)
        if problem is not None:
            errors["in_service_from"] = problem
    raise_if(errors)

    if creating:
        device = Device(code=new_code, site=site, kind=values["kind"], status=DeviceStatus.UNKNOWN.value,
                        lifecycle=Lifecycle.INSTALLED.value, liveness_probe="ping", snmp_port=161)
        session.add(device)
        before = None
    else:
        before = stored
    _apply_device(device, values, site, cabinet, parent)
    if service_day not in (_UNSET, None) and service_day != in_service_date(device):
        device.in_service_from = datetime.combine(service_day, time(0), tzinfo=clock.local_zone())
    if creating and device.in_service_from is None and device.lifecycle in _IN_SERVICE:
        device.in_service_from = utcnow()  # accepted into service now
    try:
        session.flush()
    except StaleDataError:
        session.rollback()
        raise ConflictError(Msg("Someone else changed this device at the same time. Reload and try again.")) from None
    after = device_snapshot(device)
    if creating:
        audit.record(session, actor, "device_created", "device", device.code,
                     summary=f"{device.code} {device.name}",
                     after=after, secret_fields=SECRET_FIELDS)
    else:
        b, a = audit.diff(before, after)
        if a:
            audit.record(session, actor, "device_updated", "device", device.code,
                         summary=f"{device.code}: {', '.join(a)}",
                         before=b, after=a, secret_fields=SECRET_FIELDS)
    return device


def _check_service_day(session: Session, device: Device | None, day, values: dict) -> Msg | None:
    """What is wrong with this in-service date for the device (None: nothing): not in the future, not before the
    install date, before its retirement and before it was first taken out (empty keeps the stored date)."""
    if day is None:
        return None
    served = service_periods.periods(session, device) if device is not None and device.id is not None else []
    if day > clock.local_today():
        return Msg("The in-service date cannot be in the future.")
    installed = values.get("installed_on", device.installed_on if device is not None else None)
    if installed is not None and day < installed:
        return Msg("The in-service date cannot be before the install date (%(day)s).", day=installed.isoformat())
    ends = [p.end_at for p in served if p.end_at is not None]
    if ends:
        first_out = clock.to_local(min(ends)).date()
        if day >= first_out:
            return Msg("The in-service date must be before the device was first taken out of service "
                       "(%(day)s).", day=first_out.isoformat())
    return None


def _is_ancestor(device: Device, candidate: Device) -> bool:
    """True when `device` is on `candidate`'s parent chain (so making it the parent would loop)."""
    seen, node = set(), candidate
    while node is not None and node.id not in seen:
        if node.id == device.id:
            return True
        seen.add(node.id)
        node = node.parent
    return False


def _apply_device(device: Device, values: dict, site, cabinet, parent) -> None:
    for field, value in values.items():
        if field == "site_code":
            device.site = site
        elif field == "cabinet_code":
            device.cabinet = cabinet if value else None
        elif field == "parent_code":
            device.parent = parent if value else None
        elif field == "lifecycle":
            if value == Lifecycle.RETIRED.value and device.lifecycle != value:
                device.retired_at = utcnow()
            elif value != Lifecycle.RETIRED.value:
                device.retired_at = None
            device.lifecycle = value
        else:
            setattr(device, field, value)


def retire_device(session: Session, code: str, actor, expected_version=None) -> Device:
    """F3: take a device out of service; its IP is released so a replacement can take the address."""
    device = get_device(session, code)
    check_version(device, expected_version, DEVICE)
    if device.lifecycle == Lifecycle.RETIRED.value:
        raise ConflictError(Msg("Device %(code)s is already retired.", code=code))
    before = device_snapshot(device)
    device.lifecycle = Lifecycle.RETIRED.value
    device.retired_at = utcnow()
    device.ip_address = None
    session.flush()
    b, a = audit.diff(before, device_snapshot(device))
    audit.record(session, actor, "device_retired", "device", device.code,
                 summary=f"{device.code} {device.name}",
                 before=b, after=a, secret_fields=SECRET_FIELDS)
    return device
