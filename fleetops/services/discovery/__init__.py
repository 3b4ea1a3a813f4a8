"""Finding unmanaged and never-online devices (issue 12 part 2, F4).

- `sweep`    allowed ranges only, SNMP + ICMP probing, classification, saved sweeps, the scheduler's job
- `guess`    vendor by enterprise OID, kind by sysDescr words, record contradictions (data: signatures.json)
- `adopt`    an unmanaged address into the inventory in one step
- `queries`  sweeps and rows for the page, the CLI and the API
"""
from fleetops.services.discovery.adopt import add_to_inventory  # noqa: F401
from fleetops.services.discovery.queries import get_result, get_sweep, list_sweeps, sweep_progress  # noqa: F401
from fleetops.services.discovery.sweep import (  # noqa: F401
    PARAMETERS, RANGES, STATUSES, check_networks, classify, create_sweep, district_schedule, job_discovery, json_row, probe_addresses,
    queue_due_districts, run_sweep,
)
