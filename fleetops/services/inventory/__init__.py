"""Inventory: sites, cabinets and devices — field parsing, edits (audited), lists, spreadsheet import and
export (F6), the demo fleet. One module per concern:

parsers      text a person typed → typed values; messages as Msg
records      sites and devices as dicts (audit snapshots, API bodies, form data)
devices      get_device (the one look-up other areas use), save_device, retire_device
sites        get_site, save_site
queries      paged lists, details and small reads for pages, API and commands
columns      the spreadsheet's columns (Chinese/English headers and aliases)
spreadsheet  reading CSV/XLSX bytes into numbered rows
import_check every problem of a file as (line, column, reason)
import_      the all-or-nothing import
uploads      the import page's check-then-confirm file handling
export       XLSX/CSV export that imports back unchanged
demo         the generated Karamay demo fleet
(certificates: F5 metrology certificates, owned by the alerts area)

The names below are re-exported so `from fleetops.services import inventory; inventory.get_device(...)` works.
"""
from fleetops.services.inventory.demo import record_simulated_ports
from fleetops.services.inventory.devices import get_device, retire_device, save_device
from fleetops.services.inventory.service_periods import history as service_history
from fleetops.services.inventory.export import export_inventory
from fleetops.services.inventory.import_ import import_inventory
from fleetops.services.inventory.parsers import (
    AUTH_PROTOCOLS, DEVICE_FIELDS, PRIV_PROTOCOLS, SECRET_FIELDS, SITE_FIELDS, check_device_rules, parse_bool,
    parse_code, parse_date, parse_ip, parse_kind, parse_latitude, parse_longitude, parse_port, parse_snmp_version,
    parse_url,
)
from fleetops.services.inventory.queries import (
    Page, child_devices, depot_names, device_count, districts, list_devices, list_sites, site_detail,
    snapshot_credentials,
)
from fleetops.services.inventory.records import (
    device_form_data, device_snapshot, public_device, public_site, secrets_set, site_form_data, site_snapshot,
)
from fleetops.services.inventory.sites import NEW_DISTRICT, get_site, save_site

__all__ = [
    "AUTH_PROTOCOLS", "DEVICE_FIELDS", "NEW_DISTRICT", "PRIV_PROTOCOLS", "SECRET_FIELDS", "SITE_FIELDS", "Page",
    "check_device_rules", "child_devices", "depot_names", "device_count", "device_form_data", "device_snapshot",
    "districts", "export_inventory", "get_device", "get_site", "import_inventory", "list_devices", "list_sites",
    "parse_bool", "parse_code", "parse_date", "parse_ip", "parse_kind", "parse_latitude", "parse_longitude",
    "parse_port", "parse_snmp_version", "parse_url", "public_device", "public_site", "record_simulated_ports",
    "retire_device",
    "save_device", "save_site", "secrets_set", "service_history", "site_detail", "site_form_data", "site_snapshot",
    "snapshot_credentials",
]
