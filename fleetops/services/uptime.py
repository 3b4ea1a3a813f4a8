"""Transitional: the uptime figures, outage causes and status queries moved to `fleetops.services.monitoring`.

Only re-exports, so other areas' `from fleetops.services import uptime` keeps working until the merge
updates them; delete this module when nothing imports it.
"""
from fleetops.services.monitoring import (  # noqa: F401
    GROUPS, UptimeRow, fleet_status, online_rate_series, open_incidents, open_outages, outage_dict,
    outages_between, period_bounds, set_outage_cause, set_site_incident_cause, target_pct, uptime_rows,
)
