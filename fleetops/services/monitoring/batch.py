"""The working state of one recompute: the devices a batch touched, their new rows, and what changed so far.

Each step of the recompute (`state`, `outages`, `intervals`, `reboots_hung`, `flapping`, `incidents`,
`device_status`) reads and adds to one `Batch`; `recompute.recompute` runs them in order and emits the events.
"""
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy.orm import Session

from fleetops.models.monitoring import DeviceEvent, Outage
from fleetops.services.monitoring.settings import IngestConfig, IngestSummary


class Dev(NamedTuple):
    """The columns of a Device the recompute reads (one query for the whole batch). A named tuple: 100,000 of them
    are made per cycle at 100,000 devices, five times faster than a frozen dataclass's field-by-field __init__."""

    id: int
    code: str
    kind: str
    site_id: int
    liveness_probe: str
    snmp_version: str
    status: str
    status_since: datetime | None
    last_seen_at: datetime | None


@dataclass
class Batch:
    s: Session
    cfg: IngestConfig
    now: datetime
    devices: dict[int, Dev]
    new_rows: dict[int, dict[str, list[dict]]]  # device → probe → new rows
    summary: IngestSummary
    opened: list[Outage] = field(default_factory=list)
    closed: list[Outage] = field(default_factory=list)
    changed_sites: dict[int, datetime] = field(default_factory=dict)  # site → earliest changed outage time
    open_run: dict[int, Outage | None] = field(default_factory=dict)
    open_hung: dict[int, DeviceEvent | None] = field(default_factory=dict)
    last_end: dict[int, datetime] = field(default_factory=dict)
    pending_events: list[tuple[str, dict]] = field(default_factory=list)
    late_incidents: set = field(default_factory=set)  # new site incidents that had ended before the cutoff

    @property
    def late_cutoff(self) -> datetime:
        """What ended before this arrived as history: recorded, marked imported late, announced to no one."""
        return self.now - timedelta(hours=float(self.cfg.late_after_h if self.cfg.late_after_h is not None else 48))

    def is_late(self, ended_at: datetime | None) -> bool:
        return ended_at is not None and ended_at < self.late_cutoff

    def site_changed(self, site_id: int, at: datetime) -> None:
        prev = self.changed_sites.get(site_id)
        self.changed_sites[site_id] = at if prev is None else min(prev, at)
