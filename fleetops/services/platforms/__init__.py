"""Data links to the police platforms (U7): connectors that pull pass-record counts per camera from the integrated
command platform's HTTP JSON endpoint on a schedule into the PassCount store (monitoring.detectors), so "online but
no data" does not depend on someone pushing counts.

connectors  the connector settings as data (URL, credentials encrypted, field mapping), edited by admins, audited
pull        one pull: allow-list check, HTTP GET, JSON → rows by the mapping, per-camera validation, store; the job
"""
from fleetops.services.platforms.connectors import (  # noqa: F401
    connector_form, ensure_simulated_connector, get_connector, list_connectors, save_connector,
)
from fleetops.services.platforms.pull import job_platform_pull, pull_connector, pull_due  # noqa: F401
