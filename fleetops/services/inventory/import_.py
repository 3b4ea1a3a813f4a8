"""F6: importing an inventory file — all or nothing. Every row is checked first (`import_check`); only when
all are good (and not a dry run) are sites, cabinets and devices created or updated, each audited."""
from datetime import datetime, time

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleetops.domain.choices import DeviceStatus, Lifecycle
from fleetops.domain.errors import ValidationFailed
from fleetops.domain.text import Msg
from fleetops.models import Cabinet, Device, Site
from fleetops.models.base import utcnow
from fleetops.platform import audit, clock
from fleetops.services.inventory.import_check import ImportResult, RowError, map_headers, parse_rows, plan
from fleetops.services.inventory.parsers import SECRET_FIELDS
from fleetops.services.inventory.records import device_snapshot, site_snapshot
from fleetops.services.inventory.spreadsheet import read_table

IN_SERVICE_STATES = ("installed", "online", "relocated")


def import_inventory(session: Session, data: bytes, filename: str = "", actor=None, dry_run: bool = False,
                     progress=None, checking=None) -> ImportResult:
    """Validate every row; if all are good (and not dry_run) create/update sites and devices, audited.

    Nothing is written when any row is bad. Devices are matched by code; the caller commits.
    `checking(done, total)` is called while rows are checked, `progress(done, total)` while writing.
    """
    result = ImportResult(dry_run=dry_run)
    try:
        table = read_table(data, filename)
    except ValidationFailed as err:
        result.errors.append(RowError(1, "", err.msg))
        return result
    result.encoding = table.encoding
    mapping = map_headers(table.headers, result)
    if result.errors:
        return result
    rows = parse_rows(table, mapping, result, progress=checking)
    if result.rows == 0:
        result.errors.append(RowError(2, "", Msg("The file has no device rows.")))
        return result
    header_of = {c.field: str(table.headers[i]).strip() for i, c in mapping.items()}
    devices, sites, cabinets, site_values = plan(session, rows, header_of, result)
    result.errors.sort(key=lambda e: e.line)
    if result.errors:
        return result
    _write(session, rows, devices, sites, cabinets, site_values, actor, result, dry_run, progress)
    if not dry_run:
        audit.record(session, actor, "inventory_imported", "inventory", filename or "upload",
                     summary=Msg("%(file)s: %(created)s created, %(updated)s updated, %(unchanged)s unchanged, "
                                 "%(sites)s sites created", file=filename, created=result.created,
                                 updated=result.updated, unchanged=result.unchanged, sites=result.sites_created),
                     after=result.summary())
    return result


def _write(session, rows, devices, sites, cabinets, site_values, actor, result, dry_run, progress):
    # Sites first: every device row refers to one.
    for code, vals in site_values.items():
        site = sites.get(code)
        if site is None:
            result.sites_created += 1
            if not dry_run:
                site = Site(code=code, **{"key_site": False, **vals})
                session.add(site)
                sites[code] = site
                audit.record(session, actor, "site_created", "site", code,
                             summary=Msg("%(code)s %(name)s (import)", code=code, name=vals.get("name", "")),
                             after=vals)
            continue
        before = site_snapshot(site)
        b, a = audit.diff(before, {**before, **vals})
        if a:
            result.sites_updated += 1
            if not dry_run:
                for f, v in vals.items():
                    setattr(site, f, v)
                audit.record(session, actor, "site_updated", "site", code,
                             summary=Msg("%(code)s: %(fields)s (import)", code=code, fields=", ".join(a)),
                             before=b, after=a)
    if not dry_run:
        session.flush()
    pending_parent: list[tuple[Device, str]] = []
    now = utcnow()
    total = len(rows)
    for n, r in enumerate(rows, 1):
        device = devices.get(r.code)
        vals = dict(r.device)
        vals.pop("site_code", None)
        parent_code = vals.pop("parent_code", None)
        cabinet_code = vals.pop("cabinet_code", None)
        if device is None:
            result.created += 1
            if not dry_run:
                device = Device(code=r.code, site=sites[r.site_code], status=DeviceStatus.UNKNOWN.value,
                                lifecycle=Lifecycle.INSTALLED.value)
                service_day = vals.pop("in_service_from", None)
                for f, v in vals.items():
                    setattr(device, f, v)
                if device.lifecycle in IN_SERVICE_STATES:
                    # Taking over a running fleet: its uptime counts from the in-service date, else the install
                    # date — not from the moment of the import.
                    device.in_service_from = _local_midnight(service_day or device.installed_on) or now
                elif service_day is not None:
                    device.in_service_from = _local_midnight(service_day)
                if device.lifecycle == Lifecycle.RETIRED.value:
                    device.retired_at = now
                if cabinet_code:
                    device.cabinet = _cabinet(session, cabinets, cabinet_code, sites[r.site_code])
                session.add(device)
                devices[r.code] = device
                if parent_code:
                    pending_parent.append((device, parent_code))
                audit.record(session, actor, "device_created", "device", r.code,
                             summary=Msg("%(code)s %(name)s (import)", code=r.code, name=vals.get("name", "")),
                             after={"site_code": r.site_code, **vals, "parent_code": parent_code or "",
                                    "cabinet_code": cabinet_code or ""}, secret_fields=SECRET_FIELDS)
        else:
            before = device_snapshot(device)
            wanted = {**before, **vals, "site_code": r.site_code}
            if parent_code is not None:
                wanted["parent_code"] = parent_code
            if cabinet_code is not None:
                wanted["cabinet_code"] = cabinet_code
            b, a = audit.diff(before, wanted)
            if not a:
                result.unchanged += 1
            else:
                result.updated += 1
                if not dry_run:
                    _update_device(session, device, a, sites, cabinets, pending_parent, now)
                    audit.record(session, actor, "device_updated", "device", r.code,
                                 summary=Msg("%(code)s: %(fields)s (import)", code=r.code, fields=", ".join(a)),
                                 before=b, after=a, secret_fields=SECRET_FIELDS)
        if progress and (n % 200 == 0 or n == total):
            progress(n, total)
    if dry_run:
        return
    # Parents as objects before the one flush: the unit of work inserts parents first (no UPDATE per row).
    for device, code in pending_parent:
        device.parent = devices[code] if code else None
    session.flush()


def _update_device(session, device, changes, sites, cabinets, pending_parent, now):
    if "ip_address" in changes and changes["ip_address"]:
        # Two devices may swap addresses in one file; free the address first so the unique index holds.
        holder = session.scalar(select(Device).where(Device.ip_address == changes["ip_address"]))
        if holder is not None and holder is not device:
            holder.ip_address = None
            session.flush()
    for f, v in changes.items():
        if f == "site_code":
            device.site = sites[v]
        elif f == "cabinet_code":
            device.cabinet = _cabinet(session, cabinets, v, sites[changes.get("site_code", device.site.code)]) if v else None
        elif f == "parent_code":
            pending_parent.append((device, v))
        elif f == "lifecycle":
            device.retired_at = now if v == Lifecycle.RETIRED.value else None
            device.lifecycle = v
            if v in IN_SERVICE_STATES and device.in_service_from is None and "in_service_from" not in changes:
                device.in_service_from = now  # accepted into service by this import
        elif f == "in_service_from":
            device.in_service_from = _local_midnight(v)
        else:
            setattr(device, f, v)


def _local_midnight(day):
    """A local date → its local midnight as an aware datetime (None stays None)."""
    if day is None:
        return None
    return datetime.combine(day, time(0), tzinfo=clock.local_zone())


def _cabinet(session, cabinets, code, site) -> Cabinet:
    cab = cabinets.get(code)
    if cab is None:
        cab = Cabinet(code=code, site=site)
        session.add(cab)
        cabinets[code] = cab
    return cab
