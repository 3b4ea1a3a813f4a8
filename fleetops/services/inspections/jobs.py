"""The scheduled inspection job (listed in fleetops.wiring.JOBS): generate the current periods' orders, then
announce newly overdue ones."""
from __future__ import annotations

import logging

from fleetops.services.inspections.generate import generate_due
from fleetops.services.inspections.overdue import check_overdue

log = logging.getLogger(__name__)


def job_inspections(ctx) -> None:
    """Every 10 minutes: a new period's orders appear within minutes of its start (local midnight)."""
    with ctx.session(write=True) as s:
        made = generate_due(s)
        overdue = check_overdue(s)
    log.info("job=inspections created=%d existing=%d overdue_groups=%d", made["created"], made["existing"], overdue)
