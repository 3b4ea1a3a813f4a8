"""Transitional: the monitoring ingest and poll moved to `fleetops.services.monitoring`.

Only re-exports, so other areas' `from fleetops.services import polling` keeps working until the merge
updates them; delete this module when nothing imports it.
"""
from fleetops.services.monitoring import (  # noqa: F401
    IngestConfig, IngestSummary, ingest_results, parse_result, poll_once, prune_results, sample_online_rate,
)
