"""Monitoring (U1–U6): probe results in, outages, status intervals, site incidents and uptime out.

Modules, one concern each:
  settings      IngestConfig, IngestSummary and the helpers every step shares
  parse         one result checked (BadResult says why); a failed probe's reason kept as a stored Msg
  ingest        ingest_results — the one path every result enters by (poll, file, API)
  recompute     runs the steps below for the devices a batch touched, then emits the events
    batch, state, outages, intervals, reboots_hung, flapping, incidents, device_status
  poll          poll_once — probe every due device, then ingest
  upkeep        sample_online_rate, prune_results
  jobs          the scheduled jobs (wired in fleetops.wiring)
  uptime        the SQL uptime (raw and contractual), periods, the target parameter
  causes        outage and site-incident causes, with evidence files
  queries       what pages, API and CLI read

The names other areas use are re-exported here: `from fleetops.services import monitoring`.
"""
from fleetops.services.monitoring.causes import set_outage_cause, set_site_incident_cause
from fleetops.services.monitoring.ingest import UNKNOWN_DEVICE, ingest_results
from fleetops.services.monitoring.parse import BadResult, parse_result
from fleetops.services.monitoring.poll import poll_once
from fleetops.services.monitoring.queries import (
    fleet_status, online_rate_series, open_incidents, open_outages, outage_dict, outages_between,
)
from fleetops.services.monitoring.settings import IngestConfig, IngestSummary
from fleetops.services.monitoring.upkeep import prune_results, sample_online_rate
from fleetops.services.monitoring.uptime import (
    GROUPS, PARAMETERS, UptimeRow, period_bounds, target_pct, uptime_rows,
)

__all__ = [
    "BadResult", "GROUPS", "UNKNOWN_DEVICE", "IngestConfig", "IngestSummary", "PARAMETERS", "UptimeRow", "fleet_status",
    "ingest_results", "online_rate_series", "open_incidents", "open_outages", "outage_dict", "outages_between",
    "parse_result", "period_bounds", "poll_once", "prune_results", "sample_online_rate", "set_outage_cause",
    "set_site_incident_cause", "target_pct", "uptime_rows",
]
