"""Sites and devices as plain dicts: what the audit log stores, what forms edit, what the API returns."""
from fleetops.models import Device, Site
from fleetops.platform import clock
from fleetops.services.inventory.parsers import SECRET_FIELDS, SITE_FIELDS


def device_snapshot(device: Device) -> dict:
    """The device's editable fields as plain values (codes for references), secrets included — redact before showing."""
    return {
        "name": device.name, "kind": device.kind, "site_code": device.site.code if device.site else "",
        "cabinet_code": device.cabinet.code if device.cabinet else "",
        "parent_code": device.parent.code if device.parent else "", "vendor": device.vendor,
        "model": device.model, "serial": device.serial, "ip_address": device.ip_address,
        "lifecycle": device.lifecycle, "installed_on": device.installed_on,
        "liveness_probe": device.liveness_probe, "snmp_version": device.snmp_version,
        "snmp_port": device.snmp_port, "snmp_community": device.snmp_community,
        "snmp_v3_user": device.snmp_v3_user, "snmp_v3_auth_protocol": device.snmp_v3_auth_protocol,
        "snmp_v3_auth_key": device.snmp_v3_auth_key, "snmp_v3_priv_protocol": device.snmp_v3_priv_protocol,
        "snmp_v3_priv_key": device.snmp_v3_priv_key, "snapshot_url": device.snapshot_url,
        "snapshot_username": device.snapshot_username, "snapshot_password": device.snapshot_password,
        "notes": device.notes, "in_service_from": in_service_date(device),
    }


def in_service_date(device: Device):
    """The local date the device entered service (None when it has not)."""
    at = clock.to_local(device.in_service_from)
    return at.date() if at is not None else None


def site_snapshot(site: Site) -> dict:
    return {f: getattr(site, f) for f in SITE_FIELDS}


def public_device(device: Device) -> dict:
    """The device as shown to people and API clients: no secrets, only whether each is set."""
    snap = device_snapshot(device)
    for f in SECRET_FIELDS:
        snap.pop(f)
    snap.update(code=device.code, id=device.id, status=device.status, version=device.version,
                status_since=device.status_since, last_seen_at=device.last_seen_at,
                retired_at=device.retired_at, secrets_set=secrets_set(device))
    return snap


def public_site(site: Site) -> dict:
    out = site_snapshot(site)
    out.update(code=site.code, id=site.id, version=site.version,
               depot=site.depot.name if site.depot else None, timezone=site.timezone)
    return out


def secrets_set(device: Device) -> list[str]:
    """The names of the secret fields that hold a value (never the values)."""
    return [f for f in SECRET_FIELDS if getattr(device, f)]


def device_form_data(device: Device) -> dict:
    """The edit form's initial values: every editable field as text, secrets left empty (write-only)."""
    data = {k: ("" if v is None else str(v)) for k, v in device_snapshot(device).items() if k not in SECRET_FIELDS}
    return {**data, "version": str(device.version)}


def site_form_data(site: Site) -> dict:
    """The site edit form's initial values (coordinates exactly as stored)."""
    data = {k: ("" if v is None else v) for k, v in site_snapshot(site).items()}
    data["latitude"], data["longitude"] = repr(site.latitude), repr(site.longitude)
    data["road_distance_km"] = "" if site.road_distance_km is None else repr(site.road_distance_km)
    return {**data, "depot": site.depot.name if site.depot else "", "version": str(site.version)}
